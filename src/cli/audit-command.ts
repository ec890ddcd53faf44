import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Option, type Command } from 'commander';
import {
  archiveBefore,
  csvHeader,
  formatRecordLine,
  listArchives,
  liveRecords,
  openAuditStore,
  parseTimeArg,
  recordLine,
  toCsvLine,
  verifyChain,
  verifyStore,
  type AuditQuery,
  type AuditRecord,
  type ChainStore,
  type VerifyOptions,
  type VerifyResult,
} from '../audit/index.js';
import { AuditError } from '../common/index.js';
import { loadConfig, SESSION_DEFAULTS, type WardenConfig } from '../config/index.js';
import { DEFAULT_ENTRYPOINT, PolicyRuntime } from '../policy/index.js';
import { openPolicyRuntime, policyRuntimeForSource, runtimeSpecFromConfig } from '../bundles/index.js';
import {
  AuditView,
  BUCKETS,
  buildSessionReport,
  complianceReport,
  evaluateWorkflowStatus,
  formatComplianceReport,
  formatSessionReport,
  inputFromRecords,
  type SessionRow,
  type WorkflowStatus,
} from '../reports/index.js';
import { openProgress } from './progress.js';

export interface AuditCommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Options of `warden audit compliance`. */
export interface ComplianceOpts extends StoreSelection {
  since?: string;
  until?: string;
  bucket?: string;
  bundle?: string;
  json?: boolean;
}

/** Options of every `warden audit` subcommand that pick the store. */
export interface StoreSelection {
  store?: string;
  config?: string;
}

/** What a Warden config says about its audit trail, for the commands that read it. */
export interface ResolvedAudit {
  store: string;
  /** `audit.retention.archiveDir`: where `verify` looks for archives when none are given. */
  archiveDir?: string;
  /** `audit.checkpointEvery`: the tolerance `verify --public-key` allows after the last signed checkpoint. */
  checkpointEvery?: number;
  /** `audit.signingKey` (a file): `archive` signs its base checkpoint (and its closing checkpoint) with it. */
  signingKey?: string;
}

/**
 * Maps `--config FILE` (or nothing) to a store URL, or to the config's audit settings, when
 * `--store` is absent; the serve command's config loader provides it.
 */
export type ResolveStore = (
  opts: StoreSelection,
) => string | ResolvedAudit | undefined | Promise<string | ResolvedAudit | undefined>;

export interface AuditCommandOptions {
  resolveStore?: ResolveStore;
  io?: AuditCommandIo;
  /** Raises the process exit code (1: the chain is broken). Defaults to `process.exitCode`. */
  setExit?: (code: number) => void;
  /** Stops `tail` (tests); SIGINT and SIGTERM stop it too. */
  signal?: AbortSignal;
}

const PAGE = 1000;

const BUCKET_NAMES = [...BUCKETS.keys()];

/** A policy the CLI only reads: no status or control file, nothing watched. */
const READ_ONLY_POLICY = { statusFile: undefined, watch: false };

const NO_POLICY_STATUS: WorkflowStatus = {
  available: false,
  revision: '',
  reason: 'no policy was given, so workflow completion cannot be judged; pass --config FILE or --bundle DIR',
};

/** `audit.checkpointEvery`'s default in a Warden config (schema/warden.schema.json). */
const CONFIG_CHECKPOINT_EVERY = 100;

/** Options of `warden audit export`. */
export interface ExportOpts {
  format: 'jsonl' | 'csv';
  session?: string;
  since?: string;
  until?: string;
  progress?: boolean;
}

const defaultIo: AuditCommandIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/** The line `verify` prints for a chain that verifies: what was checked, and what a key vouches for. */
function okLine(result: Extract<VerifyResult, { ok: true }>, keyed: boolean, archives: number): string {
  const range = result.count > 0 ? ` (seq ${result.first_seq}..${result.last_seq})` : '';
  const n = result.checkpoints;
  const cps = `${n} checkpoint${n === 1 ? '' : 's'}${keyed ? `, ${result.signed_checkpoints} signed` : ''}`;
  const files = archives ? `, ${archives} archive file(s)` : '';
  const signedBase = result.base.attested_by === 'signature';
  const base = signedBase ? `; base seq ${result.base.seq} attested by a signed base checkpoint` : '';
  const last = result.last_seq ?? result.base.seq;
  const through = result.signed_through;
  const tail =
    keyed && through !== null && last > through
      ? `; records ${through + 1}..${last} are not covered by a signed checkpoint yet (the next one covers them)`
      : '';
  return `ok: ${result.count} records verified${range}, ${cps}${files}${base}${tail}\n`;
}

