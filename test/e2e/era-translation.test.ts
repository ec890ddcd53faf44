// Both eras downstream, and the translation between them. Behind Warden: the conformance fixture
// (speaks both eras, so Warden reaches it in 2026-07-28, learned by server/discover) and faulty.js
// (v1 SDK: handshake era only). In front: the v1 SDK client over stdio (handshake era) and the v2
// SDK client pinned to 2026-07-28 over HTTP. Each of elicitation, sampling and roots asked by a
// downstream tool reaches the client and its answer comes back into the tool's result.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Client as ModernClient, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { FIXTURE_SERVER } from '../conformance/run-suite.js';
import { rpcMessage, startHttpWarden, type InProcessWarden } from '../helpers/http.js';
import { envelope, modernPost } from '../helpers/modern.js';
import {
  POLICIES,
  SERVERS,
  eventually,
  nodeServer,
  startWarden,
  textOf,
  type RunningWarden,
} from '../helpers/warden.js';

const MODERN = '2026-07-28';
const ROOT_URI = 'file:///srv/era-translation';
const PEOPLE = {
  alice: { token: 'alice-token-0123456789ab', sub: 'alice', roles: ['developer'] },
  bob: { token: 'bob-token-0123456789abcd', sub: 'bob', roles: ['developer'] },
} as const;

function servers(): Record<string, unknown> {
  return {
    conformance: { command: process.execPath, args: [FIXTURE_SERVER, '--stdio'] },
    faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG'),
  };
}

/** What a client answers, and what it was asked (method: message or prompt). */
function answers(asked: string[]) {
  return {
    elicit: (params: { message?: string; requestedSchema?: { properties?: Record<string, unknown> } }) => {
      asked.push(`elicitation: ${params.message}`);
      const field = Object.keys(params.requestedSchema?.properties ?? {})[0] ?? 'name';
      return { action: 'accept', content: { [field]: field === 'color' ? 'blue' : 'Alice' } };
    },
    sample: (params: { messages?: { content?: { text?: string } }[] }) => {
      asked.push(`sampling: ${params.messages?.[0]?.content?.text}`);
      return {
        role: 'assistant',
        content: { type: 'text', text: 'Paris' },
        model: 'test-model',
        stopReason: 'endTurn',
      };
    },
    roots: () => {
      asked.push('roots');
      return { roots: [{ uri: ROOT_URI, name: 'era' }] };
    },
  };
}

/** The rows of the matrix: a tool, what the client is asked, and what the result says. */
const MATRIX = [
  ['test_input_required_result_elicitation', ['elicitation: What is your name?'], 'Hello, Alice!'],
  ['test_input_required_result_sampling', ['sampling: What is the capital of France?'], 'Sampling said: Paris'],
  ['test_input_required_result_list_roots', ['roots'], `Roots: ${ROOT_URI}`],
  [
    'test_input_required_result_multi_round',
    ['elicitation: Step 1: What is your name?', 'elicitation: Step 2: What is your favorite color?'],
    'Alice likes blue',
  ],
  [
    'test_input_required_result_multiple_inputs',
    ['elicitation: What is your name?', 'sampling: Generate a greeting', 'roots'],
    'Hello, Alice: Paris (1 roots)',
  ],
] as const;

