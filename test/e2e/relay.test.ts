import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { OrderedTransport } from '../../src/downstream/index.js';
import {
  FIXTURES,
  POLICIES,
  ROOT,
  SERVERS,
  eventually,
  nodeServer,
  startWarden,
  textOf,
  type RunningWarden,
} from '../helpers/warden.js';

const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');

// Everything the protocol carries besides tool calls, relayed both ways through Warden (stdio front,
// stdio servers behind): server-everything (prefixed ev_), the conformance fixture, and faulty.
describe('faithful relay (stdio front)', () => {
  let w: RunningWarden;
  const logs: { level: string; data: unknown }[] = [];
  const notifications: string[] = [];
  const elicitations: unknown[] = [];

  beforeAll(async () => {
    w = await startWarden(
      {
        mcpServers: {
          everything: { command: process.execPath, args: [EVERYTHING, 'stdio'], prefix: 'ev_' },
          conformance: { command: process.execPath, args: [join(FIXTURES, 'conformance/server.mjs'), '--stdio'] },
          faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG'),
        },
        policy: { bundle: join(POLICIES, 'core') },
      },
      {
        capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } },
        // The SDK client drops a progress notification read in the same chunk as the response
        // (its notification handlers run a microtask later). Warden fixes that on its downstream
        // side with OrderedTransport; this client needs the same fix to count every update.
        wrapTransport: (t) => new OrderedTransport(t),
      },
    );
    const c = w.client;
    c.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
      model: 'test-model',
      role: 'assistant',
      content: { type: 'text', text: `sampled: ${JSON.stringify(request.params.messages[0]?.content)}` },
    }));
    c.setRequestHandler(ElicitRequestSchema, async (request) => {
      elicitations.push(request.params);
      return { action: 'accept', content: { name: 'Ada', confirmed: true, username: 'ada', email: 'ada@example.com' } };
    });
    c.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: [{ uri: 'file:///work/project', name: 'project' }],
    }));
    c.setNotificationHandler(
      LoggingMessageNotificationSchema,
      (n) => void logs.push({ level: n.params.level, data: n.params.data }),
    );
    c.setNotificationHandler(ToolListChangedNotificationSchema, () => void notifications.push('tools'));
    c.setNotificationHandler(ResourceListChangedNotificationSchema, () => void notifications.push('resources'));
  });
  afterAll(async () => {
    await w?.close();
  });

  test('initialize: Warden offers the union of what the servers offer', () => {
    const caps = w.client.getServerCapabilities()!;
    expect(caps.tools).toBeTruthy();
    expect(caps.resources).toMatchObject({ subscribe: true, listChanged: true });
    expect(caps.prompts).toBeTruthy();
    expect(caps.completions).toBeTruthy();
    expect(caps.logging).toBeTruthy();
    expect(w.client.getServerVersion()!.name).toBe('mcp-warden');
  });

  test('ping', async () => {
    await expect(w.client.ping()).resolves.toBeTruthy();
  });

  test('resources: list across servers with cursors, templates, read, denied read', async () => {
    const first = await w.client.listResources();
    expect(first.resources.map((r) => r.uri)).toContain('demo://resource/static/document/architecture.md');
    expect(first.nextCursor).toBeTruthy();
    const second = await w.client.listResources({ cursor: first.nextCursor! });
    expect(second.resources.map((r) => r.uri)).toContain('test://static-text');
    expect(second.nextCursor).toBeUndefined();
    const templates: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await w.client.listResourceTemplates(cursor ? { cursor } : {});
      templates.push(...page.resourceTemplates.map((t) => t.uriTemplate));
      cursor = page.nextCursor;
    } while (cursor);
    expect(templates).toEqual(
      expect.arrayContaining(['demo://resource/dynamic/text/{resourceId}', 'test://template/{id}/data']),
    );

    const doc = await w.client.readResource({ uri: 'demo://resource/static/document/architecture.md' });
    expect(JSON.stringify(doc.contents)).toContain('architecture');
    const templated = await w.client.readResource({ uri: 'test://template/42/data' });
    expect(JSON.stringify(templated.contents)).toContain('42');
    await expect(w.client.readResource({ uri: 'demo://resource/static/document/extension.md' })).rejects.toMatchObject({
      code: -32003,
      message: expect.stringContaining('the extension document is restricted'),
    });
    await expect(w.client.readResource({ uri: 'nowhere://x' })).rejects.toMatchObject({ code: -32002 });
    const logged = await eventually(() =>
      w
        .decisions()
        .find((d) => (d['input'] as { call: { kind: string; uri?: string } }).call.uri?.endsWith('extension.md')),
    );
    expect((logged['input'] as { call: Record<string, unknown> }).call).toMatchObject({
      kind: 'resource',
      server: 'everything',
    });
  });

  test('resources: subscribe, updated notifications, unsubscribe', async () => {
    const updated: string[] = [];
    const { ResourceUpdatedNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
    w.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updated.push(n.params.uri));
    await w.client.subscribeResource({ uri: 'demo://resource/static/document/architecture.md' });
    await w.client.callTool({ name: 'ev_toggle-subscriber-updates', arguments: {} });
    await eventually(() => updated.includes('demo://resource/static/document/architecture.md'), 12_000);
    await w.client.callTool({ name: 'ev_toggle-subscriber-updates', arguments: {} });
    await w.client.unsubscribeResource({ uri: 'demo://resource/static/document/architecture.md' });
  });

  test('prompts: list with prefix, get, denied get, completion', async () => {
    const prompts: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await w.client.listPrompts(cursor ? { cursor } : {});
      prompts.push(...page.prompts.map((p) => p.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(prompts).toEqual(expect.arrayContaining(['ev_simple-prompt', 'ev_args-prompt', 'test_simple_prompt']));
    const got = await w.client.getPrompt({ name: 'ev_args-prompt', arguments: { city: 'Paris', state: 'IDF' } });
    expect(JSON.stringify(got.messages)).toContain('Paris');
    await expect(w.client.getPrompt({ name: 'ev_args-prompt', arguments: { city: 'Atlantis' } })).rejects.toMatchObject(
      { code: -32003, message: expect.stringContaining('Atlantis are restricted') },
    );
    const completion = await w.client.complete({
      ref: { type: 'ref/prompt', name: 'ev_completable-prompt' },
      argument: { name: 'department', value: 'E' },
    });
    expect(completion.completion.values.length).toBeGreaterThan(0);
  });

  test('logging: setLevel is forwarded and messages are relayed', async () => {
    await w.client.setLoggingLevel('debug');
    await w.client.callTool({ name: 'test_tool_with_logging', arguments: {} });
    await eventually(() => logs.length >= 1);
    expect(logs.some((l) => typeof l.data === 'string' || typeof l.data === 'object')).toBe(true);
  });

  test('sampling, elicitation and roots requests from servers reach the client', async () => {
    const sampled = await w.client.callTool({
      name: 'ev_trigger-sampling-request',
      arguments: { prompt: 'hello there', maxTokens: 20 },
    });
    expect(textOf(sampled)).toContain('sampled:');
    const elicited = await w.client.callTool({ name: 'ev_trigger-elicitation-request', arguments: {} });
    expect(elicitations.length).toBe(1);
    expect(textOf(elicited)).toMatch(/accept/i);
    const roots = await w.client.callTool({ name: 'ev_get-roots-list', arguments: {} });
    expect(textOf(roots)).toContain('file:///work/project');
  });

  test("progress arrives under the client's own token", async () => {
    const seen: number[] = [];
    const result = await w.client.callTool(
      { name: 'ev_trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
      undefined,
      {
        onprogress: (p) => void seen.push(p.progress),
      },
    );
    expect(result.isError).toBeFalsy();
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  test('cancellation reaches the downstream server', async () => {
    const controller = new AbortController();
    const pending = w.client.callTool({ name: 'sleep', arguments: { ms: 10_000 } }, undefined, {
      signal: controller.signal,
    });
    await eventually(() => w.executed().find((c) => c.tool === 'sleep'));
    controller.abort('test cancels');
    await expect(pending).rejects.toThrow();
    await eventually(() => w.executed().find((c) => (c as { event?: string }).event === 'cancelled'));
  });

  test('tools/list_changed: re-aggregated and relayed', async () => {
    await w.client.callTool({ name: 'grow', arguments: { name: 'grown_tool' } });
    await eventually(() => notifications.includes('tools'));
    const { tools } = await w.client.listTools();
    expect(tools.map((t) => t.name)).toContain('grown_tool');
    const called = await w.client.callTool({ name: 'grown_tool', arguments: { message: 'hi' } });
    expect(textOf(called)).toBe('grown_tool: hi');
  });
});
