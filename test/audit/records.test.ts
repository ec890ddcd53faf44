// The record model: typed constructors, and readRecord, the one place that reads stored records of
// any version (test/fixtures/audit/ holds trails written by real Warden processes of two versions).
import { describe, expect, test } from 'vitest';
import {
  approvalAnswered,
  readRecord,
  sessionOpened,
  verifyChain,
  type AuditRecord,
  type ReadRecord,
} from '../../src/audit/index.js';
import { fixtureTrail } from './helpers/fixtures.js';

const AT = '2025-03-01T10:00:00.000Z';
const AT_MS = Date.parse(AT);
const ALICE = { sub: 'alice', roles: [], claims: {} };
const raw = (type: string, data: Record<string, unknown>): AuditRecord => ({
  seq: 7,
  at: AT,
  type,
  session_id: 's-1',
  data,
  prev_hash: 'p',
  hash: 'h',
});

describe('typed constructors', () => {
  test.each([
    ['approved', 'approval.granted'],
    ['timed_out', 'approval.timed_out'],
    ['declined', 'approval.denied'],
    ['cancelled', 'approval.denied'],
    ['unavailable', 'approval.denied'],
  ] as const)('an approval answered %s is recorded as %s', (outcome, type) => {
    const data = { call_id: 'c', outcome, by: null, via: null, comment: null };
    expect(approvalAnswered('s', data, AT)).toEqual({ type, session_id: 's', at: AT, data });
  });
});

describe('session.opened: the replica that served the session', () => {
  const opened = { client: { name: 'c', version: '1' }, principal: ALICE, started_at: AT };

  test('is recorded and read back as written', () => {
    const event = sessionOpened('s-1', { ...opened, instance: 'eu-2' }, AT);
    expect(event.data.instance).toBe('eu-2');
    const r = readRecord({ ...raw('session.opened', event.data) });
    expect(r.data).toStrictEqual({ ...opened, instance: 'eu-2' });
    expect(r.legacy).toBeUndefined();
  });

  test('a record from before replicas were named has no instance, and is not filled in', () => {
    const r = readRecord(raw('session.opened', opened));
    expect(r.data).toStrictEqual(opened);
    expect(r.legacy).toBeUndefined();
  });
});

describe('readRecord: older shapes are read in one place', () => {
  const deployed = { call_id: 'c1', kind: 'tool', server: 'ci', tool: 'deploy', name: 'deploy', arguments: {} };
  const resource = { call_id: 'c1', kind: 'resource', server: 'docs', tool: 'file:///a', uri: 'file:///a' };
  const decision = { call_id: 'c1', decision_id: 'd1', obligations: {}, revision: 'r', mode: 'enforce' };

  // [case, stored type, stored data, what the model reads, the fields it filled in]
  test.each<[string, string, Record<string, unknown>, Partial<ReadRecord>, string[] | undefined]>([
    [
      'call.received before annotations and now_ms (Warden before cf199c1)',
      'call.received',
      deployed,
      { type: 'call.received', data: { ...deployed, kind: 'tool', annotations: {}, now_ms: AT_MS } },
      ['annotations', 'now_ms'],
    ],
    [
      'call.received with a tool but no name, and a uri',
      'call.received',
      { ...resource, arguments: {}, annotations: {}, now_ms: 5 },
      { data: { ...resource, kind: 'resource', name: 'file:///a', arguments: {}, annotations: {}, now_ms: 5 } },
      ['name'],
    ],
    [
      'call.decided with a boolean monitored and a phantom enforced (what the old test fixture wrote)',
      'call.decided',
      { ...decision, allow: true, reasons: [], monitored: false, enforced: true },
      {
        data: { ...decision, allow: true, policy_allow: true, reasons: [], monitored: [], now_ms: AT_MS },
      },
      ['policy_allow', 'monitored', 'now_ms'],
    ],
    [
      'call.decided with bare-string reasons and a string error',
      'call.decided',
      { ...decision, allow: false, policy_allow: false, reasons: ['nope'], monitored: [], now_ms: 1, error: 'failed' },
      {
        data: expect.objectContaining({
          reasons: [{ rule: '', message: 'nope' }],
          error: { code: 'policy_error', message: 'failed' },
        }) as never,
      },
      undefined,
    ],
    [
      'approval.granted without its outcome',
      'approval.granted',
      { call_id: 'c1', by: 'bob', comment: 'ok' },
      { type: 'approval.granted', data: { call_id: 'c1', outcome: 'approved', by: 'bob', via: null, comment: 'ok' } },
      ['outcome'],
    ],
    [
      'session.opened before started_at, with a bare principal',
      'session.opened',
      { client: { name: 'c', version: '1' }, principal: 'alice' },
      {
        data: { client: { name: 'c', version: '1' }, principal: ALICE, started_at: AT },
      },
      ['started_at'],
    ],
    [
      'a type this version does not know',
      'call.inspected',
      { call_id: 'c1', verdict: 'fine' },
      {
        type: 'unknown',
        stored_type: 'call.inspected',
        data: { call_id: 'c1', verdict: 'fine' },
        problem: 'record type "call.inspected" is not one this version of Warden knows',
      },
      undefined,
    ],
    [
      'a call record without call_id',
      'call.received',
      { tool: 'run', arguments: {} },
      { type: 'unknown', stored_type: 'call.received', problem: 'a call.received record without call_id' },
      undefined,
    ],
  ])('%s', (_name, type, data, expected, legacy) => {
    const r = readRecord(raw(type, data));
    expect(r).toMatchObject({ seq: 7, at: AT, session_id: 's-1', prev_hash: 'p', hash: 'h', ...expected });
    expect(r.legacy).toEqual(legacy);
  });

  test("today's trail (the demo, then a monitor-mode session) verifies and reads back unchanged", async () => {
    const records = fixtureTrail('trail-2026-12.jsonl');
    expect(await verifyChain(records)).toMatchObject({ ok: true, count: 125, first_seq: 1, last_seq: 125 });
    const types = new Set<string>();
    for (const r of records) {
      const read = readRecord(r);
      types.add(read.type);
      expect(read.legacy, `seq ${r.seq}`).toBeUndefined();
      expect(read).toEqual(r);
    }
    expect([...types].sort()).toEqual([
      'approval.denied',
      'approval.granted',
      'approval.requested',
      'call.completed',
      'call.decided',
      'call.forwarded',
      'call.received',
      'session.closed',
      'session.opened',
    ]);
  });

  test('an older trail (4c08e55) verifies; only annotations, now_ms and started_at are filled in', async () => {
    const records = fixtureTrail('trail-2026-11.jsonl');
    expect(await verifyChain(records)).toMatchObject({ ok: true, count: 103 });
    const filled = new Map<string, Set<string>>();
    for (const r of records) {
      const read = readRecord(r);
      expect(read.type).toBe(r.type);
      for (const field of read.legacy ?? []) filled.set(r.type, new Set([...(filled.get(r.type) ?? []), field]));
      // Apart from what it filled in, the record reads as stored.
      expect(read.data).toMatchObject(r.data);
    }
    expect(Object.fromEntries([...filled].map(([type, fields]) => [type, [...fields].sort()]))).toEqual({
      'session.opened': ['started_at'],
      'call.received': ['annotations', 'now_ms'],
      'call.decided': ['now_ms'],
    });
  });
});
