import { ReportError } from '../common/index.js';
import { isViolationRule, summarize, type CallSummary } from './audit-view.js';
import type { CallRow, SessionRow } from './fold.js';
import type { WorkflowStatus } from './workflow-status.js';

/** Most buckets one report has (`over_time` has one point per bucket). */
const MAX_BUCKETS = 2000;

/**
 * How a session is judged (docs/compliance.md):
 * - `violating`: the policy denied at least one of its calls by one of its own rules;
 * - `compliant`: no violation, and every workflow it started is complete (by the policy's
 *   `data.mcp.workflow.status`; without that entrypoint: no violation);
 * - `incomplete`: no violation, closed, with a started workflow left unfinished;
 * - `in_progress`: no violation, still open, with a started workflow unfinished (not scored yet);
 * - `ungoverned`: no violation and no workflow started (not scored).
 */
export type SessionState = 'compliant' | 'violating' | 'incomplete' | 'in_progress' | 'ungoverned';

export interface ComplianceOptions {
  fromMs: number;
  toMs: number;
  bucketMs: number;
  /** Sessions still open in this process. */
  live: ReadonlySet<string>;
  /** The policy's workflow status for a session (cached by the caller). */
  status: (session: SessionRow) => WorkflowStatus;
}

export interface Counted {
  key: string;
  count: number;
}

interface CallCounts {
  calls: number;
  allowed: number;
  denied: number;
  held: number;
  violations: number;
  would_deny: number;
  policy_errors: number;
}

export interface ComplianceReport {
  version: 1;
  range: { from: string; to: string; bucket_ms: number };
  /** `workflows` when the policy reports workflow status, else `violations` (see docs/compliance.md). */
  basis: 'workflows' | 'violations';
  basis_note: string | null;
  /** compliant / (compliant + violating + incomplete), or null when no session is judged yet. */
  score: number | null;
  sessions: Record<SessionState | 'total' | 'judged', number>;
  calls: CallCounts;
  violations_by_rule: Counted[];
  violations_by_workflow: Counted[];
  would_deny_by_rule: Counted[];
  approvals: {
    requested: number;
    approved: number;
    declined: number;
    cancelled: number;
    timed_out: number;
    unavailable: number;
    pending: number;
    /** From the request to a person's answer (approved, declined or cancelled by someone). */
    latency_ms: { count: number; p50: number | null; p95: number | null; max: number | null; mean: number | null };
  };
  workflows: {
    workflow: string;
    sessions_started: number;
    completed: number;
    completed_clean: number;
    in_progress: number;
    sessions_with_violations: number;
    violations: number;
    violations_by_rule: Counted[];
    score: number | null;
  }[];
  revisions: (CallCounts & { revision: string; violation_rate: number | null; first_at: string; last_at: string })[];
  over_time: (CallCounts & {
    start: string;
    sessions: number;
    compliant: number;
    violating: number;
    incomplete: number;
    score: number | null;
  })[];
  session_states: {
    session_id: string;
    state: SessionState;
    principal: string | null;
    violations: number;
    started_at: string;
  }[];
}

/** The rules of a denied call that count as violations (each once per call). */
export function violationRules(summary: CallSummary): ReasonRowLike[] {
  if (summary.outcome !== 'denied') return [];
  const seen = new Set<string>();
  return summary.reasons.filter((r) => isViolationRule(r.rule) && !seen.has(r.rule) && seen.add(r.rule));
}

type ReasonRowLike = { rule: string; workflow?: string };

/**
 * Scores compliance from the audit trail's calls and sessions in `[from, to)`: calls by the time
 * they were received, sessions by the time they opened (each judged on all its calls).
 * Pure apart from `options.status`, which asks the policy.
 */
