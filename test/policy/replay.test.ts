// Replay rebuilds each recorded session with the core Session, approvals included: an approval is
// bound to its call and used up when the trail says the call was forwarded, exactly as live.
import { beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { compileDirectory, PolicyEngine, replayRecords, type RecordedEvent } from '../../src/policy/index.js';
import { POLICIES } from '../helpers/warden.js';

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await PolicyEngine.load(await compileDirectory(join(POLICIES, 'approval'), 'mcp/decision'), 'mcp/decision');
});

const HOLD = { approval: { required: true, approvers: ['approver'] } };

type Event = [type: string, data: Record<string, unknown>];

/** Records as the pipeline writes them, one second apart. */
function trail(events: Event[]): RecordedEvent[] {
  return events.map(([type, data], i) => ({
    seq: i + 1, at: new Date(Date.UTC(2026, 10, 25, 10, 0, i)).toISOString(), type, session_id: 's-1', data,
  }));
}

const received = (id: string): Event => [
  'call.received',
  { call_id: id, server: 'faulty', tool: 'echo', name: 'echo', arguments: { message: `approve-me ${id}` } },
];
const decided = (id: string, decision: string, allow: boolean, obligations = {}): Event => [
  'call.decided',
  {
    call_id: id, decision_id: decision, allow, policy_allow: true, reasons: [], obligations, mode: 'enforce',
    ...(allow ? {} : { held: true }),
  },
];

describe('replayRecords and approvals', () => {
  test('an approved call and one held while it ran downstream replay as recorded: no change', async () => {
    const records = trail([
      ['session.opened', { principal: { sub: 'alice', roles: ['approver'], claims: {} } }],
      received('c1'),
      decided('c1', 'c1', false, HOLD),
      ['approval.granted', { call_id: 'c1', outcome: 'approved', by: 'bob', via: 'admin' }],
      decided('c1', 'd1', true),
      ['call.forwarded', { call_id: 'c1', server: 'faulty' }],
      // c2 arrives while c1 still runs: c1's approval is used up, so c2 is held again.
      received('c2'),
      decided('c2', 'c2', false, HOLD),
      ['call.completed', { call_id: 'c1', outcome: 'success', duration_ms: 3000, result: { content: [] } }],
      ['approval.denied', { call_id: 'c2', outcome: 'declined', by: 'bob', via: 'admin' }],
    ]);
    const session = { historyWindow: 100, resultMaxChars: 100 };
    const report = await replayRecords(records, { policy: engine, session });
    expect(report.decisions).toBe(3);
    expect(report.changes).toEqual([]);
  });
});
