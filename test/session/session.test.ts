import { describe, expect, test } from 'vitest';
import { Session, argumentsDigest, summarizeResult, type Approval } from '../../src/session/index.js';

const call = (name: string, args: Record<string, unknown> = {}) => ({
  kind: 'tool' as const,
  server: 's',
  tool: name,
  name,
  arguments: args,
  annotations: {},
});
const principal = { sub: 'alice', roles: ['dev'], claims: {} };
const approval = (tool: string, args: Record<string, unknown>, callId: string): Approval => ({
  tool,
  by: 'bob',
  at: '2026-01-01T00:00:04.000Z',
  call_id: callId,
  arguments_digest: argumentsDigest(args),
  principal: 'alice',
});

describe('Session', () => {
  test('builds input document v1 with history, per-tool summary and approvals', () => {
    const s = new Session(
      'sid',
      principal,
      '2026-01-01T00:00:00.000Z',
      { historyWindow: 10, resultMaxChars: 100 },
      { name: 'c', version: '1' },
    );
    s.record(
      call('run_tests'),
      'allow',
      'error',
      { isError: true, content: [{ type: 'text', text: 'failed' }] },
      1000,
      5,
    );
    s.record(call('run_tests'), 'allow', 'success', { structuredContent: { passed: 3 } }, 2000, 7.4);
    s.record(call('deploy'), 'deny', 'denied', null, 3000, 0);
    s.approve(approval('deploy', { service: 'api' }, 'c-4'));
    const input = s.buildInput(call('deploy', { service: 'api' }), 5000, 'c-4');
    expect(input).toMatchObject({
      version: 1,
      call: { id: 'c-4', name: 'deploy', arguments: { service: 'api' } },
      session: { id: 'sid', client: { name: 'c', version: '1' }, started_at: '2026-01-01T00:00:00.000Z' },
      principal,
      approvals: [{ tool: 'deploy', by: 'bob' }],
      now: '1970-01-01T00:00:05.000Z',
      now_ms: 5000,
    });
    expect(input.history.map((h) => [h.seq, h.name, h.decision, h.outcome, h.result])).toEqual([
      [1, 'run_tests', 'allow', 'error', 'failed'],
      [2, 'run_tests', 'allow', 'success', { passed: 3 }],
      [3, 'deploy', 'deny', 'denied', null],
    ]);
    expect(input.history[1]).toMatchObject({ at: '1970-01-01T00:00:02.000Z', at_ms: 2000, duration_ms: 7 });
    expect(input.summary).toEqual({
      run_tests: {
        calls: 2,
        successes: 1,
        failures: 1,
        denied: 0,
        last_outcome: 'success',
        first_seq: 1,
        last_seq: 2,
        last_success_seq: 2,
        last_failure_seq: 1,
      },
      deploy: {
        calls: 1,
        successes: 0,
        failures: 0,
        denied: 1,
        last_outcome: 'denied',
        first_seq: 3,
        last_seq: 3,
        last_denied_seq: 3,
      },
    });
  });

  test('an input document is a snapshot: calls recorded after it was built do not change it', () => {
    // The policy answers asynchronously (in its worker): an input waiting for it, or for the
    // decision log, must stay what it was when the call was decided.
    const s = new Session('sid', principal, 'x', { historyWindow: 10, resultMaxChars: 10 });
    s.record(call('run_tests'), 'allow', 'error', null, 1, 0);
    const before = s.buildInput(call('deploy'), 2);
    const copy = structuredClone(before);
    s.record(call('run_tests'), 'allow', 'success', null, 3, 0);
    s.record(call('deploy'), 'deny', 'denied', null, 4, 0);
    expect(before).toEqual(copy);
    expect(before.summary['run_tests']).toMatchObject({ calls: 1, last_outcome: 'error' });
    expect(s.buildInput(call('deploy'), 5).summary['run_tests']).toMatchObject({ calls: 2, last_outcome: 'success' });
  });

  test('an approval is seen only by its own call, used up when forwarded, and lapses if the call is denied', () => {
    const s = new Session('sid', principal, 'x', { historyWindow: 10, resultMaxChars: 100 });
    const api = call('deploy', { service: 'api' });
    const web = call('deploy', { service: 'web' });
    s.approve(approval('deploy', { service: 'api' }, 'c-1'));
    const seen = (c: ReturnType<typeof call>, id: string): string[] =>
      s.buildInput(c, 1, id).approvals.map((a) => a.call_id);
    expect(seen(api, 'c-1')).toEqual(['c-1']);
    expect(seen(api, 'c-2')).toEqual([]); // another call with the same arguments
    expect(seen(web, 'c-1')).toEqual([]); // the same id with other arguments (digest differs)
    expect(seen(call('other', { service: 'api' }), 'c-1')).toEqual([]);
    expect(s.buildInput(api, 1).approvals).toEqual([]);

    // Forwarded: used up at once; while the call runs, nobody (itself included) sees it.
    expect(s.consume('c-1')).toMatchObject({ call_id: 'c-1' });
    expect(s.consume('c-1')).toBeUndefined();
    expect(seen(api, 'c-1')).toEqual([]);
    expect(seen(api, 'c-2')).toEqual([]);
    // Its outcome recorded: listed for later calls as the approval of a call that ran.
    s.record(api, 'allow', 'success', null, 2, 1, 'c-1');
    expect(seen(api, 'c-2')).toEqual(['c-1']);

    // Denied when decided again after approval: the approval lapses, nothing spare is left.
    s.approve(approval('deploy', { service: 'web' }, 'c-3'));
    expect(seen(web, 'c-3')).toEqual(['c-1', 'c-3']);
    s.record(web, 'deny', 'denied', null, 3, 0, 'c-3');
    expect(seen(web, 'c-3')).toEqual(['c-1']);
    expect(s.consume('c-3')).toBeUndefined();
  });

  test("an approval names its principal; one for another principal is not this session's", () => {
    const s = new Session('sid', principal, 'x', { historyWindow: 10, resultMaxChars: 100 });
    s.approve({ ...approval('deploy', {}, 'c-1'), principal: 'mallory' });
    expect(s.buildInput(call('deploy'), 1, 'c-1').approvals).toEqual([]);
  });

  test('argumentsDigest: canonical (key order does not matter), keeps every key, tolerates lone surrogates', () => {
    const digest = argumentsDigest({ b: 1, a: { d: [1, 'x'], c: null } });
    expect(digest).toBe(argumentsDigest({ a: { c: null, d: [1, 'x'] }, b: 1 }));
    expect(argumentsDigest({ a: 1 })).not.toBe(argumentsDigest({ a: '1' }));
    expect(argumentsDigest(JSON.parse('{"__proto__": {"x": 1}}'))).not.toBe(argumentsDigest({}));
    expect(argumentsDigest({ s: '\ud800' })).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
  });

  test('history is windowed; summary stays complete', () => {
    const s = new Session('sid', principal, 'x', { historyWindow: 3, resultMaxChars: 10 });
    for (let i = 0; i < 5000; i++) s.record(call(i % 2 ? 'a' : 'b'), 'allow', 'success', null, i, 0);
    const input = s.buildInput(call('a'), 10_000);
    expect(input.history.map((h) => h.seq)).toEqual([4998, 4999, 5000]);
    expect(input.summary['a']!.calls + input.summary['b']!.calls).toBe(5000);
    const none = new Session('sid', principal, 'x', { historyWindow: 0, resultMaxChars: 10 });
    none.record(call('a'), 'allow', 'success', null, 0, 0);
    expect(none.buildInput(call('a'), 1).history).toEqual([]);
  });

  test('results: structuredContent wins, text is joined and cut with a marker', () => {
    expect(summarizeResult({ structuredContent: { a: 1 }, content: [{ type: 'text', text: 'x' }] }, 5)).toEqual({
      a: 1,
    });
    expect(
      summarizeResult(
        {
          content: [
            { type: 'text', text: 'hello' },
            { type: 'image', data: '' },
            { type: 'text', text: 'world' },
          ],
        },
        100,
      ),
    ).toBe('hello\nworld');
    expect(summarizeResult({ content: [{ type: 'text', text: 'abcdefghij' }] }, 4)).toBe('abcd…[cut 6 chars]');
    expect(summarizeResult(undefined, 4)).toBeNull();
  });
});
