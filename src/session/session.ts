import { createHmac, randomBytes } from 'node:crypto';
import { canonicalJson } from '../common/index.js';
import type { Principal } from '../config/index.js';
import type { Approval, ClientInfo, HistoryEntry, InputDocument, Outcome, PendingCall, ToolSummary } from './types.js';

export interface SessionOptions {
  /** How many most recent calls `input.history` carries (summary always covers the whole session). */
  historyWindow: number;
  /** A text result is cut to this many characters in history. */
  resultMaxChars: number;
  /** Keys the arguments digest approvals are bound to (`approval.stateKey`); default: a key per process. */
  digestKey?: string | undefined;
}

/**
 * One client session's state: who it is, what it called and how each call ended.
 * Pure: no I/O, no clock of its own (callers pass times), so it is cheap to test and to replay.
 */
export class Session {
  private readonly entries: HistoryEntry[] = [];
  private readonly perTool = new Map<string, ToolSummary>();
  /** Approvals of calls not forwarded yet, by call id: only that call's own decisions see one. */
  private readonly pendingApprovals = new Map<string, Approval>();
  /** Approvals used up by a call being forwarded: nobody sees them until the call's outcome is recorded. */
  private readonly spending = new Map<string, Approval>();
  /** Approvals of calls that ran (one per run they covered), shown to later calls as such. */
  private readonly spent: Approval[] = [];
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

  /**
   * The input document for a pending call (DESIGN.md section 5), built in one place. With the
   * call's id, `input.call.id` is set and `input.approvals` holds the approval given for this
   * call (if any, and only while it matches the call's tool, arguments and principal) after the
   * approvals of earlier calls that ran. An approval given for another call that has not finished
   * is never in it, so two calls cannot share one. `history`: what the policy's declared reads
   * return for the call (default: the session's window).
   */
  buildInput(call: PendingCall, nowMs: number, callId?: string, history?: HistoryEntry[]): InputDocument {
    const own = callId === undefined ? undefined : this.pendingApprovals.get(callId);
    return {
      version: 1,
      call: callId === undefined ? call : { ...call, id: callId },
      session: { id: this.id, client: this.client, started_at: this.startedAt },
      principal: this.principal,
      history: history ?? this.window(),
      summary: Object.fromEntries(this.perTool),
      approvals: own && this.covers(own, call) ? [...this.spent, own] : this.spent.slice(),
      now: new Date(nowMs).toISOString(),
      now_ms: nowMs,
    };
  }

  /**
   * Records a finished call (denied, failed or succeeded) and returns its history entry. With the
   * call's id, its approval is settled too: one it used up now counts as an approval of a call
   * that ran; one it never used (the call was denied after all) lapses, so no spare is left.
   */
  record(
    call: PendingCall,
    decision: 'allow' | 'deny',
    outcome: Outcome,
    result: unknown,
    atMs: number,
    durationMs: number,
    callId?: string,
    labels: readonly string[] = [],
  ): HistoryEntry {
    const entry = historyEntry(call, decision, outcome, result, atMs, durationMs, {
      seq: ++this.seq,
      session: this.id,
      principal: this.principal.sub,
      resultMaxChars: this.options.resultMaxChars,
      labels,
    });
    this.entries.push(entry);
    // Keep memory bounded for very long sessions: the policy only ever sees the window.
    if (this.entries.length > Math.max(this.options.historyWindow, 1) * 2 + 1024)
      this.entries.splice(0, this.entries.length - this.options.historyWindow);
    this.summarize(entry);
    if (callId !== undefined) this.settleApproval(callId, decision);
    return entry;
  }

  /**
   * Grants an approval for the one call `approval.call_id`: that call's decisions see it in
   * `input.approvals` until it is forwarded ({@link consume}) or recorded as denied.
   */
  approve(approval: Approval): void {
    this.pendingApprovals.set(approval.call_id, approval);
  }

