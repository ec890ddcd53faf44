import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { defaultInstance } from '../../src/config/index.js';
import {
  EXAMPLES,
  POLICIES,
  SERVERS,
  eventually,
  nodeServer,
  startWarden,
  textOf,
  type RunningWarden,
} from '../helpers/warden.js';

// One Warden in front of: our recording fixture (faulty), two example servers (ci, payments), and
// server-everything over stdio with a prefix. Policy: test/fixtures/policies/core.
describe('warden serve (stdio): relay and policy', () => {
  let w: RunningWarden;

  beforeAll(async () => {
    w = await startWarden({
      mcpServers: {
        faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG'),
        ci: nodeServer(join(EXAMPLES, 'ci.js'), '$CALL_LOG'),
        payments: nodeServer(join(EXAMPLES, 'payments.js'), '$CALL_LOG'),
        everything: {
          command: process.execPath,
          args: [join(process.cwd(), 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
          prefix: 'everything_',
        },
      },
      policy: { bundle: join(POLICIES, 'core') },
      identity: { sub: 'alice', roles: ['developer'] },
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  test('aggregates tools/list across servers, with the prefix, relaying descriptors untouched', async () => {
    const { tools } = await w.client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'echo',
        'structured',
        'run_tests',
        'deploy_to_production',
        'fraud_check',
        'everything_echo',
      ]),
    );
    expect(names).not.toContain('everything_structured');
    const structured = tools.find((t) => t.name === 'structured')!;
    expect(structured.title).toBeTruthy();
    expect(structured.icons).toEqual([{ src: 'https://example.com/i.png', mimeType: 'image/png' }]);
    expect(structured.annotations).toMatchObject({ readOnlyHint: true });
    expect(structured._meta).toEqual({ 'example.com/owner': 'qa' });
    expect(structured.outputSchema).toMatchObject({ type: 'object' });
    expect(tools.find((t) => t.name === 'deploy_to_production')!.annotations).toMatchObject({ destructiveHint: true });
  });

  test('relays an allowed call faithfully: content, structuredContent, _meta', async () => {
    const echo = await w.client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    expect(textOf(echo)).toBe('hello');
    expect(echo._meta).toEqual({ 'example.com/trace': 't-1' });
    expect(echo.isError).toBeFalsy();
    const structured = await w.client.callTool({ name: 'structured', arguments: { value: 'abc' } });
    expect(structured.structuredContent).toEqual({ value: 'abc', length: 3 });
    const everything = await w.client.callTool({ name: 'everything_echo', arguments: { message: 'via prefix' } });
    expect(textOf(everything)).toContain('via prefix');
  });

  test('relays isError results as they are, and records outcome error', async () => {
    const failed = await w.client.callTool({ name: 'fail', arguments: { message: 'boom' } });
    expect(failed.isError).toBe(true);
    expect(textOf(failed)).toBe('boom');
  });

  test('a denied call returns isError with the reasons and never reaches the server', async () => {
    const before = w.executed().filter((c) => c.tool === 'echo').length;
    const denied = await w.client.callTool({ name: 'echo', arguments: { message: 'forbidden' } });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toContain('echo must not say forbidden');
    expect(textOf(denied)).toContain('core.no_forbidden_echo');
    expect((denied._meta as Record<string, { decision_id: string }>)['mcp-warden.dev/decision']!.decision_id).toMatch(
      /^[0-9a-f-]{36}$/,
    );
    // The server recorded every call it executed: the forbidden one is not among them.
    const echoes = w.executed().filter((c) => c.tool === 'echo');
    expect(echoes.length).toBe(before);
    expect(echoes.map((c) => c.arguments['message'])).not.toContain('forbidden');
  });

  test('order rule, then must-succeed reading a failed earlier outcome, then success', async () => {
    const first = await w.client.callTool({ name: 'deploy_to_production', arguments: { service: 'api' } });
    expect(first.isError).toBe(true);
    expect(textOf(first)).toContain('run_tests must be called before deploy_to_production');

    const failingTests = await w.client.callTool({ name: 'run_tests', arguments: { service: 'flaky-api' } });
    expect(failingTests.isError).toBe(true);
    const second = await w.client.callTool({ name: 'deploy_to_production', arguments: { service: 'api' } });
    expect(second.isError).toBe(true);
    expect(textOf(second)).toContain('run_tests last ended error');

    const passing = await w.client.callTool({ name: 'run_tests', arguments: { service: 'api' } });
    expect(passing.isError).toBeFalsy();
    const third = await w.client.callTool({ name: 'deploy_to_production', arguments: { service: 'api' } });
    expect(third.isError).toBeFalsy();
    expect(w.executed().filter((c) => c.tool === 'deploy_to_production')).toHaveLength(1);
  });

  test('argument correlation on a previous structuredContent', async () => {
    const risky = await w.client.callTool({ name: 'fraud_check', arguments: { payment_id: 'p-1', amount: 50000 } });
    expect((risky.structuredContent as { decision: string }).decision).toBe('reject');
    const blocked = await w.client.callTool({
      name: 'payment_processing',
      arguments: { payment_id: 'p-1', amount: 50000 },
    });
    expect(textOf(blocked)).toContain('no approving fraud_check for payment p-1');

    await w.client.callTool({ name: 'fraud_check', arguments: { payment_id: 'p-2', amount: 20 } });
    // An approving check for p-2 does not cover p-1.
    const stillBlocked = await w.client.callTool({
      name: 'payment_processing',
      arguments: { payment_id: 'p-1', amount: 50000 },
    });
    expect(stillBlocked.isError).toBe(true);
    const paid = await w.client.callTool({ name: 'payment_processing', arguments: { payment_id: 'p-2', amount: 20 } });
    expect(paid.isError).toBeFalsy();
    expect(
      w
        .executed()
        .filter((c) => c.tool === 'payment_processing')
        .map((c) => c.arguments['payment_id']),
    ).toEqual(['p-2']);
  });

  test('writes one decision-log line per decision in OPA shape', async () => {
    await w.client.callTool({ name: 'echo', arguments: { message: 'logged' } });
    const event = await eventually(() =>
      w
        .decisions()
        .find((d) => (d['input'] as { call: { arguments: { message?: string } } }).call.arguments.message === 'logged'),
    );
    expect(event).toMatchObject({
      path: 'mcp/decision',
      result: { allow: true, reasons: [] },
      // No instance configured: the replica is named after the host, the same on every restart.
      labels: { version: expect.any(String), id: defaultInstance(hostname()) },
      custom: { mode: 'enforce', allow: true },
    });
    expect(event['decision_id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.values(event['bundles'] as Record<string, { revision: string }>)[0]!.revision).toMatch(/^sha256:/);
    expect(Date.parse(event['timestamp'] as string)).not.toBeNaN();
    expect((event['metrics'] as Record<string, number>)['timer_rego_query_eval_ns']).toBeGreaterThan(0);
    const input = event['input'] as Record<string, any>;
    expect(input['version']).toBe(1);
    expect(input['principal']).toMatchObject({ sub: 'alice', roles: ['developer'] });
    expect(input['session'].client).toEqual({ name: 'warden-e2e', version: '1.0.0' });
    expect(input['call']).toMatchObject({ kind: 'tool', server: 'faulty', tool: 'echo', name: 'echo' });
    // History holds the earlier calls with outcomes; summary counts them per tool.
    const history = input['history'] as { name: string; outcome: string; seq: number }[];
    expect(history.map((h) => h.seq)).toEqual(history.map((_h, i) => i + 1));
    expect(history.find((h) => h.name === 'fail')!.outcome).toBe('error');
    expect(history.find((h) => h.name === 'echo' && h.outcome === 'denied')).toBeTruthy();
    expect(input['summary']['run_tests']).toMatchObject({
      calls: 2,
      successes: 1,
      failures: 1,
      denied: 0,
      last_outcome: 'success',
    });
    expect(input['summary']['deploy_to_production']).toMatchObject({ calls: 3, denied: 2, successes: 1 });

    const denial = w.decisions().find((d) => (d['custom'] as { allow: boolean }).allow === false)!;
    expect((denial['result'] as { allow: boolean }).allow).toBe(false);
  });

  test('unknown tools and malformed requests get JSON-RPC errors, and Warden keeps serving', async () => {
    await expect(w.client.callTool({ name: 'no_such_tool', arguments: {} })).rejects.toThrow(
      /Unknown tool: no_such_tool/,
    );
    await expect(
      w.client.request({ method: 'tools/call', params: { arguments: {} } } as never, CallToolResultSchema),
    ).rejects.toThrow(/params.name/);
    await expect(
      w.client.request({ method: 'no/such/method', params: {} } as never, CallToolResultSchema),
    ).rejects.toThrow(/Method not found/);
    const ok = await w.client.callTool({ name: 'echo', arguments: { message: 'still here' } });
    expect(textOf(ok)).toBe('still here');
  });

  test('a JSON-RPC error thrown by the tool is relayed with its own code and message', async () => {
    const err = await w.client
      .callTool({ name: 'throws', arguments: { message: 'kaput', code: -32050, data: { why: 'test' } } })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: -32050, data: { why: 'test' } });
    expect((err as Error).message).toBe('MCP error -32050: kaput');
  });
});
