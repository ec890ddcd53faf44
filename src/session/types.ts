import type { Principal } from '../config/index.js';
import type { HistoryScope } from './history-index.js';

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
  /** The 2026-07-28 envelope's `io.modelcontextprotocol/protocolVersion` (absent: handshake era). */
  protocol_version?: string;
  /** The 2026-07-28 envelope's `io.modelcontextprotocol/clientInfo` (handshake era: `session.client`). */
  client_info?: ClientInfo;
  /** The W3C `traceparent` of the request's `_meta`, when it carries one. */
  traceparent?: string;
}

export interface HistoryEntry {
  /** The call's number in its session (1, 2, ...). */
  seq: number;
  /** The scope it was drawn from (`mcp/history/reads`); a session's own window says `session`. */
  scope?: HistoryScope;
  /** The session it was recorded in. */
  session?: string;
  /** The `sub` of the principal who made it. */
  principal?: string;
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
  /** Labels the result policy gave its result (`secret`, `pii`, ...); absent when none. */
  labels?: string[];
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

/**
 * An approval, bound to the one call it was given for (`input.approvals[]`). Warden presents it to
 * that call's own decision, uses it up when the call is forwarded, and lists it for later calls
 * (as an approval of an earlier call, `call_id` not theirs) once the call's outcome is recorded.
 */
export interface Approval {
  tool: string;
  /** Who approved. */
  by: string;
  at: string;
  comment?: string;
  /** The call it approves (`input.call.id` of that call's decisions). */
  call_id: string;
  /** `sha256:` and the hex SHA-256 of the RFC 8785 canonical JSON of that call's arguments. */
  arguments_digest: string;
  /** The `sub` of the principal whose call it approves. */
  principal: string;
}

export interface ClientInfo {
  name: string;
  version: string;
}

/** Input document v1 (DESIGN.md section 5). Wire format: snake_case. */
export interface InputDocument {
  version: 1;
  /** `id`: the call's id, when the input is for a call (approvals name it in `call_id`). */
  call: PendingCall & { id?: string };
  session: { id: string; client: ClientInfo; started_at: string };
  principal: Principal;
  history: HistoryEntry[];
  summary: Record<string, ToolSummary>;
  approvals: Approval[];
  now: string;
  now_ms: number;
}
