import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { liveRecords, mergedTrail, openAuditStore, parseTimeArg, type AuditStore } from '../audit/index.js';
import { PolicyError } from '../common/index.js';
import { loadConfig, SESSION_DEFAULTS, type WardenConfig } from '../config/index.js';
import {
  composeBundles,
  DEFAULT_BUNDLE_LIMITS,
  DEFAULT_ENTRYPOINT,
  DEFAULT_EVALUATION_BUDGET,
  loadTarball,
  WorkerEngine,
  type BundleLimits,
  type LoadedBundle,
} from '../policy/index.js';
import { loadDirectoryBundle, readBundleBytes, readBundleResponse } from '../bundles/index.js';
import { openProgress } from './progress.js';
import { replayRecords, type ReplayReport } from '../reports/index.js';

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

interface ReplayOpts {
  store?: string;
  config?: string;
  bundle: string[];
  entrypoint?: string;
  since?: string;
  format: string;
  failOn?: string;
  historyWindow?: string;
  resultMaxChars?: string;
  progress?: boolean;
}

const CHANGE = /^(allow|deny|approval)-to-(allow|deny|approval)$/;

/**
 * `warden replay`: re-decide every recorded call against another bundle and report what would
 * change. Exit codes: 0 done (no `--fail-on` match), 1 a change listed in `--fail-on` was found,
 * 2 usage or load errors.
 */
export function registerReplayCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('replay')
    .description(
      'evaluate the recorded audit history against another bundle and report every decision that would change (what-if before deploy)',
    )
    .option('--store <url>', 'audit store: sqlite:PATH, postgres://… (default: the one in --config)')
    .option('-c, --config <file>', 'take the store, entrypoint and session settings from this warden.yaml')
    .requiredOption(
      '-b, --bundle <source...>',
      'the new policy: a directory, a bundle .tar.gz or an http(s) bundle URL; several as NAME=SOURCE',
    )
    .option('-e, --entrypoint <path>', `decision entrypoint (default: the config's, else ${DEFAULT_ENTRYPOINT})`)
    .option(
      '--since <time>',
      'compare only decisions from this time on (ISO 8601, or an age: 24h, 7d); sessions are still rebuilt from their start',
    )
    .option('--format <format>', 'table (for people) or json (for CI)', 'table')
    .option('--fail-on <changes>', 'exit 1 when any of these changes occur, e.g. allow-to-deny,deny-to-allow')
    .option(
      '--history-window <n>',
      `session.historyWindow the recorded Warden ran with (default: the config's, else ${SESSION_DEFAULTS.historyWindow})`,
    )
    .option(
      '--result-max-chars <n>',
      `session.resultMaxChars the recorded Warden ran with (default: the config's, else ${SESSION_DEFAULTS.resultMaxChars})`,
    )
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (opts: ReplayOpts) => {
      if (opts.format !== 'table' && opts.format !== 'json')
        throw new PolicyError('replay_usage', `--format must be table or json, not "${opts.format}"`);
      const failOn = (opts.failOn ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const bad = failOn.filter((c) => !CHANGE.test(c));
      if (bad.length)
        throw new PolicyError(
          'replay_usage',
          `--fail-on: unknown change ${bad.join(', ')}; use allow-to-deny, deny-to-allow, allow-to-approval, approval-to-allow, deny-to-approval or approval-to-deny`,
        );
      const config: WardenConfig | null = opts.config ? loadConfig(opts.config) : null;
      const storeUrl = opts.store ?? config?.audit.store;
      if (!storeUrl)
        throw new PolicyError(
          'replay_usage',
          'warden replay needs --store URL (sqlite:PATH or postgres://…) or --config FILE',
        );
      const entrypoint = opts.entrypoint ?? config?.policy.entrypoint ?? DEFAULT_ENTRYPOINT;
      // Without --config, the defaults the recorded Warden had (one place: config's SESSION_DEFAULTS).
      const recorded = config?.session ?? SESSION_DEFAULTS;
      const session = {
        historyWindow: opts.historyWindow !== undefined ? Number(opts.historyWindow) : recorded.historyWindow,
        resultMaxChars: opts.resultMaxChars !== undefined ? Number(opts.resultMaxChars) : recorded.resultMaxChars,
        ...(config?.session.tenantClaim ? { tenantClaim: config.session.tenantClaim } : {}),
      };
      const since = opts.since ? parseTimeArg(opts.since) : undefined;

      const limits = config?.policy.limits ?? DEFAULT_BUNDLE_LIMITS;
      const load = (spec: string, i: number): Promise<LoadedBundle> =>
        loadReplayBundle(spec, i, opts.bundle.length, entrypoint, limits);
      const bundles = await Promise.all(opts.bundle.map(load));
      const composed = composeBundles(bundles);
      // The same evaluation budget as the recorded Warden: a rule over it is denied here as it would be there.
      const budget = config?.policy.evaluation ?? DEFAULT_EVALUATION_BUDGET;
      const engine = await WorkerEngine.load(composed, entrypoint, { budget });

      let store: AuditStore;
      try {
        store = await openAuditStore(storeUrl, { readOnly: true });
      } catch (err) {
        await engine.close();
        throw err;
      }
      let report: ReplayReport;
      try {
        const total = liveRecords(await store.chains());
        const enabled = opts.progress !== false;
        const progress = await openProgress({ label: 'replay', unit: 'records', total, enabled });
        try {
          const onProgress = (n: number): void => progress.update(n);
          const options = { policy: engine, session, ...(since ? { since } : {}), onProgress };
          report = await replayRecords(mergedTrail(store), options);
        } finally {
          progress.stop();
        }
      } finally {
        await engine.close();
        await store.close();
      }

      const header = {
        store: redactUrl(storeUrl),
        bundle: { revision: composed.revision, source: composed.source },
        since: since ?? null,
        fail_on: failOn,
      };
      if (opts.format === 'json') io.out(JSON.stringify({ ...header, ...report }, null, 2) + '\n');
      else io.out(formatTable(report, header));
      const matched = failOn.filter((c) => (report.by_change[c] ?? 0) > 0);
      if (matched.length) {
        if (opts.format === 'table')
          io.err(`replay: --fail-on matched: ${matched.map((c) => `${c} (${report.by_change[c]})`).join(', ')}\n`);
        setExit(1);
      }
    });
}