describe('a handshake-era client (v1 SDK, stdio) and a 2026-07-28 server', () => {
  let w: RunningWarden;
  const asked: string[] = [];

  beforeAll(async () => {
    w = await startWarden(
      { mcpServers: servers(), policy: { bundle: join(POLICIES, 'allow-all') } },
      { capabilities: { elicitation: {}, sampling: {}, roots: {} } },
    );
    const answer = answers(asked);
    w.client.setRequestHandler(ElicitRequestSchema, (r) => answer.elicit(r.params as never) as never);
    w.client.setRequestHandler(CreateMessageRequestSchema, (r) => answer.sample(r.params as never) as never);
    w.client.setRequestHandler(ListRootsRequestSchema, () => answer.roots() as never);
  });
  afterAll(async () => {
    await w?.close();
  });

  test('each server is reached in its own era', async () => {
    await eventually(() => w.stderr().includes('downstream server speaks 2026-07-28'));
    const modern = w
      .stderr()
      .split('\n')
      .filter((l) => l.includes('downstream server speaks 2026-07-28'))
      .map((l) => (JSON.parse(l) as { server: string }).server);
    expect([...new Set(modern)]).toEqual(['conformance']);
    // The handshake-era server still answers through the same session.
    expect(textOf(await w.client.callTool({ name: 'echo', arguments: { message: 'hi' } }))).toContain('hi');
  });

  test.each(MATRIX)('%s: input_required becomes requests to the client', async (tool, questions, text) => {
    asked.length = 0;
    const result = await w.client.callTool({ name: tool, arguments: {} });
    expect(asked).toEqual(questions);
    expect(textOf(result)).toBe(text);
  });

  test('progress from a 2026-07-28 server reaches the client under its own token', async () => {
    const progress: number[] = [];
    const result = await w.client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(textOf(result)).toBe('Progress tool completed');
    expect(progress).toEqual([0, 50, 100]);
  });
});

describe('a 2026-07-28 client (v2 SDK, HTTP) and a 2026-07-28 server', () => {
  let w: InProcessWarden;
  let client: ModernClient;
  const asked: string[] = [];

  beforeAll(async () => {
    w = await startHttpWarden({
      mcpServers: servers(),
      policy: { bundle: join(POLICIES, 'allow-all') },
      audit: { store: 'memory:' },
      auth: { type: 'bearer', tokens: Object.values(PEOPLE).map((p) => ({ ...p, roles: [...p.roles] })) },
    });
    const transport = new StreamableHTTPClientTransport(new URL(`${w.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${PEOPLE.alice.token}` } },
    });
    client = new ModernClient(
      { name: 'era-modern', version: '2.4.0' },
      { capabilities: { elicitation: {}, sampling: {}, roots: {} }, versionNegotiation: { mode: { pin: MODERN } } },
    );
    const answer = answers(asked);
    client.setRequestHandler('elicitation/create', async (r) => answer.elicit(r.params as never) as never);
    client.setRequestHandler('sampling/createMessage', async (r) => answer.sample(r.params as never) as never);
    client.setRequestHandler('roots/list', async () => answer.roots() as never);
    await client.connect(transport);
  });
  afterAll(async () => {
    await client?.close();
    await w?.close();
  });

  test.each(MATRIX)('%s: the rounds go to the client and back', async (tool, questions, text) => {
    asked.length = 0;
    const result = await client.callTool({ name: tool, arguments: {} });
    // The v2 client answers a round's requests in parallel: the order is not the protocol's.
    expect([...asked].sort()).toEqual([...questions].sort());
    expect(textOf(result)).toBe(text);
  });

  test("a downstream server's requestState is sealed to the principal who was asked", async () => {
    const call = (who: keyof typeof PEOPLE, extra: Record<string, unknown> = {}) =>
      modernPost(w.url, PEOPLE[who].token, {
        id: 7,
        method: 'tools/call',
        params: {
          name: 'test_input_required_result_request_state',
          arguments: {},
          _meta: envelope({ 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } }),
          ...extra,
        },
      });
    const first = rpcMessage(await call('alice'))['result'] as { resultType: string; requestState: string };
    expect(first.resultType).toBe('input_required');
    const retry = { inputResponses: { confirm: { action: 'accept', content: { ok: true } } } };

    // Bob echoes Alice's state: refused before anything runs.
    const replayed = rpcMessage(await call('bob', { ...retry, requestState: first.requestState }));
    expect((replayed['error'] as { code: number }).code).toBe(-32602);
    // A state that is not Warden's (the downstream's own, or a forged one) is refused alike.
    const forged = rpcMessage(await call('alice', { ...retry, requestState: `${first.requestState}x` }));
    expect((forged['error'] as { code: number }).code).toBe(-32602);
    // Alice's own retry reaches the server with its state unsealed: it verifies it and completes.
    const done = rpcMessage(await call('alice', { ...retry, requestState: first.requestState }));
    expect(textOf(done['result'])).toBe('state-ok: confirmed=true');
  });
});
