// Replay rebuilds each recorded session with the core Session, approvals included: an approval is
// bound to its call and used up when the call ran, exactly as live.
import { beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import {
  approvalAnswered,
  callCompleted,
  callDecided,
  callForwarded,
  callReceived,
  type AuditEvent,
  type CallDecidedData,
} from '../../src/audit/index.js';
import { PolicyEngine } from '../../src/policy/index.js';
import { compileDirectory } from '../../src/bundles/index.js';
import { replayRecords } from '../../src/reports/index.js';
import { POLICIES } from '../helpers/warden.js';
import { at, opened, stored, T0 } from './helpers.js';

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await PolicyEngine.load(await compileDirectory(join(POLICIES, 'approval'), 'mcp/decision'), 'mcp/decision');
});

const HOLD = { approval: { required: true, approvers: ['approver'] } };
const S = 's-1';

const received = (id: string, s: number): AuditEvent =>
  callReceived(
    S,
    {
      call_id: id,
      kind: 'tool',
      server: 'faulty',
      tool: 'echo',
      name: 'echo',
      arguments: { message: `approve-me ${id}` },
      annotations: {},
      now_ms: T0 + s * 1000,
    },
    at(s),
  );
const decided = (id: string, decision: string, s: number, fields: Partial<CallDecidedData>): AuditEvent =>
  callDecided(
    S,
    {
      call_id: id,
      decision_id: decision,
      allow: true,
      policy_allow: true,
      reasons: [],
      monitored: [],
      obligations: {},
      revision: 'r',
      mode: 'enforce',
      now_ms: T0 + s * 1000,
      ...fields,
    },
    at(s),
  );
const answered = (id: string, s: number, outcome: 'approved' | 'declined'): AuditEvent =>
  approvalAnswered(S, { call_id: id, outcome, by: 'bob', via: 'admin', comment: null }, at(s));

describe('replayRecords and approvals', () => {
  test('an approved call and one held while it ran downstream replay as recorded: no change', async () => {
    const records = await stored([
      opened(S, 0, 'alice', ['approver']),
      received('c1', 1),
      decided('c1', 'c1', 1, { allow: false, held: true, obligations: HOLD }),
      answered('c1', 2, 'approved'),
      decided('c1', 'd1', 3, {}),
      callForwarded(S, { call_id: 'c1', server: 'faulty' }, at(3)),
      // c2 arrives while c1 still runs: c1's approval is used up, so c2 is held again.
      received('c2', 4),
      decided('c2', 'c2', 4, { allow: false, held: true, obligations: HOLD }),
      callCompleted(
        S,
        { call_id: 'c1', outcome: 'success', duration_ms: 3000, result_digest: 'sha256:0', result: { content: [] } },
        at(6),
      ),
      answered('c2', 7, 'declined'),
    ]);
    const session = { historyWindow: 100, resultMaxChars: 100 };
    const report = await replayRecords(records, { policy: engine, session });
    expect(report.decisions).toBe(3);
    expect(report.changes).toEqual([]);
  });
});