async function loadReplayBundle(
  spec: string,
  index: number,
  count: number,
  entrypoint: string,
  limits: BundleLimits,
): Promise<LoadedBundle> {
  const eq = spec.indexOf('=');
  const named = eq > 0 && !/^https?:\/\//.test(spec.slice(0, eq + 3)) && !existsSync(spec);
  const name = named ? spec.slice(0, eq) : count > 1 ? `bundle${index + 1}` : 'policy';
  const source = named ? spec.slice(eq + 1) : spec;
  if (/^https?:\/\//.test(source)) {
    const res = await fetch(source);
    if (res.status !== 200)
      throw new PolicyError('policy_download_failed', `bundle ${source} answered ${res.status} ${res.statusText}`);
    const etag = res.headers.get('etag');
    const bytes = await readBundleResponse(res, source, limits);
    return loadTarball(bytes, { name, source, limits, ...(etag ? { etag } : {}) });
  }
  const path = resolve(source);
  if (!existsSync(path))
    throw new PolicyError(
      'policy_source_missing',
      `bundle ${path} does not exist. Fix: pass --bundle with a policy directory, a bundle .tar.gz or a bundle URL.`,
    );
  return statSync(path).isDirectory()
    ? loadDirectoryBundle({ name, dir: path, entrypoint, limits })
    : loadTarball(readBundleBytes(path, limits), { name, source: path, limits });
}

function formatTable(
  report: ReplayReport,
  header: { store: string; bundle: { revision: string; source: string }; since: string | null },
): string {
  const lines: string[] = [];
  const kinds = Object.entries(report.by_change).map(([k, n]) => `${n} ${k.replace('-to-', '→')}`);
  lines.push(
    `replay of ${header.store}${header.since ? ` since ${header.since}` : ''} against ${header.bundle.source} (revision ${header.bundle.revision})`,
    `${report.decisions} decisions in ${report.sessions} sessions: ${report.changed} would change${kinds.length ? ` (${kinds.join(', ')})` : ''}; ${report.decisions_per_second} decisions/s`,
  );
  if (report.changes.length) {
    const rows = report.changes.map((c) => [
      c.session_id.slice(0, 8),
      String(c.seq),
      c.tool,
      `${c.old} → ${c.new}`,
      (c.new_rules.length ? c.new_rules : c.old_rules).join(', ') || (c.error ? `error: ${c.error}` : '-'),
    ]);
    const head = ['SESSION', 'SEQ', 'TOOL', 'OLD → NEW', 'RULES'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (r: string[]): string =>
      r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
    lines.push('', fmt(head), ...rows.map(fmt));
  }
  const inexact = report.inexact;
  const notes: string[] = [];
  if (inexact.annotations_missing)
    notes.push(
      `${inexact.annotations_missing} calls were recorded without tool annotations (rules on input.call.annotations see {})`,
    );
  if (inexact.truncated_results)
    notes.push(
      `${inexact.truncated_results} results were kept truncated in the trail (their history entries hold the preview)`,
    );
  if (inexact.sessions_without_open)
    notes.push(`${inexact.sessions_without_open} sessions have no session.opened record (principal unknown)`);
  if (notes.length) lines.push('', ...notes.map((n) => `note: ${n}`));
  return lines.join('\n') + '\n';
}

function redactUrl(url: string): string {
  return url.replace(/:[^:@/]*@/, ':***@');
}