/** What every `warden audit` action needs besides its options: where to write, how to fail, where the store is. */
export interface AuditDeps {
  io: AuditCommandIo;
  /** Raises the process exit code (1: the chain is broken). */
  setExit: (code: number) => void;
  resolveStore?: ResolveStore;
  /** Stops `tail` (tests); SIGINT and SIGTERM stop it too. */
  signal?: AbortSignal;
}

/**
 * `warden audit verify|export|tail|report|compliance|archive`. Exit codes: 0 ok, 1 the chain is broken
 * (verify), 2 the store could not be read or a usage error (thrown `AuditError`s; `main` maps them).
 *
 * Configure the program (exitOverride, configureOutput) before calling this: subcommands inherit
 * those settings when they are created.
 *
 * @example
 * ```ts
 * registerAuditCommands(program, { io, setExit, resolveStore: ({ config }) => loadConfig(config).audit.store });
 * // also accepted, like registerPolicyCommands: registerAuditCommands(program, io, setExit)
 * ```
 */
export function registerAuditCommands(
  program: Command,
  ioOrOptions?: AuditCommandIo | AuditCommandOptions,
  setExitArg?: (code: number) => void,
  more: AuditCommandOptions = {},
): Command {
  const deps = auditDeps(ioOrOptions, setExitArg, more);
  const audit = program.command('audit').description('check, export, follow and report the tamper-evident audit trail');
  registerVerify(audit, deps);
  registerExport(audit, deps);
  registerTail(audit, deps);
  registerReport(audit, deps);
  registerCompliance(audit, deps);
  registerArchive(audit, deps);
  return audit;
}

