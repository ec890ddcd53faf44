import type { ComplianceReport, Counted } from './compliance.js';

/**
 * A {@link ComplianceReport} for people (`warden audit compliance`): the score, sessions by state,
 * calls, violations and would-deny rules, approvals, and the per-workflow and per-revision lines.
 * `--json` prints the report itself, in the admin API's shape.
 */
export function formatComplianceReport(report: ComplianceReport): string {
  const { sessions: s, calls: c, approvals: a, range } = report;
  const out = [`compliance ${range.from} .. ${range.to} (bucket ${duration(range.bucket_ms)}), basis ${report.basis}`];
  if (report.basis_note) out.push(`  note: ${report.basis_note}`);
  out.push(
    `  score      ${percent(report.score)} (${s.compliant} compliant of ${s.judged} judged)`,
    `  sessions   ${s.total}: ${s.compliant} compliant, ${s.violating} violating, ${s.incomplete} incomplete, ` +
      `${s.in_progress} in progress, ${s.ungoverned} ungoverned`,
    `  calls      ${c.calls}: ${c.allowed} allowed, ${c.denied} denied, ${c.held} held; ` +
      `${c.violations} violations, ${c.would_deny} would deny, ${c.policy_errors} policy errors`,
    `  approvals  ${a.requested} requested: ${a.approved} approved, ${a.declined} declined, ` +
      `${a.cancelled} cancelled, ${a.timed_out} timed out, ${a.unavailable} unavailable, ${a.pending} pending`,
  );
  const latency = a.latency_ms;
  if (latency.count > 0) {
    out.push(`             answered in ${latency.p50} ms (p50), ${latency.p95} ms (p95), ${latency.max} ms (max)`);
  }
  out.push(
    `  violations by rule      ${counted(report.violations_by_rule)}`,
    `  violations by workflow  ${counted(report.violations_by_workflow)}`,
    `  would deny by rule      ${counted(report.would_deny_by_rule)}`,
  );
  if (report.workflows.length > 0) {
    out.push('', row(WORKFLOW_COLUMNS, WORKFLOW_HEADER));
    for (const w of report.workflows) {
      const counts = [w.sessions_started, w.completed, w.completed_clean, w.in_progress, w.sessions_with_violations];
      out.push(row(WORKFLOW_COLUMNS, [w.workflow, ...counts.map(String), percent(w.score)]));
    }
  }
  if (report.revisions.length > 0) {
    out.push('', row(REVISION_COLUMNS, ['revision', 'calls', 'violations', 'rate', 'first .. last']));
    for (const r of report.revisions) {
      const when = `${r.first_at} .. ${r.last_at}`;
      out.push(
        row(REVISION_COLUMNS, [r.revision, String(r.calls), String(r.violations), percent(r.violation_rate), when]),
      );
    }
  }
  return out.join('\n') + '\n';
}

const WORKFLOW_HEADER = ['workflow', 'started', 'completed', 'clean', 'in progress', 'with violations', 'score'];
const WORKFLOW_COLUMNS = [26, 9, 11, 7, 13, 17, 0];
const REVISION_COLUMNS = [26, 7, 12, 7, 0];

/** One indented table row: each cell padded to its column's width. */
function row(widths: readonly number[], cells: readonly string[]): string {
  return '  ' + cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('');
}

function percent(value: number | null): string {
  return value === null ? '—' : `${Math.round(value * 1000) / 10}%`;
}

function counted(list: Counted[]): string {
  return list.length ? list.map((x) => `${x.key} ${x.count}`).join(', ') : '—';
}

function duration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${ms / 60_000}m`;
}