  /**
   * The call is being forwarded: its approval (if any) is used up now, not when the call
   * finishes, so a call decided meanwhile cannot count it as unused.
   */
  consume(callId: string): Approval | undefined {
    const approval = this.pendingApprovals.get(callId);
    if (!approval) return undefined;
    this.pendingApprovals.delete(callId);
    this.spending.set(callId, approval);
    return approval;
  }

  /** The session's newest `historyWindow` calls, oldest first: `input.history` unless the policy declares reads. */
  window(): HistoryEntry[] {
    const window = this.options.historyWindow;
    if (window === 0) return [];
    return this.entries.length > window ? this.entries.slice(-window) : this.entries.slice();
  }

  get callCount(): number {
    return this.seq;
  }

  /** Whole-session per-tool summary (`input.summary`). */
  summary(): Record<string, ToolSummary> {
    return Object.fromEntries(this.perTool);
  }

  /** The digest an approval of a call with these arguments is bound to, under this session's key. */
  digest(args: Record<string, unknown>): string {
    return argumentsDigest(args, this.options.digestKey);
  }

  /** Whether an approval was given for this very call: same tool, same arguments, same principal. */
  private covers(approval: Approval, call: PendingCall): boolean {
    return (
      approval.tool === call.name &&
      approval.principal === this.principal.sub &&
      approval.arguments_digest === this.digest(call.arguments)
    );
  }

  private settleApproval(callId: string, decision: 'allow' | 'deny'): void {
    this.pendingApprovals.delete(callId);
    const used = this.spending.get(callId);
    if (!used) return;
    this.spending.delete(callId);
    if (decision === 'allow') this.spent.push(used);
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
 * A finished call as `input.history` shows it: a session records it so, and the read model of the
 * audit trail builds the same entry from the call's records.
 */
export function historyEntry(
  call: Pick<PendingCall, 'kind' | 'server' | 'tool' | 'name' | 'arguments'>,
  decision: 'allow' | 'deny',
  outcome: Outcome,
  result: unknown,
  atMs: number,
  durationMs: number,
  where: { seq: number; session: string; principal: string; resultMaxChars: number; labels?: readonly string[] },
): HistoryEntry {
  return {
    seq: where.seq,
    scope: 'session',
    session: where.session,
    principal: where.principal,
    kind: call.kind,
    server: call.server,
    tool: call.tool,
    name: call.name,
    arguments: call.arguments,
    decision,
    outcome,
    result: outcome === 'denied' ? null : summarizeResult(result, where.resultMaxChars),
    at: new Date(atMs).toISOString(),
    at_ms: atMs,
    duration_ms: Math.round(durationMs),
    ...(where.labels?.length ? { labels: [...where.labels] } : {}),
  };
}

const DIGEST_KEY = randomBytes(32);

/**
 * The digest an approval is bound to: `hmac-sha256:` and the hex HMAC-SHA-256 of the arguments'
 * RFC 8785 canonical JSON (key order and whitespace do not matter; any change of a value does).
 * Its key is `key` (`approval.stateKey`, shared by replicas) or one private to this process, so a digest in a decision log says nothing about arguments
 * that redaction hides (a plain hash of a short secret could be guessed). A lone surrogate reads
 * as U+FFFD, as in the audit trail (RFC 8785 has no text for it).
 *
 * @example
 * ```ts
 * argumentsDigest({ b: 1, a: 'x' }) === argumentsDigest({ a: 'x', b: 1 }); // true
 * ```
 */
export function argumentsDigest(args: Record<string, unknown>, key: string | Buffer = DIGEST_KEY): string {
  // RFC 8785 without recursion, lone surrogates replaced, every key kept (`__proto__` included).
  const text = canonicalJson(args, { wellFormed: true }) ?? 'null';
  return `hmac-sha256:${createHmac('sha256', key).update(text, 'utf8').digest('hex')}`;
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
      .filter(
        (c): c is { type: 'text'; text: string } =>
          !!c && typeof c === 'object' && (c as { type?: unknown }).type === 'text',
      )
      .map((c) => c.text)
      .join('\n');
    return cut(text, maxChars);
  }
  return null;
}

function cut(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, maxChars)}…[cut ${text.length - maxChars} chars]` : text;
}