/** `registerAuditCommands`' arguments, in either of their two shapes, with the defaults filled in. */
export function auditDeps(
  ioOrOptions: AuditCommandIo | AuditCommandOptions | undefined,
  setExitArg: ((code: number) => void) | undefined,
  more: AuditCommandOptions,
): AuditDeps {
  const positional = !!ioOrOptions && typeof (ioOrOptions as AuditCommandIo).out === 'function';
  const options: AuditCommandOptions = positional
    ? { ...more, io: ioOrOptions as AuditCommandIo }
    : { ...(ioOrOptions as AuditCommandOptions | undefined), ...more };
  const setExit =
    setExitArg ??
    options.setExit ??
    ((code: number): void => {
      process.exitCode = Math.max(Number(process.exitCode ?? 0), code);
    });
  return {
    io: options.io ?? defaultIo,
    setExit,
    ...(options.resolveStore ? { resolveStore: options.resolveStore } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
}

/** Adds the store options every command reading the trail takes: `--store URL` or `--config FILE`. */
export function withStore(cmd: Command): Command {
  return cmd
    .option('-s, --store <url>', 'audit store: sqlite:PATH or postgres://… (default: from --config)')
    .option('-c, --config <file>', 'read audit.store from this Warden config');
}

async function resolveAudit(opts: StoreSelection, deps: AuditDeps): Promise<ResolvedAudit | undefined> {
  if (opts.store) return { store: opts.store };
  const found = deps.resolveStore ? await deps.resolveStore(opts) : undefined;
  return typeof found === 'string' ? { store: found } : found;
}

/** Opens the store `--store` names, or the one `--config` configures; read-only unless `writable`. */
export async function openStore(
  opts: StoreSelection,
  deps: AuditDeps,
  writable = false,
  resolved?: ResolvedAudit,
  signingKey?: string,
): Promise<ChainStore> {
  const url = (resolved ?? (await resolveAudit(opts, deps)))?.store;
  if (!url) {
    throw new AuditError(
      'audit_store_missing',
      opts.config && !deps.resolveStore
        ? '--config is not supported by this build of the audit commands; pass --store sqlite:PATH or postgres://…'
        : 'no audit store given; pass --store sqlite:PATH or postgres://… (or --config FILE)',
    );
  }
  const signing = signingKey ? { signingKey: readFileSync(signingKey, 'utf8') } : {};
  return openAuditStore(url, { readOnly: !writable, ...signing });
}

/**
 * Pages of the records matching `query`, chain by chain, each past its cursor in `after` (0 when
 * absent); `after` is moved along as pages are read, so a caller can poll again from where it was.
 */
async function* pages(
  store: ChainStore,
  query: AuditQuery,
  after = new Map<string, number>(),
): AsyncGenerator<AuditRecord[]> {
  for (const { chain } of await store.chains()) {
    for (;;) {
      const page = await store.read({ ...query, chain, sinceSeq: after.get(chain) ?? 0, limit: PAGE });
      if (page.length === 0) break;
      yield page;
      after.set(chain, page[page.length - 1]!.seq);
      if (page.length < PAGE) break;
    }
  }
}

/** Options of `warden audit verify`. */
export type VerifyOpts = StoreSelection & {
  archive?: string[];
  archiveDir?: string;
  publicKey?: string;
  checkpointEvery?: string;
  json?: boolean;
  progress?: boolean;
};

function registerVerify(audit: Command, deps: AuditDeps): void {
  withStore(
    audit
      .command('verify')
      .description('check the hash chain; exit 1 naming the first bad record and what is wrong with it')
      .option('-a, --archive <file...>', 'archive files written by retention, checked before the store')
      .option('--archive-dir <dir>', 'check the audit-<from>-<to>.jsonl archives in this directory (or from --config)')
      .option('--public-key <file>', 'Ed25519 public key (PEM): checkpoints must be signed, one near the head')
      .option('--checkpoint-every <n>', "the writer's audit.checkpointEvery (default: from --config, else 100)")
      .option('--json', 'print the result as JSON')
      .option('--no-progress', 'no progress bar on stderr (there is none unless stderr is a terminal)'),
  ).action((opts: VerifyOpts) => auditVerify(opts, deps));
}

/** `warden audit verify`: checks the archives, then the store; a broken chain prints FAILED and sets exit 1. */
export async function auditVerify(opts: VerifyOpts, deps: AuditDeps): Promise<void> {
  const { io, setExit } = deps;
  const storeGiven = !!(opts.store || opts.config || deps.resolveStore);
  const given = [...(opts.archive ?? []), ...(opts.archiveDir ? listArchives(opts.archiveDir) : [])];
  const resolved = storeGiven || given.length === 0 ? await resolveAudit(opts, deps) : undefined;
  // With --config and no archive named, the configured archive directory is where retention put them.
  const found = given.length === 0 && !opts.archiveDir && resolved?.archiveDir;
  const archives = found ? listArchives(found) : given;
  const configured = resolved?.checkpointEvery ?? CONFIG_CHECKPOINT_EVERY;
  const every = opts.checkpointEvery === undefined ? configured : Number(opts.checkpointEvery);
  if (!(Number.isSafeInteger(every) && every > 0)) {
    const got = JSON.stringify(opts.checkpointEvery);
    throw new AuditError('audit_store_options_invalid', `--checkpoint-every must be a positive integer, got ${got}`);
  }
  const publicKey = opts.publicKey ? readFileSync(opts.publicKey, 'utf8') : undefined;
  const store = storeGiven || given.length === 0 ? await openStore(opts, deps, false, resolved) : null;
  try {
    const keyed = publicKey ? { publicKey } : {};
    if (store && (await holdsChains(store))) {
      await verifyWhole(store, { archives, checkpointEvery: every, ...keyed }, opts, deps);
      return;
    }
    const total = store ? ((await store.head())?.seq ?? 0) : 0;
    const progress = await openProgress({
      label: 'verify',
      unit: 'records',
      total,
      enabled: opts.progress !== false,
    });
    let result: VerifyResult;
    try {
      const onProgress = (seq: number): void => progress.update(seq);
      result = await verifyChain(store, { archives, checkpointEvery: every, ...keyed, onProgress });
    } finally {
      progress.stop();
    }
    if (opts.json) io.out(JSON.stringify(result) + '\n');
    if (result.ok) {
      if (!opts.json) io.out(okLine(result, !!publicKey, archives.length));
    } else {
      io.err(`FAILED: record ${result.seq} ${result.problem}: ${result.detail} [${result.source}]\n`);
      setExit(1);
    }
  } finally {
    await store?.close();
  }
}

/** Whether the store holds chains per replica (audit.chain: instance) or ties, so verify reports each chain. */
async function holdsChains(store: ChainStore): Promise<boolean> {
  const chains = await store.chains();
  return chains.some(({ chain }) => chain !== '') || (await store.ties()).length > 0;
}

/** `warden audit verify` over a store of many chains: each chain's line, the ties' line, and the whole. */
async function verifyWhole(
  store: ChainStore,
  options: VerifyOptions,
  opts: VerifyOpts,
  deps: AuditDeps,
): Promise<void> {
  const { io, setExit } = deps;
  const whole = await verifyStore(store, options);
  if (opts.json) io.out(JSON.stringify(whole) + '\n');
  const name = (chain: string): string => (chain === '' ? 'shared chain ""' : `chain "${chain}"`);
  for (const { chain, result } of whole.chains) {
    if (result.ok) {
      if (!opts.json)
        io.out(
          `${name(chain)}: ${okLine(result, !!options.publicKey, chain === '' ? (options.archives?.length ?? 0) : 0)}`,
        );
    } else {
      io.err(`FAILED: ${name(chain)}: record ${result.seq} ${result.problem}: ${result.detail} [${result.source}]\n`);
    }
  }
  const { count, signed, failure } = whole.ties;
  if (failure) {
    io.err(`FAILED: ${name(failure.chain)}: record ${failure.seq} ${failure.problem}: ${failure.detail} [ties]\n`);
  } else if (!opts.json) {
    io.out(`ties: ok: ${count} tie${count === 1 ? '' : 's'} checked${options.publicKey ? `, ${signed} signed` : ''}\n`);
  }
  const bad = whole.chains.filter(({ result }) => !result.ok).length;
  if (whole.ok) {
    if (!opts.json) io.out(`ok: the whole trail verifies (${whole.chains.length} chains, ${count} ties)\n`);
  } else {
    const tie = failure ? ', and a tie' : '';
    io.err(`FAILED: the trail does not verify (${bad} of ${whole.chains.length} chains failed${tie})\n`);
    setExit(1);
  }
}

function registerExport(audit: Command, deps: AuditDeps): void {
  withStore(
    audit
      .command('export')
      .description('write records to stdout as JSON lines or CSV')
      .addOption(new Option('-f, --format <format>', 'output format').choices(['jsonl', 'csv']).default('jsonl'))
      .option('--session <id>', 'only this session')
      .option('--since <time>', 'records at or after this time (ISO 8601, or an age such as 24h, 7d)')
      .option('--until <time>', 'records before this time')
      .option('--no-progress', 'no progress bar on stderr (there is none unless stderr is a terminal)'),
  ).action((opts: StoreSelection & ExportOpts) => auditExport(opts, deps));
}

/** `warden audit export`: the records the options select, as JSON lines or CSV. */
export async function auditExport(opts: StoreSelection & ExportOpts, deps: AuditDeps): Promise<void> {
  const { io } = deps;
  const query: AuditQuery = {
    ...(opts.session ? { session: opts.session } : {}),
    ...(opts.since ? { since: parseTimeArg(opts.since) } : {}),
    ...(opts.until ? { until: parseTimeArg(opts.until) } : {}),
  };
  const store = await openStore(opts, deps);
  // Counted in positions of the chains (seq), so a filtered export moves along as it reads.
  const chains = await store.chains();
  const total = liveRecords(chains);
  const progress = await openProgress({ label: 'export', unit: 'records', total, enabled: opts.progress !== false });
  try {
    if (opts.format === 'csv') io.out(csvHeader());
    // Where each chain's positions start in the total: the chains are read one after the other.
    const offsets = new Map<string, number>();
    chains.reduce((n, c) => (offsets.set(c.chain, n - c.base.seq), n + c.head.seq - c.base.seq), 0);
    for await (const page of pages(store, query)) {
      io.out(page.map((r) => (opts.format === 'csv' ? toCsvLine(r) : recordLine(r) + '\n')).join(''));
      const last = page[page.length - 1]!;
      progress.update((offsets.get(last.chain ?? '') ?? 0) + last.seq);
    }
  } finally {
    progress.stop();
    await store.close();
  }
}

/** Options of `warden audit tail`. */
export type TailOpts = StoreSelection & {
  fromStart?: boolean;
  lines: string;
  session?: string;
  format: 'text' | 'jsonl';
  interval: string;
};

function registerTail(audit: Command, deps: AuditDeps): void {
  withStore(
    audit
      .command('tail')
      .description('follow new records as they are written (Ctrl-C to stop)')
      .option('--from-start', 'print every existing record first')
      .option('-n, --lines <n>', 'print the last N existing records first (not with --session)', '10')
      .option('--session <id>', 'only this session')
      .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'jsonl']).default('text'))
      .option('--interval <ms>', 'poll interval in milliseconds', '500'),
  ).action((opts: TailOpts) => auditTail(opts, deps));
}

