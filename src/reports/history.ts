import type { Principal } from '../config/index.js';
import { Session, type Approval, type PendingCall, type SessionOptions } from '../session/index.js';
import type { ApprovalRow, CallRow, FoldStep, SessionRow } from './fold.js';

// A recorded session's history, rebuilt through the same core `Session` the pipeline uses, so that
// `input.history`, `input.summary` and `input.approvals` are shaped as they were live. Replay feeds
// it the fold's steps as they come; workflow status replays a folded session's steps at once.

const UNKNOWN_PRINCIPAL: Principal = Object.freeze({ sub: 'unknown', roles: [], claims: {} });

/** The call as the policy saw it (`input.call`), from its `call.received` record. */
export function pendingCall(call: CallRow): PendingCall {
  return {
    kind: call.kind,
    server: call.server,
    tool: call.tool,
    name: call.name,
    arguments: call.arguments,
    annotations: call.annotations,
    ...(call.uri !== undefined ? { uri: call.uri } : {}),
  };
}

/** A core `Session` for a folded session: its principal, client and start, when the trail has them. */
export function sessionFromRow(row: SessionRow, options: SessionOptions): Session {
  const client = row.client ? { name: row.client.name, version: row.client.version } : undefined;
  const startedAt = row.started_at ?? row.opened_at ?? row.first_at;
  return new Session(row.session_id, row.principal ?? UNKNOWN_PRINCIPAL, startedAt, options, client);
}

/**
 * Applies one fold step to the session's history: a granted approval joins `input.approvals`, a
 * settled call joins `input.history` and `input.summary` (a denied one without its result). Other
 * steps change nothing.
 */
export function applyToSession(session: Session, step: FoldStep): void {
  if (step.kind === 'call.approved') {
    session.approve(approvalOf(session, step.call, step.approval));
  } else if (step.kind === 'call.settled') {
    const { call, settled } = step;
    const ran = settled.outcome !== 'denied';
    // It ran: its approval was used up when it was forwarded. Denied: the approval lapses in record.
    if (ran) session.consume(call.call_id);
    const result = ran ? call.result : null;
    const at = call.started_ms;
    const labels = call.completed?.labels ?? [];
    session.record(
      pendingCall(call),
      settled.decision,
      settled.outcome,
      result,
      at,
      settled.duration_ms,
      call.call_id,
      labels,
    );
  }
}

/** A folded session's history steps, in the order of their records. */
export function historySteps(row: SessionRow): FoldStep[] {
  const steps: { seq: number; step: FoldStep }[] = [];
  for (const call of row.calls) {
    const { approval, approved_seq: approvedSeq, settled } = call;
    if (approval && approvedSeq !== null) {
      steps.push({ seq: approvedSeq, step: { kind: 'call.approved', call, approval } });
    }
    if (settled) steps.push({ seq: settled.seq, step: { kind: 'call.settled', call, settled } });
  }
  return steps.sort((a, b) => a.seq - b.seq).map((s) => s.step);
}

/**
 * The approval bound to its call, as the pipeline grants it. The digest is of the arguments as
 * recorded (redaction may have masked some), which is what the rebuilt call carries.
 */
function approvalOf(session: Session, call: CallRow, approval: ApprovalRow): Approval {
  return {
    tool: call.name,
    by: approval.by ?? 'unknown',
    at: approval.answered_at ?? call.last_at,
    ...(approval.comment ? { comment: approval.comment } : {}),
    call_id: call.call_id,
    arguments_digest: session.digest(call.arguments),
    principal: session.principal.sub,
  };
}
