// Trails for the reports' direct tests, built with the record model's constructors (the ones the
// pipeline uses) and stored in a real in-memory store, so that they are hashed and read back as
// any trail is.
import {
  approvalAnswered,
  approvalRequested,
  callCompleted,
  callDecided,
  callForwarded,
  callReceived,
  openAuditStore,
  sessionClosed,
  sessionOpened,
  type ApprovalAnswer,
  type AuditEvent,
  type AuditRecord,
  type CallDecidedData,
  type RecordedReason,
} from '../../src/audit/index.js';
import { received } from '../audit/helpers/fixtures.js';

export { fixtureTrail } from '../audit/helpers/fixtures.js';

export const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

/** The ISO time `s` seconds after T0. */
export const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

/** Appends the events to a fresh memory store and returns the stored records. */
export async function stored(events: AuditEvent[]): Promise<AuditRecord[]> {
  const store = await openAuditStore('memory:');
  try {
    for (const e of events) await store.append(e);
    return await store.read({});
  } finally {
    await store.close();
  }
}

export function opened(session: string, s: number, sub = 'alice', roles: string[] = []): AuditEvent {
  const principal = { sub, roles, claims: {} };
  return sessionOpened(session, { client: { name: 'test-client', version: '1' }, principal, started_at: at(s) }, at(s));
}

export function closed(session: string, s: number, calls: number): AuditEvent {
  return sessionClosed(session, { calls }, at(s));
}

export const reason = (rule: string, extra: Partial<RecordedReason> = {}): RecordedReason => ({
  rule,
  message: `${rule} says no`,
  ...extra,
});

/** How a call goes. Defaults: allowed in enforce mode, completed with success one second later. */
export interface CallSpec {
  session: string;
  id: string;
  name: string;
  /** Seconds after T0 when it arrives. */
  s: number;
  args?: Record<string, unknown>;
  /** Fields of its (first) decision. */
  decision?: Partial<CallDecidedData>;
  /** Held for approval: how the approver answers (undefined: still pending), and the second decision. */
  approval?: { answer?: ApprovalAnswer; by?: string; after?: number; second?: Partial<CallDecidedData> };
  /** How it completes; null: it never does (still running). */
  outcome?: 'success' | 'error' | null;
  result?: Record<string, unknown>;
}

/** The records the pipeline writes for one call, in its order. */
export function call(spec: CallSpec): AuditEvent[] {
  const { session, id, name, s } = spec;
  const ms = T0 + s * 1000;
  const when = (ds: number): string => at(s + ds);
  const decided = (fields: Partial<CallDecidedData>, ds: number, decisionId: string): AuditEvent =>
    callDecided(
      session,
      {
        call_id: id,
        decision_id: decisionId,
        allow: true,
        policy_allow: fields.allow ?? true,
        reasons: [],
        monitored: [],
        obligations: {},
        revision: 'rev-1',
        mode: 'enforce',
        now_ms: ms + ds * 1000,
        ...fields,
      },
      when(ds),
    );
  const events: AuditEvent[] = [callReceived(session, received(id, name, spec.args ?? {}, ms), when(0))];
  let allowed: boolean;
  let t = 0.1;
  if (spec.approval) {
    const approvers = ['release-manager'];
    const held: Partial<CallDecidedData> = {
      allow: false,
      policy_allow: true,
      held: true,
      reasons: [reason('warden.approval_required')],
      obligations: { approval: { required: true, approvers } },
    };
    events.push(decided({ ...held, ...spec.decision }, t, id));
    events.push(approvalRequested(session, { call_id: id, name, approvers, reason: null }, when(t)));
    const { answer, by = 'bob', after = 1, second } = spec.approval;
    if (answer === undefined) return events;
    t += after;
    const answeredBy = answer === 'timed_out' ? null : by;
    const answered = { call_id: id, outcome: answer, by: answeredBy, via: 'admin' as const, comment: null };
    events.push(approvalAnswered(session, answered, when(t)));
    if (answer !== 'approved') return events;
    t += 0.1;
    events.push(decided({ ...second }, t, `${id}-2`));
    allowed = second?.allow ?? true;
  } else {
    events.push(decided({ ...spec.decision }, t, id));
    allowed = spec.decision?.allow ?? true;
  }
  if (!allowed || spec.outcome === null) return events;
  events.push(callForwarded(session, { call_id: id, server: 'ci' }, when(t + 0.1)));
  const result = spec.result ?? { structuredContent: { ok: spec.outcome !== 'error' } };
  const outcome = spec.outcome ?? 'success';
  const failed = outcome === 'error' ? { error: 'boom' } : {};
  const completed = { call_id: id, outcome, duration_ms: 900, result_digest: 'sha256:0', result, ...failed };
  events.push(callCompleted(session, completed, when(t + 1)));
  return events;
}
