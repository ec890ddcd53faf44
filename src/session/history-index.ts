import { canonicalJson } from '../common/index.js';
import type { HistoryEntry, Outcome } from './types.js';

/**
 * Whose calls count for a rule: one session (or stdio client process), one agent run (the W3C
 * trace id of `_meta.traceparent`; the session when a call has none), one principal (per tenant),
 * or everyone (per tenant).
 */
export type HistoryScope = 'session' | 'trace' | 'principal' | 'global';

export const HISTORY_SCOPES: readonly HistoryScope[] = ['session', 'trace', 'principal', 'global'];

/** The most entries one read may ask for. */
export const MAX_READ_LAST = 1000;

/**
 * One piece of history the policy reads (`mcp/history/reads`): for the calls named in `for` (all
 * calls when empty), the newest `last` entries of `tool` in `scope` whose outcome is one of
 * `outcomes` and whose `match` arguments equal the current call's. `all`: the session's window.
 */
export type HistoryRead =
  | {
      readonly for: readonly string[];
      readonly tool: string;
      readonly label?: never;
      readonly scope: HistoryScope;
      readonly match: readonly string[];
      readonly last: number;
      readonly outcomes: readonly Outcome[];
      readonly all?: never;
    }
  | {
      readonly for: readonly string[];
      /** Entries of any tool whose result the result policy labelled so (`secret`, `pii`, ...). */
      readonly label: string;
      readonly tool?: never;
      readonly scope: HistoryScope;
      readonly match: readonly [];
      readonly last: number;
      readonly outcomes: readonly Outcome[];
      readonly all?: never;
    }
  | { readonly for: readonly string[]; readonly scope: 'session'; readonly all: true };

/** The key of each scope for one call: its session, its trace, its principal, and its tenant. */
export type ScopeKeys = Readonly<Record<HistoryScope, string>>;

/** A finished call as the index keeps it: its history entry and the keys of the scopes it belongs to. */
export interface IndexedCall {
  /** The entry, without `scope` (each answer sets the scope it was drawn from). */
  readonly entry: HistoryEntry;
  readonly keys: ScopeKeys;
  /**
   * Its place in the trail (of the record that settled it; `trailOrder` across the chains of
   * replicas, which sorts as text): the order of answers. Unique per call.
   */
  readonly order: string;
}

/**
 * The history a policy declared it reads, kept per read and per subject, so that answering a call
 * costs the same whether a scope holds ten calls or a million: each read keeps, for each scope key
 * and each value of its `match` arguments, only its newest `last` entries. Pure and incremental:
 * apply calls in trail order. `all` reads are answered from the session itself, not from here.
 *
 * @example
 * ```ts
 * const index = new HistoryIndex(reads);
 * index.apply({ entry, keys, order: trailOrder(record) });
 * index.lookup(call.name, call.arguments, scopeKeys(session.id, session.principal, traceId(call.traceparent)));
 * ```
 */
export class HistoryIndex {
  private readonly buckets = new Map<string, IndexedCall[]>();
  private readonly byTool = new Map<string, number[]>();
  private readonly byLabel = new Map<string, number[]>();

  constructor(readonly reads: readonly HistoryRead[]) {
    reads.forEach((read, i) => {
      if (read.all) return;
      const [map, key] = read.label !== undefined ? [this.byLabel, read.label] : [this.byTool, read.tool];
      map.set(key, [...(map.get(key) ?? []), i]);
    });
  }

  /** Whether some read of the trail (not the session's window) applies to calls named `name`. */
  readsFor(name: string): boolean {
    return this.reads.some((r) => !r.all && appliesTo(r, name));
  }

  /** Whether some read asks for the session's whole window for calls named `name`. */
  wantsWindow(name: string): boolean {
    return this.reads.some((r) => r.all === true && appliesTo(r, name));
  }

  /** Adds a finished call to every read it answers. */
  apply(call: IndexedCall): void {
    const labelled = (call.entry.labels ?? []).flatMap((label) => this.byLabel.get(label) ?? []);
    for (const i of [...(this.byTool.get(call.entry.name) ?? []), ...new Set(labelled)]) {
      const read = this.reads[i]!;
      if (read.all || !read.outcomes.includes(call.entry.outcome)) continue;
      const subject = subjectOf(read.match, call.entry.arguments);
      if (subject === undefined) continue;
      const key = bucketKey(i, call.keys[read.scope], subject);
      const bucket = this.buckets.get(key) ?? [];
      insertInOrder(bucket, call);
      if (bucket.length > read.last) bucket.splice(0, bucket.length - read.last);
      this.buckets.set(key, bucket);
    }
  }

  /**
   * The entries the reads for a call named `name` return, each with the `scope` it was drawn from,
   * oldest first. A read whose `match` argument the call lacks returns nothing (its rule denies).
   */
  lookup(name: string, args: Record<string, unknown>, keys: ScopeKeys): HistoryEntry[] {
    const found: { call: IndexedCall; scope: HistoryScope }[] = [];
    const seen = new Set<string>();
    this.reads.forEach((read, i) => {
      if (read.all || !appliesTo(read, name)) return;
      const subject = subjectOf(read.match, args);
      if (subject === undefined) return;
      for (const call of this.buckets.get(bucketKey(i, keys[read.scope], subject)) ?? []) {
        const id = `${read.scope}\0${call.order}`;
        if (seen.has(id)) continue;
        seen.add(id);
        found.push({ call, scope: read.scope });
      }
    });
    found.sort((a, b) => compareOrder(a.call.order, b.call.order) || scopeRank(a.scope) - scopeRank(b.scope));
    return found.map(({ call, scope }) => ({ ...call.entry, scope }));
  }