export function computeCompliance(sessions: readonly SessionRow[], options: ComplianceOptions): ComplianceReport {
  const { fromMs, toMs, bucketMs } = options;
  const inRange = (at: string): boolean => {
    const t = Date.parse(at);
    return t >= fromMs && t < toMs;
  };
  const bucketOf = (at: string): number => fromMs + Math.floor((Date.parse(at) - fromMs) / bucketMs) * bucketMs;
  const counts = (): CallCounts => ({
    calls: 0,
    allowed: 0,
    denied: 0,
    held: 0,
    violations: 0,
    would_deny: 0,
    policy_errors: 0,
  });

  const totals = counts();
  const byRule = new Map<string, number>();
  const byWorkflow = new Map<string, number>();
  const wouldByRule = new Map<string, number>();
  const revisions = new Map<string, CallCounts & { first_at: string; last_at: string }>();
  const buckets = new Map<
    number,
    CallCounts & { sessions: number; compliant: number; violating: number; incomplete: number }
  >();
  const bucket = (
    at: string,
  ): CallCounts & { sessions: number; compliant: number; violating: number; incomplete: number } => {
    const key = bucketOf(at);
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = { ...counts(), sessions: 0, compliant: 0, violating: 0, incomplete: 0 }));
    return b;
  };
  // Every interval of the range gets a point, so quiet periods show as zero rather than vanish.
  if ((toMs - fromMs) / bucketMs <= MAX_BUCKETS) {
    for (let t = fromMs; t < toMs; t += bucketMs) bucket(new Date(t).toISOString());
  }
  const approvals = { requested: 0, approved: 0, declined: 0, cancelled: 0, timed_out: 0, unavailable: 0, pending: 0 };
  const latencies: number[] = [];
  const inc = (m: Map<string, number>, key: string): void => void m.set(key, (m.get(key) ?? 0) + 1);

  const addCall = (c: CallCounts, s: CallSummary, violations: number): void => {
    c.calls++;
    if (s.outcome === 'held') c.held++;
    else if (s.allow) c.allowed++;
    else c.denied++;
    if (violations > 0) c.violations++;
    if (s.monitored.length > 0) c.would_deny++;
    if (s.outcome === 'denied' && s.reasons.some((r) => r.rule.startsWith('warden.policy_'))) c.policy_errors++;
  };

  const callViolations = new Map<CallRow, ReasonRowLike[]>();
  for (const session of sessions) {
    for (const call of session.calls) {
      const summary = summarize(call);
      const rules = violationRules(summary);
      callViolations.set(call, rules);
      if (!inRange(call.at)) continue;
      addCall(totals, summary, rules.length);
      addCall(bucket(call.at), summary, rules.length);
      const rev = summary.revision || '(none)';
      let r = revisions.get(rev);
      if (!r) revisions.set(rev, (r = { ...counts(), first_at: call.at, last_at: call.at }));
      addCall(r, summary, rules.length);
      if (call.at < r.first_at) r.first_at = call.at;
      if (call.at > r.last_at) r.last_at = call.at;
      for (const reason of rules) {
        inc(byRule, reason.rule);
        if (reason.workflow) inc(byWorkflow, reason.workflow);
      }
      for (const rule of new Set(summary.monitored.map((m) => m.rule))) inc(wouldByRule, rule);
      const a = call.approval;
      if (a) {
        approvals.requested++;
        const outcome = a.outcome ?? 'pending';
        if (Object.hasOwn(approvals, outcome)) approvals[outcome as keyof typeof approvals]++;
        if (a.answered_at && a.by && outcome !== 'timed_out' && outcome !== 'unavailable')
          latencies.push(Math.max(0, Date.parse(a.answered_at) - Date.parse(a.requested_at)));
      }
    }
  }

  // Sessions: judged on all their calls, counted in the range by when they opened.
  const sessionCounts: ComplianceReport['sessions'] = {
    total: 0,
    judged: 0,
    compliant: 0,
    violating: 0,
    incomplete: 0,
    in_progress: 0,
    ungoverned: 0,
  };
  let basis: ComplianceReport['basis'] = 'workflows';
  let basisNote: string | null = null;
  const perWorkflow = new Map<
    string,
    { started: number; completed: number; clean: number; inProgress: number; withViolations: number }
  >();
  const states: ComplianceReport['session_states'] = [];
  for (const session of sessions) {
    if (!inRange(session.first_at)) continue;
    sessionCounts.total++;
    const violating = session.calls.flatMap((c) => callViolations.get(c) ?? []);
    const status = options.status(session);
    if (!status.available) {
      basis = 'violations';
      basisNote = status.reason;
    }
    const live = options.live.has(session.session_id);
    let state: SessionState;
    if (violating.length > 0) state = 'violating';
    else if (!status.available) state = session.calls.length > 0 ? 'compliant' : 'ungoverned';
    else {
      const started = Object.values(status.workflows).filter((w) => w.valid && w.active);
      if (started.length === 0) state = 'ungoverned';
      else if (started.every((w) => w.complete)) state = 'compliant';
      else state = live ? 'in_progress' : 'incomplete';
    }
    sessionCounts[state]++;
    const b = bucket(session.first_at);
    b.sessions++;
    if (state === 'compliant' || state === 'violating' || state === 'incomplete') b[state]++;
    states.push({
      session_id: session.session_id,
      state,
      principal: session.principal?.sub ?? null,
      violations: session.calls.filter((c) => (callViolations.get(c)?.length ?? 0) > 0).length,
      started_at: session.first_at,
    });

    if (status.available) {
      const named = new Set(violating.map((v) => v.workflow).filter((w): w is string => !!w));
      for (const [name, w] of Object.entries(status.workflows)) {
        if (!w.valid || (!w.active && !named.has(name))) continue;
        let pw = perWorkflow.get(name);
        if (!pw) perWorkflow.set(name, (pw = { started: 0, completed: 0, clean: 0, inProgress: 0, withViolations: 0 }));
        const clean = !named.has(name);
        pw.started++;
        if (w.complete) pw.completed++;
        if (w.complete && clean) pw.clean++;
        if (!clean) pw.withViolations++;
        if (live && clean && !w.complete) pw.inProgress++;
      }
    }
  }
  sessionCounts.judged = sessionCounts.compliant + sessionCounts.violating + sessionCounts.incomplete;

  const workflowViolations = new Map<string, Map<string, number>>();
  for (const [call, rules] of callViolations) {
    if (!inRange(call.at)) continue;
    for (const r of rules) {
      if (!r.workflow) continue;
      let m = workflowViolations.get(r.workflow);
      if (!m) workflowViolations.set(r.workflow, (m = new Map()));
      inc(m, r.rule);
    }
  }
  const names = new Set([...perWorkflow.keys(), ...workflowViolations.keys()]);
  const workflows = [...names].sort().map((name) => {
    const pw = perWorkflow.get(name) ?? { started: 0, completed: 0, clean: 0, inProgress: 0, withViolations: 0 };
    const judged = pw.started - pw.inProgress;
    const rules = workflowViolations.get(name) ?? new Map<string, number>();
    return {
      workflow: name,
      sessions_started: pw.started,
      completed: pw.completed,
      completed_clean: pw.clean,
      in_progress: pw.inProgress,
      sessions_with_violations: pw.withViolations,
      violations: [...rules.values()].reduce((a, b) => a + b, 0),
      violations_by_rule: ranked(rules),
      score: judged > 0 ? pw.clean / judged : null,
    };
  });

  latencies.sort((a, b) => a - b);
  const pct = (p: number): number | null =>
    latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]! : null;
  const overTime = [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([start, b]) => {
      const judged = b.compliant + b.violating + b.incomplete;
      return { start: new Date(start).toISOString(), ...b, score: judged > 0 ? b.compliant / judged : null };
    });
  return {
    version: 1,
    range: { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), bucket_ms: bucketMs },
    basis,
    basis_note: basisNote,
    score: sessionCounts.judged > 0 ? sessionCounts.compliant / sessionCounts.judged : null,
    sessions: sessionCounts,
    calls: totals,
    violations_by_rule: ranked(byRule),
    violations_by_workflow: ranked(byWorkflow),
    would_deny_by_rule: ranked(wouldByRule),
    approvals: {
      ...approvals,
      latency_ms: {
        count: latencies.length,
        p50: pct(50),
        p95: pct(95),
        max: latencies.length ? latencies[latencies.length - 1]! : null,
        mean: latencies.length ? Math.round(latencies.reduce((a, b) => a + b, 0) / latencies.length) : null,
      },
    },
    workflows,
    revisions: [...revisions.entries()]
      .map(([revision, r]) => ({ revision, ...r, violation_rate: r.calls > 0 ? r.violations / r.calls : null }))
      .sort((a, b) => (a.first_at < b.first_at ? -1 : 1)),
    over_time: overTime,
    session_states: states.slice(-500).reverse(),
  };
}

