import type { AuditEvent, DecisionLogEvent } from '../audit/index.js';
import type { Evaluation } from '../policy/index.js';

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
