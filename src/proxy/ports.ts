import type { AuditEvent, DecisionLogEvent } from '../audit/index.js';
import type { EntrypointResult, Evaluation } from '../policy/index.js';
import type { HistoryEntry, PendingCall, Session } from '../session/index.js';

/**
 * Audit trail port: `append` resolves once the event is durable, rejects when it cannot be.
 * Events are built with the audit part's typed constructors (`callReceived`, `callDecided`, ...).
 */
export interface AuditPort {
  append(event: AuditEvent): Promise<unknown>;
}

export interface DecisionLogPort {
  write(event: DecisionLogEvent): void;
}

export interface PolicyPort {
  /** Resolves to the decision, or to a deny naming the failure (fail closed); never rejects. */
  evaluate(input: unknown, nowMs?: number): Promise<Evaluation>;
  readonly entrypoint: string;
  /** With these, a policy that defines `mcp/result` judges what comes back. */
  hasEntrypoint?(name: string): boolean;
  evaluateEntrypoint?(name: string, input: unknown, nowMs?: number): Promise<EntrypointResult>;
}

/**
 * History port: what the active policy declared it reads (`mcp/history/reads`), answered from the
 * read model of the audit trail. Resolves to undefined when the policy declares no reads: the
 * input then carries the session's window, as before reads existed.
 */
export interface HistoryPort {
  lookup(session: Session, call: PendingCall): Promise<HistoryEntry[] | undefined>;
}

/** An approval an approver gave for a call that was left pending (`warden.approval_pending`). */
export interface ApprovalGrant {
  /** The call it was given for (the pending approval's id). */
  id: string;
  by: string;
  at: string;
  comment?: string;
}

/**
 * Grants port: approvals left pending in the audit trail and answered since, on any replica. A
 * retry of the same call (tool, arguments digest, principal) may spend one, exactly once.
 */
export interface GrantPort {
  usable(principal: string, name: string, argumentsDigest: string): Promise<ApprovalGrant | undefined>;
  /** True for the one call that spends `id` (the store decides, across replicas). */
  spend(id: string): Promise<boolean>;
}

/** What the pipeline tells the outside world (metrics, dashboard streams). All optional, all synchronous. */
export interface PipelineObserver {
  onDecision?(info: DecisionInfo): void;
  onCompleted?(info: CompletionInfo): void;
}

export interface DecisionInfo {
  decision_id: string;
  session_id: string;
  call: { kind: string; server: string; name: string };
  allow: boolean;
  /** The policy's own verdict, before monitor mode and obligations. */
  policy_allow: boolean;
  mode: 'enforce' | 'monitor';
  reasons: { rule: string; message: string }[];
  monitored: { rule: string; message: string }[];
  revision: string;
  error?: string;
  eval_ns: number;
}

export interface CompletionInfo {
  decision_id: string;
  session_id: string;
  call: { kind: string; server: string; name: string };
  outcome: 'success' | 'error' | 'denied';
  duration_ms: number;
}
