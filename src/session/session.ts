import type { Principal } from '../config/index.js';
import type { Approval, ClientInfo, HistoryEntry, InputDocument, Outcome, PendingCall, ToolSummary } from './types.js';

export interface SessionOptions {
  /** How many most recent calls `input.history` carries (summary always covers the whole session). */
  historyWindow: number;
  /** A text result is cut to this many characters in history. */
  resultMaxChars: number;
}

/**
 * One client session's state: who it is, what it called and how each call ended.
 * Pure: no I/O, no clock of its own (callers pass times), so it is cheap to test and to replay.
 */
export class Session {
  private readonly entries: HistoryEntry[] = [];
  private readonly perTool = new Map<string, ToolSummary>();
  private readonly granted: Approval[] = [];
  private seq = 0;
  client: ClientInfo;

  constructor(
    readonly id: string,
    readonly principal: Principal,
    readonly startedAt: string,
    private readonly options: SessionOptions,
    client: ClientInfo = { name: 'unknown', version: 'unknown' },
  ) {
    this.client = client;
  }

  /** The input document for a pending call (DESIGN.md section 5), built in one place. */
  buildInput(call: PendingCall, nowMs: number): InputDocument {
    const window = this.options.historyWindow;
    return {
      version: 1,
      call,
      session: { id: this.id, client: this.client, started_at: this.startedAt },
      principal: this.principal,
      history: window === 0 ? [] : this.entries.length > window ? this.entries.slice(-window) : this.entries.slice(),
      summary: Object.fromEntries(this.perTool),
      approvals: this.granted.slice(),
      now: new Date(nowMs).toISOString(),
      now_ms: nowMs,
    };
  }

  /** Records a finished call (denied, failed or succeeded) and returns its history entry. */
  record(call: PendingCall, decision: 'allow' | 'deny', outcome: Outcome, result: unknown, atMs: number, durationMs: number): HistoryEntry {
    const entry: HistoryEntry = {
      seq: ++this.seq,
      kind: call.kind,
      server: call.server,
      tool: call.tool,
      name: call.name,
      arguments: call.arguments,
      decision,
      outcome,
      result: outcome === 'denied' ? null : summarizeResult(result, this.options.resultMaxChars),
      at: new Date(atMs).toISOString(),
      at_ms: atMs,
      duration_ms: Math.round(durationMs),
    };
    this.entries.push(entry);
    // Keep memory bounded for very long sessions: the policy only ever sees the window.
    if (this.entries.length > Math.max(this.options.historyWindow, 1) * 2 + 1024) this.entries.splice(0, this.entries.length - this.options.historyWindow);
    this.summarize(entry);
    return entry;
  }

  /** Grants an approval for a tool; it appears in `input.approvals` from now on. */
  approve(approval: Approval): void {
    this.granted.push(approval);
  }

  get callCount(): number {
    return this.seq;
  }

  /** Whole-session per-tool summary (`input.summary`). */
  summary(): Record<string, ToolSummary> {
    return Object.fromEntries(this.perTool);
  }

  private summarize(entry: HistoryEntry): void {
    // A copy, never the published object: an input document built earlier (still waiting for the
    // policy, or being logged) keeps the summary it was built with.
    const previous = this.perTool.get(entry.name);
    const fresh = { calls: 0, successes: 0, failures: 0, denied: 0, last_outcome: entry.outcome, first_seq: entry.seq };
    const s: ToolSummary = previous ? { ...previous } : { ...fresh, last_seq: entry.seq };
    s.calls++;
    s.last_outcome = entry.outcome;
    s.last_seq = entry.seq;
    if (entry.outcome === 'success') {
      s.successes++;
      s.last_success_seq = entry.seq;
    } else if (entry.outcome === 'error') {
      s.failures++;
      s.last_failure_seq = entry.seq;
    } else {
      s.denied++;
      s.last_denied_seq = entry.seq;
    }
    this.perTool.set(entry.name, s);
  }
}

/**
 * What history keeps of a result: `structuredContent` when present, else the text content joined
 * and cut to `maxChars` (with a marker), else null.
 */
export function summarizeResult(result: unknown, maxChars: number): unknown {
  if (!result || typeof result !== 'object') return typeof result === 'string' ? cut(result, maxChars) : null;
  const r = result as { structuredContent?: unknown; content?: unknown };
  if (r.structuredContent !== undefined) return r.structuredContent;
  if (Array.isArray(r.content)) {
    const text = r.content
      .filter((c): c is { type: 'text'; text: string } => !!c && typeof c === 'object' && (c as { type?: unknown }).type === 'text')
      .map((c) => c.text)
      .join('\n');
    return cut(text, maxChars);
  }
  return null;
}

function cut(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, maxChars)}…[cut ${text.length - maxChars} chars]` : text;
}
