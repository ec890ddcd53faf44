// Resumable SSE streams for handshake-era clients (2025-11-25, SEP-1699): a priming event with an
// id and `retry` first; with http.sse.pollAfterMs a long call's stream is closed, and the client
// resumes it with Last-Event-ID and receives the result. Real HTTP, the real SDK client.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { POLICIES, SERVERS, nodeServer, textOf } from '../helpers/warden.js';
import { MCP_HEADERS, connectHttp, rawRequest, startHttpWarden, type InProcessWarden } from '../helpers/http.js';
import { ReplayBuffer } from '../../src/http/replay-buffer.js';

const VERSION = '2025-11-25';

interface SseEvent {
  id?: string;
  retry?: number;
  data: string;
}

function sseEvents(body: string): SseEvent[] {
  return body
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event: SseEvent = { data: '' };
      for (const line of block.split('\n')) {
        const [field, ...rest] = line.split(':');
        const value = rest.join(':').trimStart();
        if (field === 'id') event.id = value;
        if (field === 'retry') event.retry = Number(value);
        if (field === 'data') event.data += value;
      }
      return event;
    });
}

async function openSession(url: string): Promise<Record<string, string>> {
  const init = await rawRequest(`${url}/mcp`, {
    method: 'POST',
    headers: MCP_HEADERS,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
  expect(init.status).toBe(200);
  const headers = {
    ...MCP_HEADERS,
    'mcp-session-id': init.headers['mcp-session-id'] as string,
    'mcp-protocol-version': VERSION,
  };
  await rawRequest(`${url}/mcp`, {
    method: 'POST',
    headers,
    body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  });
  return headers;
}

const sleepCall = (id: number, ms: number): string =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'sleep', arguments: { ms } } });

describe('HTTP front: resumable SSE streams (SEP-1699)', () => {
  let w: InProcessWarden;

  beforeAll(async () => {
    w = await startHttpWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'allow-all') },
      audit: { store: 'memory:' },
      http: { sse: { retryMs: 50, pollAfterMs: 300 } },
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  test('a quick call: the priming event (id, retry, empty data) first, then the result on the same stream', async () => {
    const headers = await openSession(w.url);
    const res = await rawRequest(`${w.url}/mcp`, { method: 'POST', headers, body: sleepCall(2, 0) });
    const events = sseEvents(res.body);
    expect(events[0]).toMatchObject({ retry: 50, data: '' });
    expect(events[0]!.id).toMatch(/^\d+\./);
    const answer = JSON.parse(events[1]!.data) as { id: number; result: { content: { text: string }[] } };
    expect(answer).toMatchObject({ id: 2, result: { content: [{ text: 'slept 0 ms' }] } });
  });

  test('a long call: its stream closes after pollAfterMs, and resuming with Last-Event-ID delivers the result', async () => {
    const headers = await openSession(w.url);
    const first = await rawRequest(`${w.url}/mcp`, { method: 'POST', headers, body: sleepCall(3, 1500) });
    const primed = sseEvents(first.body);
    // Closed before the call returned: only the priming event came.
    expect(primed.map((e) => e.data)).toEqual(['']);
    const resumed = await rawRequest(`${w.url}/mcp`, {
      method: 'GET',
      headers: { ...headers, accept: 'text/event-stream', 'last-event-id': primed[0]!.id! },
    });
    expect(resumed.status).toBe(200);
    const answers = sseEvents(resumed.body)
      .filter((e) => e.data !== '')
      .map((e) => JSON.parse(e.data) as { id?: number; result?: unknown });
    expect(answers.find((a) => a.id === 3)).toMatchObject({ result: { content: [{ text: 'slept 1500 ms' }] } });
  });

  test('resuming from an event this session does not hold is refused (400)', async () => {
    const headers = await openSession(w.url);
    const res = await rawRequest(`${w.url}/mcp`, {
      method: 'GET',
      headers: { ...headers, accept: 'text/event-stream', 'last-event-id': '999999.not-a-stream' },
    });
    expect(res.status).toBe(400);
  });

  test('the SDK client rides through the closed stream: it resumes by itself and gets the result', async () => {
    const { client } = await connectHttp(w.url);
    try {
      const result = await client.callTool({ name: 'sleep', arguments: { ms: 1200 } });
      expect(textOf(result)).toBe('slept 1200 ms');
    } finally {
      await client.close();
    }
  });
});

describe('ReplayBuffer', () => {
  const message = (n: number) => ({ jsonrpc: '2.0' as const, method: 'notifications/message', params: { n } });

  test('replays what followed an event on its own stream, in order', async () => {
    const buffer = new ReplayBuffer(1 << 20);
    const a1 = await buffer.storeEvent('a', message(1));
    await buffer.storeEvent('b', message(2));
    await buffer.storeEvent('a', message(3));
    await buffer.storeEvent('a', message(4));
    const sent: unknown[] = [];
    const stream = await buffer.replayEventsAfter(a1, { send: async (_id, m) => void sent.push(m) });
    expect(stream).toBe('a');
    expect(sent).toEqual([message(3), message(4)]);
    expect(await buffer.getStreamIdForEventId(a1)).toBe('a');
  });

  test('keeps at most maxBytes, dropping the oldest first, but always the newest event', async () => {
    const one = JSON.stringify(message(1)).length;
    const buffer = new ReplayBuffer(one * 2);
    const first = await buffer.storeEvent('a', message(1));
    await buffer.storeEvent('a', message(2));
    const third = await buffer.storeEvent('a', message(3));
    expect(buffer.size).toBe(one * 2);
    expect(await buffer.getStreamIdForEventId(first)).toBeUndefined();
    expect(await buffer.getStreamIdForEventId(third)).toBe('a');
    const tiny = new ReplayBuffer(1);
    const only = await tiny.storeEvent('a', message(1));
    expect(await tiny.getStreamIdForEventId(only)).toBe('a');
  });
});