/** `warden audit tail`: recent records, then new ones as they come, until `deps.signal`, SIGINT or SIGTERM. */
export async function auditTail(opts: TailOpts, deps: AuditDeps): Promise<void> {
  const { io, signal } = deps;
  const interval = Math.max(20, Number(opts.interval) || 500);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  signal?.addEventListener('abort', onSignal, { once: true });
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const store = await openStore(opts, deps);
  const show = (r: AuditRecord): void =>
    io.out(opts.format === 'jsonl' ? JSON.stringify(r) + '\n' : formatRecordLine(r));
  const base: AuditQuery = opts.session ? { session: opts.session } : {};
  try {
    // One cursor per chain (a store written with audit.chain: instance holds one per replica).
    const after = new Map<string, number>();
    if (!opts.fromStart) {
      const heads = new Map((await store.chains()).map(({ chain, head }) => [chain, head.seq]));
      // Like tail(1): some recent context first (the last N of each chain). With --session, only what comes next.
      const back = opts.session ? 0 : Math.max(0, Math.floor(Number(opts.lines) || 0));
      for (const [chain, head] of heads) after.set(chain, Math.max(0, head - back));
      for await (const page of pages(store, base, after)) {
        for (const r of page) if (r.seq <= (heads.get(r.chain ?? '') ?? 0)) show(r);
      }
      for (const [chain, head] of heads) after.set(chain, head);
    }
    while (!stop.signal.aborted && !signal?.aborted) {
      for await (const page of pages(store, base, after)) page.forEach(show);
      try {
        await sleep(interval, undefined, { signal: stop.signal });
      } catch {
        break; // aborted
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    signal?.removeEventListener('abort', onSignal);
    await store.close();
  }
}

/** Options of `warden audit report`. */
export type ReportOpts = StoreSelection & { session: string; format: 'text' | 'json' };

function registerReport(audit: Command, deps: AuditDeps): void {
  withStore(
    audit
      .command('report')
      .description(
        "one session's calls: received, decided (allow/deny, reasons), approvals, completed (outcome, duration)",
      )
      .requiredOption('--session <id>', 'the session to report')
      .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json']).default('text')),
  ).action((opts: ReportOpts) => auditReport(opts, deps));
}

/** `warden audit report`: one session's trace, as text or JSON (an unknown session is an error in JSON). */
export async function auditReport(opts: ReportOpts, deps: AuditDeps): Promise<void> {
  const { io } = deps;
  const store = await openStore(opts, deps);
  try {
    const records: AuditRecord[] = [];
    for await (const page of pages(store, { session: opts.session })) records.push(...page);
    const report = buildSessionReport(opts.session, records);
    if (opts.format === 'json') {
      if (records.length === 0)
        throw new AuditError('audit_session_unknown', `no audit records for session "${opts.session}"`);
      io.out(JSON.stringify(report, null, 2) + '\n');
    } else {
      io.out(formatSessionReport(report));
    }
  } finally {
    await store.close();
  }
}

function registerCompliance(audit: Command, deps: AuditDeps): void {
  withStore(
    audit
      .command('compliance')
      .description('score compliance over a range of the trail: the figures of GET /admin/compliance')
      .option('--since <time>', 'from this time (ISO 8601, or an age such as 24h, 7d; default: the oldest session)')
      .option('--until <time>', 'up to this time, exclusive (default: now)')
      .addOption(new Option('--bucket <size>', 'interval of over_time (default: 48 at most)').choices(BUCKET_NAMES))
      .option('-b, --bundle <source>', "judge workflows by this policy: directory, .tar.gz, URL (default: --config's)")
      .option('--json', "print the report as JSON, in the admin API's shape"),
  ).action((opts: ComplianceOpts) => auditCompliance(opts, deps));
}

/**
 * `warden audit compliance`: the figures of `GET /admin/compliance` over the options' range. Workflows
 * are judged by `--bundle` or the config's policy; with neither, their completion is reported unavailable.
 */
export async function auditCompliance(opts: ComplianceOpts, deps: AuditDeps): Promise<void> {
  const { io } = deps;
  const query = {
    ...(opts.since ? { from: parseTimeArg(opts.since) } : {}),
    ...(opts.until ? { to: parseTimeArg(opts.until) } : {}),
    ...(opts.bucket ? { bucket: opts.bucket } : {}),
  };
  const config = opts.config ? loadConfig(opts.config) : null;
  const policy = await openPolicy(config, opts.bundle);
  const store = await openStore(opts, deps);
  try {
    const view = new AuditView(store);
    await view.sync();
    const sessions = view.allSessions().reverse();
    const session = config?.session ?? SESSION_DEFAULTS;
    const status = (row: SessionRow): WorkflowStatus | Promise<WorkflowStatus> =>
      policy ? evaluateWorkflowStatus(policy, inputFromRecords(row, session)) : NO_POLICY_STATUS;
    // The CLI cannot see which sessions a Warden is serving: one the trail has not closed counts as open.
    const live = new Set(sessions.filter((s) => s.closed_at === null).map((s) => s.session_id));
    const report = await complianceReport(sessions, query, { live, status });
    io.out(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatComplianceReport(report));
  } finally {
    policy?.stop();
    await store.close();
  }
}

/** Options of `warden audit archive`. */
export type ArchiveOpts = StoreSelection & { dir: string; olderThan?: string; beforeSeq?: string; signingKey?: string };

function registerArchive(audit: Command, deps: AuditDeps): void {
  withStore(
    audit
      .command('archive')
      .description('move old records to a JSONL archive file with their chain proof (retention)')
      .requiredOption('-d, --dir <dir>', 'archive directory (files are named audit-<from>-<to>.jsonl)')
      .option('--older-than <age>', 'archive records older than this age (e.g. 90d)')
      .option('--before-seq <seq>', 'archive records with a smaller seq')
      .option('--signing-key <file>', 'Ed25519 private key (PEM) to sign the base checkpoint (or from --config)'),
  ).action((opts: ArchiveOpts) => auditArchive(opts, deps));
}

/** `warden audit archive`: moves the records before a seq or an age out of the store, into `opts.dir`. */
export async function auditArchive(opts: ArchiveOpts, deps: AuditDeps): Promise<void> {
  const { io } = deps;
  if (!opts.olderThan === !opts.beforeSeq) {
    throw new AuditError('audit_archive_invalid', 'give exactly one of --older-than AGE (e.g. 90d) or --before-seq N');
  }
  const resolved = await resolveAudit(opts, deps);
  // Signed, the base checkpoint lets the store alone prove where it now starts (verify --public-key).
  const store = await openStore(opts, deps, true, resolved, opts.signingKey ?? resolved?.signingKey);
  try {
    const cutoff = opts.beforeSeq ? Number(opts.beforeSeq) : parseTimeArg(opts.olderThan!);
    const result = await archiveBefore(store, cutoff, ({ from_seq, to_seq }) =>
      join(opts.dir, `audit-${from_seq}-${to_seq}.jsonl`),
    );
    io.out(
      result
        ? `archived records ${result.from_seq}..${result.to_seq} (${result.count}) to ${result.file}\n`
        : 'nothing to archive\n',
    );
  } finally {
    await store.close();
  }
}

/**
 * The policy that judges workflows: `--bundle`, else the config's `policy`. It is only read: no
 * status file is written and nothing is watched, so a running Warden's files are left alone.
 */
async function openPolicy(config: WardenConfig | null, bundle: string | undefined): Promise<PolicyRuntime | null> {
  const entrypoint = config?.policy.entrypoint ?? DEFAULT_ENTRYPOINT;
  let runtime: PolicyRuntime;
  if (bundle) runtime = policyRuntimeForSource(/^https?:\/\//.test(bundle) ? bundle : resolve(bundle), entrypoint);
  else if (config) runtime = openPolicyRuntime(runtimeSpecFromConfig(config, READ_ONLY_POLICY));
  else return null;
  await runtime.start();
  return runtime;
}