function ranked(m: Map<string, number>): Counted[] {
  return [...m.entries()]
    .map(([key, count]) => ({ key, count }))
    .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
}

/**
 * Bucket sizes the dashboard and API pick from (`5m`, `1h`, ...), in milliseconds. A Map, not an
 * object: names come from the query string, and an object would also answer `constructor`.
 */
export const BUCKETS: ReadonlyMap<string, number> = new Map([
  ['1m', 60_000],
  ['5m', 300_000],
  ['15m', 900_000],
  ['1h', 3_600_000],
  ['6h', 21_600_000],
  ['1d', 86_400_000],
  ['7d', 604_800_000],
]);

/** The smallest bucket that cuts `[from, to)` into at most `max` pieces. */
export function autoBucket(fromMs: number, toMs: number, max = 48): number {
  const span = Math.max(1, toMs - fromMs);
  for (const ms of BUCKETS.values()) if (span / ms <= max) return ms;
  return BUCKETS.get('7d')!;
}

/** The range and bucket a compliance report is asked for (`GET /admin/compliance`, `warden audit compliance`). */
export interface ComplianceQuery {
  /** ISO time, inclusive; default: the oldest session's first record (at least an hour back). */
  from?: string;
  /** ISO time, exclusive; default: now. */
  to?: string;
  /** A key of {@link BUCKETS}; default: {@link autoBucket}. */
  bucket?: string;
}

