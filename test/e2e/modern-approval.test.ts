// Approval with 2026-07-28 clients: a held call is answered with an input_required result whose
// elicitation asks the person; its requestState is sealed by Warden to the call and the principal,
// and expires. The retry needs no memory of the first round, so a second Warden process sharing
// approval.stateKey accepts it. Real HTTP Wardens, the v2 SDK client, raw requests for tampering.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { POLICIES, SERVERS, nodeServer, textOf } from '../helpers/warden.js';
import {
  MCP_HEADERS,
  rawRequest,
  rpcMessage,
  spawnHttpWarden,
  startHttpWarden,
  type InProcessWarden,
  type SpawnedWarden,
  type WardenFiles,
} from '../helpers/http.js';

const MODERN = '2026-07-28';
const APPROVAL = 'mcp-warden.dev/approval';
const STATE_KEY = 'test-state-key-0123456789abcdef-0123456789';
// The fixture policy: echo of a message starting "approve-me" needs an approver; self-approver may
// approve their own call.
const PEOPLE = {
  dana: { token: 'dana-token-0123456789ab', sub: 'dana', roles: ['approver', 'self-approver'] },
  eve: { token: 'eve-token-0123456789abc', sub: 'eve', roles: ['approver', 'self-approver'] },
} as const;
type Who = keyof typeof PEOPLE;

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
    policy: { bundle: join(POLICIES, 'approval') },
    auth: { type: 'bearer', tokens: Object.values(PEOPLE).map((p) => ({ ...p, roles: [...p.roles] })) },
    approval: { timeoutMs: 20_000, stateKey: STATE_KEY, ...extra },
  };
}

type AnyWarden = WardenFiles & { url: string };
const wardens: InProcessWarden[] = [];
let w: InProcessWarden;
/** Another OS process: it shares only the key with `w`, no memory of the first round. */
let second: SpawnedWarden;
beforeAll(async () => {
  w = await startHttpWarden(config());
  wardens.push(w);
  second = await spawnHttpWarden(config());
});
afterAll(async () => {
  await Promise.all([...wardens.map((x) => x.close()), second?.stop()]);
});

const echoed = (x: AnyWarden): unknown[] =>
  x
    .executed()
    .filter((c) => c.tool === 'echo')
    .map((c) => c.arguments['message']);

async function modernClient(
  x: InProcessWarden,
  who: Who,
  answer: { action: string; content?: Record<string, unknown> },
): Promise<{ client: Client; asked: string[] }> {
  const asked: string[] = [];
  const transport = new StreamableHTTPClientTransport(new URL(`${x.url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${PEOPLE[who].token}` } },
  });
  const client = new Client(
    { name: `modern-${who}`, version: '2.4.0' },
    { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: MODERN } } },
  );
  client.setRequestHandler('elicitation/create', async (request) => {
    asked.push(String((request.params as { message?: string }).message));
    return answer as never;
  });
  await client.connect(transport);
  return { client, asked };
}

/** One raw tools/call of echo; `retry` carries requestState and inputResponses. */
async function rawEcho(
  x: AnyWarden,
  who: Who,
  message: string,
  retry?: { requestState: string; answer?: Record<string, unknown> },
): Promise<{ status: number; msg: Record<string, unknown> }> {
  const params = {
    name: 'echo',
    arguments: { message },
    _meta: {
      'io.modelcontextprotocol/protocolVersion': MODERN,
      'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
    },
    ...(retry
      ? {
          requestState: retry.requestState,
          inputResponses: { [APPROVAL]: retry.answer ?? { action: 'accept', content: {} } },
        }
      : {}),
  };
  const res = await rawRequest(`${x.url}/mcp`, {
    method: 'POST',
    headers: {
      ...MCP_HEADERS,
      authorization: `Bearer ${PEOPLE[who].token}`,
      'mcp-protocol-version': MODERN,
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params }),
  });
  return { status: res.status, msg: rpcMessage(res) };
}

