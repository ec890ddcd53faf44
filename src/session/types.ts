import type { Principal } from '../config/index.js';

export type CallKind = 'tool' | 'resource' | 'prompt';
export type Outcome = 'success' | 'error' | 'denied';

/** The pending call as policy sees it (`input.call`). */
export interface PendingCall {
  kind: CallKind;
  /** Name of the downstream server (config key). */
  server: string;
  /** The downstream's own name of the tool / prompt (for resources, the URI). */
  tool: string;
  /** The name the client used (with the server's prefix, if any). Summary keys use it. */
  name: string;
  arguments: Record<string, unknown>;
  annotations: Record<string, unknown>;
  uri?: string;
}

export interface HistoryEntry {
  seq: number;
  kind: CallKind;
  server: string;
  tool: string;
  name: string;
  arguments: Record<string, unknown>;
  decision: 'allow' | 'deny';
  outcome: Outcome;
  /** structuredContent when the tool returned it; otherwise its text, cut; null for denied calls. */
  result: unknown;
  at: string;
  at_ms: number;
  duration_ms: number;
}

export interface ToolSummary {
  calls: number;
  successes: number;
  failures: number;
  denied: number;
  last_outcome: Outcome;
  first_seq: number;
  last_seq: number;
  last_success_seq?: number;
  last_failure_seq?: number;
  last_denied_seq?: number;
}

export interface Approval {
  tool: string;
  by: string;
  at: string;
  comment?: string;
}

export interface ClientInfo {
  name: string;
  version: string;
}

/** Input document v1 (DESIGN.md section 5). Wire format: snake_case. */
export interface InputDocument {
  version: 1;
  call: PendingCall;
  session: { id: string; client: ClientInfo; started_at: string };
  principal: Principal;
  history: HistoryEntry[];
  summary: Record<string, ToolSummary>;
  approvals: Approval[];
  now: string;
  now_ms: number;
}