/**
 * Resolves a {@link ComplianceQuery} against the sessions to score, the same way for the admin API
 * and the CLI, so that both report the same figures for the same range.
 *
 * @throws ReportError `compliance_range_invalid` when `from` is not before `to`, the bucket is not
 * one of {@link BUCKETS}, or the range has more than 2000 buckets.
 */
export function complianceWindow(
  query: ComplianceQuery,
  sessions: readonly SessionRow[],
  nowMs: number,
): Pick<ComplianceOptions, 'fromMs' | 'toMs' | 'bucketMs'> {
  const invalid = (message: string): ReportError => new ReportError('compliance_range_invalid', message);
  const toMs = query.to ? Date.parse(query.to) : nowMs + 1;
  const earliest = sessions.reduce((min, s) => Math.min(min, Date.parse(s.first_at)), toMs - 3_600_000);
  const fromMs = query.from ? Date.parse(query.from) : earliest;
  if (!(fromMs < toMs)) throw invalid('from must be before to');
  const bucket = query.bucket ?? '';
  const bucketMs = bucket ? BUCKETS.get(bucket) : autoBucket(fromMs, toMs);
  if (bucketMs === undefined) {
    const known = `${[...BUCKETS.keys()].join(', ')} (or left out to fit the range)`;
    throw invalid(`bucket must be one of ${known}, not ${JSON.stringify(bucket.slice(0, 64))}`);
  }
  if ((toMs - fromMs) / bucketMs > MAX_BUCKETS) {
    throw invalid('too many buckets: pick a larger bucket or a shorter range');
  }
  return { fromMs, toMs, bucketMs };
}

/**
 * The compliance report for a range: {@link complianceWindow} then {@link computeCompliance}. The
 * admin API (`GET /admin/compliance`) and `warden audit compliance` both answer through it.
 *
 * @example
 * ```ts
 * await view.sync();
 * const report = await complianceReport(view.allSessions().reverse(), { from, to, bucket: '1h' }, { live, status });
 * ```
 */
export async function complianceReport(
  sessions: readonly SessionRow[],
  query: ComplianceQuery,
  options: {
    live: ComplianceOptions['live'];
    /** The policy's workflow status for a session; it may answer asynchronously (its worker). */
    status: (session: SessionRow) => WorkflowStatus | Promise<WorkflowStatus>;
    nowMs?: number;
  },
): Promise<ComplianceReport> {
  const window = complianceWindow(query, sessions, options.nowMs ?? Date.now());
  // Ask the policy first, for the sessions the report judges (those opened in range).
  const statuses = new Map<string, WorkflowStatus>();
  for (const row of sessions) {
    const opened = Date.parse(row.first_at);
    if (opened >= window.fromMs && opened < window.toMs) statuses.set(row.session_id, await options.status(row));
  }
  const outOfRange: WorkflowStatus = { available: false, revision: '', reason: 'out of range' };
  const status = (row: SessionRow): WorkflowStatus => statuses.get(row.session_id) ?? outOfRange;
  return computeCompliance(sessions, { ...window, live: options.live, status });
}