async function firstRound(x: AnyWarden, who: Who, message: string): Promise<string> {
  const { msg } = await rawEcho(x, who, message);
  const result = msg['result'] as Record<string, unknown>;
  expect(result['resultType']).toBe('input_required');
  const requests = result['inputRequests'] as Record<string, { method: string; params: { message: string } }>;
  expect(requests[APPROVAL]!.method).toBe('elicitation/create');
  expect(requests[APPROVAL]!.params.message).toMatch(new RegExp(`^Approve echo \\(message="${message}"\\)`));
  expect(typeof result['requestState']).toBe('string');
  return result['requestState'] as string;
}

function refusal(msg: Record<string, unknown>): { code: number; message: string } {
  expect(msg['result']).toBeUndefined();
  return msg['error'] as { code: number; message: string };
}

describe('approval through input_required (2026-07-28 clients)', () => {
  test('accept: the v2 client is asked, answers, retries, and the call runs once', async () => {
    const { client, asked } = await modernClient(w, 'dana', { action: 'accept', content: { comment: 'ok' } });
    try {
      const result = await client.callTool({ name: 'echo', arguments: { message: 'approve-me accept' } });
      expect(result.isError).toBeFalsy();
      expect(textOf(result)).toBe('approve-me accept');
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatch(/^Approve echo \(message="approve-me accept"\) on faulty\?/);
      expect(echoed(w).filter((m) => m === 'approve-me accept')).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  test('decline: the call is denied and never runs', async () => {
    const { client, asked } = await modernClient(w, 'dana', { action: 'decline' });
    try {
      const result = await client.callTool({ name: 'echo', arguments: { message: 'approve-me decline' } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/declined/);
      expect(asked).toHaveLength(1);
      expect(echoed(w)).not.toContain('approve-me decline');
    } finally {
      await client.close();
    }
  });

  test('a tampered requestState is refused and nothing runs', async () => {
    const state = await firstRound(w, 'dana', 'approve-me tamper');
    const i = state.length - 5;
    const tampered = state.slice(0, i) + (state[i] === 'A' ? 'B' : 'A') + state.slice(i + 1);
    const { msg } = await rawEcho(w, 'dana', 'approve-me tamper', { requestState: tampered });
    expect(refusal(msg).code).toBe(-32602);
    expect(echoed(w)).not.toContain('approve-me tamper');
  });

  test('a state replayed on another call (other arguments) is refused', async () => {
    const state = await firstRound(w, 'dana', 'approve-me one');
    const { msg } = await rawEcho(w, 'dana', 'approve-me two', { requestState: state });
    const error = refusal(msg);
    expect(error.code).toBe(-32602);
    expect(error.message).toMatch(/issued for another call/);
    expect(echoed(w)).not.toContain('approve-me two');
  });

  test("another principal cannot use someone's state", async () => {
    const state = await firstRound(w, 'dana', 'approve-me theirs');
    const { msg } = await rawEcho(w, 'eve', 'approve-me theirs', { requestState: state });
    expect(refusal(msg).code).toBe(-32602);
    expect(echoed(w)).not.toContain('approve-me theirs');
  });

  test('the retry lands on a second Warden process sharing approval.stateKey, and runs there', async () => {
    const state = await firstRound(w, 'dana', 'approve-me elsewhere');
    const { msg } = await rawEcho(second, 'dana', 'approve-me elsewhere', { requestState: state });
    const result = msg['result'] as { isError?: boolean; content: { text: string }[] };
    expect(result.isError).toBeFalsy();
    expect(result.content[0]!.text).toBe('approve-me elsewhere');
    expect(echoed(second)).toContain('approve-me elsewhere');
    expect(echoed(w)).not.toContain('approve-me elsewhere');
  });

  test('an expired state is refused', async () => {
    const short = await startHttpWarden(config({ timeoutMs: 1000 }));
    wardens.push(short);
    const state = await firstRound(short, 'dana', 'approve-me late');
    await new Promise((r) => setTimeout(r, 2200));
    const { msg } = await rawEcho(short, 'dana', 'approve-me late', { requestState: state });
    expect(refusal(msg).code).toBe(-32602);
    expect(echoed(short)).not.toContain('approve-me late');
  });
});