  /** How many entries the index holds, over all reads (for status and the bench). */
  get size(): number {
    let n = 0;
    for (const bucket of this.buckets.values()) n += bucket.length;
    return n;
  }
}

/**
 * Reads the result of `mcp/history/reads` into typed reads, with defaults (`match` [], `last` 1,
 * `outcomes` success and error). Returns what is wrong when the result is not a list of reads.
 */
export function readHistoryReads(value: unknown): { ok: true; reads: HistoryRead[] } | { ok: false; message: string } {
  const items = Array.isArray(value) ? value : undefined;
  if (!items) return { ok: false, message: 'mcp/history/reads must be an array (or set) of reads' };
  const reads: HistoryRead[] = [];
  for (const [i, item] of items.entries()) {
    const read = readOne(item);
    if (typeof read === 'string') return { ok: false, message: `mcp/history/reads[${i}]: ${read}` };
    reads.push(read);
  }
  return { ok: true, reads };
}

function readOne(item: unknown): HistoryRead | string {
  if (!item || typeof item !== 'object' || Array.isArray(item)) return 'a read must be an object';
  const r = item as Record<string, unknown>;
  const names = r['for'] ?? [];
  if (!isStrings(names)) return '`for` must be an array of call names';
  if (!HISTORY_SCOPES.includes(r['scope'] as HistoryScope))
    return `\`scope\` must be one of ${HISTORY_SCOPES.join(', ')} (got ${JSON.stringify(r['scope'])})`;
  const scope = r['scope'] as HistoryScope;
  const kinds = ['tool', 'label', 'all'].filter((k) => r[k] !== undefined);
  if (kinds.length !== 1) return `a read names exactly one of tool, label or all (got ${kinds.join(', ') || 'none'})`;
  if (r['all'] !== undefined) {
    if (r['all'] !== true) return '`all` must be true';
    if (scope !== 'session') return '`all` reads the session window: its scope must be session';
    return { for: names, scope, all: true };
  }
  const match = r['match'] ?? [];
  if (!isStrings(match)) return '`match` must be an array of argument names';
  const last = r['last'] ?? 1;
  if (!Number.isInteger(last) || (last as number) < 1 || (last as number) > MAX_READ_LAST)
    return `\`last\` must be an integer from 1 to ${MAX_READ_LAST}`;
  const outcomes = r['outcomes'] ?? ['success', 'error'];
  if (!isStrings(outcomes) || outcomes.some((o) => !['success', 'error', 'denied'].includes(o)))
    return '`outcomes` must list success, error or denied';
  const common = { for: names, scope, last: last as number, outcomes: outcomes as Outcome[] };
  if (r['label'] !== undefined) {
    if (typeof r['label'] !== 'string' || r['label'] === '') return '`label` must be a label name';
    if (match.length > 0) return 'a read by `label` cannot `match` arguments (it reads any tool)';
    return { ...common, label: r['label'], match: [] };
  }
  if (typeof r['tool'] !== 'string' || r['tool'] === '') return '`tool` must be a tool name';
  return { ...common, tool: r['tool'], match };
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function appliesTo(read: HistoryRead, name: string): boolean {
  return read.for.length === 0 || read.for.includes(name);
}

// The values of the match arguments, as one key; undefined when one is missing.
function subjectOf(match: readonly string[], args: Record<string, unknown>): string | undefined {
  if (match.length === 0) return '';
  const values: unknown[] = [];
  for (const name of match) {
    if (!Object.hasOwn(args, name)) return undefined;
    values.push(args[name]);
  }
  return canonicalJson(values, { wellFormed: true }) ?? undefined;
}

function bucketKey(read: number, scopeKey: string, subject: string): string {
  return `${read}\0${scopeKey}\0${subject}`;
}

function insertInOrder(bucket: IndexedCall[], call: IndexedCall): void {
  let i = bucket.length;
  while (i > 0 && bucket[i - 1]!.order > call.order) i--;
  if (bucket[i - 1]?.order === call.order) return;
  bucket.splice(i, 0, call);
}

function compareOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function scopeRank(scope: HistoryScope): number {
  return HISTORY_SCOPES.indexOf(scope);
}

/**
 * The scope keys of a call: its session; its trace (the trace id, else the session); its principal
 * and its tenant (the value of the configured tenant claim, '' without one). Two tenants never
 * share a key.
 */
export function scopeKeys(
  sessionId: string,
  principal: { sub: string; claims?: Record<string, unknown> },
  traceId: string | undefined,
  tenantClaim?: string,
): ScopeKeys {
  const claim = tenantClaim ? principal.claims?.[tenantClaim] : undefined;
  const tenant = JSON.stringify(typeof claim === 'string' ? claim : '');
  const session = `session:${JSON.stringify(sessionId)}`;
  return {
    session,
    trace: traceId ? `trace:${tenant}:${traceId}` : session,
    principal: `principal:${tenant}:${JSON.stringify(principal.sub)}`,
    global: `global:${tenant}`,
  };
}

/** The trace id of a W3C `traceparent` (32 hex digits, not all zero), or undefined when it is not one. */
export function traceId(traceparent: unknown): string | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent.trim());
  return match && !/^0+$/.test(match[1]!) ? match[1] : undefined;
}
