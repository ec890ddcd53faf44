import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { PolicyError } from '../common/index.js';
import { loadConfig } from '../config/index.js';
import {
  DEFAULT_ENTRYPOINT,
  DEFAULT_EVALUATION_BUDGET,
  type ControlRequest,
  type PolicyStatus,
  definedOptionalEntrypoints,
  OPTIONAL_ENTRYPOINTS,
  WorkerEngine,
} from '../policy/index.js';
import {
  buildBundleFile,
  DEFAULT_COVERAGE_MIN,
  DEFAULT_POLICY_DIRS,
  formatCoverage,
  formatLintProblem,
  lintPolicies,
  loadBundleSource,
  POLICY_CONTROL_FILE,
  POLICY_STATUS_FILE,
  policyStatusFile,
  runOpa,
  runPolicyTests,
  snapshotDirectory,
} from '../bundles/index.js';
import { settleVerdict } from '../proxy/index.js';

const BUDGET = DEFAULT_EVALUATION_BUDGET;

interface EvalOpts {
  input: string;
  bundle: string;
  entrypoint: string;
  mode: string;
  explain?: boolean;
  timeoutMs: number;
  maxMemoryMb: number;
}

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** `warden policy build|test|eval|fmt|lint|status|rollback|reload`. Exit codes: 0 ok, 1 failures found, 2 usage or tool errors. */
export function registerPolicyCommands(program: Command, io: Io, setExit: (code: number) => void): void {
  const policy = program.command('policy').description('build, test, evaluate and lint Rego policies');

  policy
    .command('build')
    .description('compile Rego (+ data files) to a Wasm bundle with opa build -t wasm')
    .argument('[dir]', 'policy directory', 'policy')
    .option('-o, --output <file>', 'bundle file to write', 'bundle.tar.gz')
    .option('-r, --revision <rev>', 'bundle revision (default: a hash of the sources)')
    .option(
      '-e, --entrypoint <path...>',
      `entrypoints to compile (default: ${DEFAULT_ENTRYPOINT}, plus ${OPTIONAL_ENTRYPOINTS.join(' and ')} when the policy defines them)`,
    )
    .option(
      '--signing-key <keyOrSecret>',
      'sign the bundle (.signatures.json): PEM private key file, or the HMAC secret',
    )
    .option('--signing-alg <alg>', 'RS256, ES256, EdDSA, HS256, … (with --signing-key)', 'RS256')
    .option('--claims-file <file>', 'extra JWT claims (keyid, scope) for the signature')
    .action(
      async (
        dir: string,
        opts: {
          output: string;
          revision?: string;
          entrypoint?: string[];
          signingKey?: string;
          signingAlg: string;
          claimsFile?: string;
        },
      ) => {
        const out = resolve(opts.output);
        // As Warden compiles a policy directory itself: the decision, and the optional read-only
        // entrypoints (workflow status, decision-log masks) that this policy defines.
        const entrypoints = opts.entrypoint ?? [
          DEFAULT_ENTRYPOINT,
          ...definedOptionalEntrypoints(snapshotDirectory(resolve(dir))),
        ];
        const { revision } = await buildBundleFile({
          dir: resolve(dir),
          entrypoints,
          out,
          ...(opts.revision ? { revision: opts.revision } : {}),
          ...(opts.signingKey
            ? {
                signingKey: existsSync(opts.signingKey) ? resolve(opts.signingKey) : opts.signingKey,
                signingAlg: opts.signingAlg,
              }
            : {}),
          ...(opts.claimsFile ? { claimsFile: resolve(opts.claimsFile) } : {}),
        });
        io.out(
          `built ${out} (revision ${revision}, entrypoints ${entrypoints.join(', ')}${opts.signingKey ? `, signed ${opts.signingAlg}` : ''})\n`,
        );
      },
    );

  policy
    .command('test')
    .description(
      'run opa test over policies and their tests, with a line-coverage threshold over the policy files (test files do not count)',
    )
    .argument('[dirs...]', 'directories with policies and tests', [...DEFAULT_POLICY_DIRS])
    .option(
      '--coverage-min <percent>',
      'fail below this line coverage of the policy files (0 disables)',
      parsePercent,
      DEFAULT_COVERAGE_MIN,
    )
    .option('-r, --run <regex>', 'only tests whose name matches')
    .action(async (dirs: string[], opts: { coverageMin: number; run?: string }) => {
      const result = await runPolicyTests({
        dirs,
        coverageMin: opts.coverageMin,
        ...(opts.run ? { run: opts.run } : {}),
      });
      io.out(result.output);
      if (result.stderr) io.err(result.stderr);
      io.out(`${result.passed} passed, ${result.failed} failed\n`);
      if (result.coverage) io.out(`${formatCoverage(result.coverage)}\n`);
      for (const problem of result.problems) io.err(`${problem}\n`);
      if (!result.ok) setExit(1);
    });

  policy
    .command('eval')
    .description('print the decision for one input document, as Warden would enforce it')
    .requiredOption('-i, --input <file>', 'input document (JSON)')
    .option('-b, --bundle <dirOrFile>', 'policy directory or bundle .tar.gz', 'policy')
    .option('-e, --entrypoint <path>', 'decision entrypoint', DEFAULT_ENTRYPOINT)
    .option('--mode <mode>', 'enforce or monitor', 'enforce')
    .option('--explain', 'also print which rules fired and the effective verdict')
    .option('--timeout-ms <ms>', 'time budget (policy.evaluation.timeoutMs)', parseBudget(1, 600_000), BUDGET.timeoutMs)
    .option('--max-memory-mb <mb>', 'memory (policy.evaluation.maxMemoryMb)', parseBudget(32, 4096), BUDGET.maxMemoryMb)
    .action(async (opts: EvalOpts) => {
      const input = JSON.parse(readFileSync(resolve(opts.input), 'utf8')) as unknown;
      const source = resolve(opts.bundle);
      if (!existsSync(source))
        throw new PolicyError(
          'policy_source_missing',
          `policy ${source} does not exist. Fix: pass --bundle with a policy directory or a bundle .tar.gz.`,
        );
      // As `warden serve` evaluates: in a worker thread, within the budget (an endless rule is denied, not hung on).
      const budget = { timeoutMs: opts.timeoutMs, maxMemoryMb: opts.maxMemoryMb };
      const bundle = await loadBundleSource(source, opts.entrypoint);
      const engine = await WorkerEngine.load(bundle, opts.entrypoint, { budget });
      const evaluation = await engine.evaluate(input).finally(() => engine.close());
      if (!opts.explain) {
        io.out(JSON.stringify(evaluation.error ? evaluation.decision : evaluation.result, null, 2) + '\n');
      } else {
        const mode = opts.mode === 'monitor' ? 'monitor' : 'enforce';
        const verdict = settleVerdict(evaluation, mode, 'Approval is obtained through the approval gate.');
        const fired = [
          ...evaluation.decision.reasons.map((r) => ({ rule: r.rule, effect: 'deny', message: r.message })),
          ...evaluation.decision.monitored.map((r) => ({
            rule: r.rule,
            effect: 'would deny (monitor)',
            message: r.message,
          })),
          ...Object.entries(evaluation.decision.obligations).map(([name, value]) => ({
            rule: `obligation.${name}`,
            effect: 'obligation',
            message: JSON.stringify(value),
          })),
        ];
        io.out(
          JSON.stringify(
            {
              revision: evaluation.revision,
              decision: evaluation.decision,
              fired,
              verdict: { allow: verdict.allow, reasons: verdict.reasons },
              ...(evaluation.error ? { error: evaluation.error } : {}),
              eval_ns: evaluation.evalNs,
            },
            null,
            2,
          ) + '\n',
        );
      }
      if (evaluation.error) setExit(1);
    });

  policy
    .command('fmt')
    .description('format Rego with opa fmt (--check to only list unformatted files)')
    .argument('[dirs...]', 'directories', ['policy', 'policy-tests'])
    .option('--check', 'list unformatted files and fail instead of rewriting')
    .action(async (dirs: string[], opts: { check?: boolean }) => {
      const run = await runOpa(['fmt', ...(opts.check ? ['--list', '--fail'] : ['--write']), ...dirs]);
      io.out(run.stdout);
      if (run.stderr) io.err(run.stderr);
      if (run.code !== 0) setExit(1);
    });

  registerRuntimeCommands(policy, io, setExit);

  policy
    .command('lint')
    .description(
      "opa check --strict, plus Warden's Rego conventions (package = directory, tests in _test packages, snake_case, one workflow per template file)",
    )
    .argument('[roots...]', "policy roots: a package's path is its directory under its root", [...DEFAULT_POLICY_DIRS])
    .action(async (roots: string[]) => {
      const run = await runOpa(['check', '--strict', ...roots]);
      io.out(run.stdout);
      if (run.stderr) io.err(run.stderr);
      if (run.code !== 0) {
        setExit(1);
        return;
      }
      io.out(`opa check --strict: ok (${roots.map((d) => (statSync(d).isDirectory() ? join(d, '') : d)).join(' ')})\n`);
      const { files, problems } = await lintPolicies(roots);
      for (const problem of problems) io.err(`${formatLintProblem(problem)}\n`);
      io.out(`conventions: ${files} files, ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
      if (problems.length > 0) setExit(1);
    });
}

function registerRuntimeCommands(policy: Command, io: Io, setExit: (code: number) => void): void {
  const where = (c: Command): Command =>
    c
      .option('-c, --config <file>', "the running Warden's config (finds its data directory)")
      .option('--status-file <file>', `the running Warden's ${POLICY_STATUS_FILE} (instead of --config)`);

  where(policy.command('status'))
    .description("show the running Warden's active policy revision, its bundles, the last error and the history")
    .option('--json', 'print the status document as JSON')
    .action((opts: { config?: string; statusFile?: string; json?: boolean }) => {
      const file = statusFileOf(opts);
      const status = readStatus(file);
      if (opts.json) {
        io.out(JSON.stringify({ ...status, running: isRunning(status) }, null, 2) + '\n');
        return;
      }
      io.out(formatStatus(status, file));
      if (!status.active) setExit(1);
    });

  for (const action of ['rollback', 'reload'] as const) {
    where(policy.command(action))
      .description(
        action === 'rollback'
          ? 'make the running Warden return to the revision active before the current one'
          : 'make the running Warden load its bundles again now (activates them if they changed and pass)',
      )
      .option('--timeout <ms>', 'how long to wait for the answer', '10000')
      .action(async (opts: { config?: string; statusFile?: string; timeout: string }) => {
        const file = statusFileOf(opts);
        const status = readStatus(file);
        if (!isRunning(status)) {
          throw new PolicyError(
            'policy_not_running',
            `the Warden that wrote ${file} (pid ${status.instance.pid}) is not running, so there is nothing to ${action}. Fix: start it, or point --config/--status-file at a running one.`,
          );
        }
        const request: ControlRequest = { id: randomUUID(), action, requested_at: new Date().toISOString() };
        const control = join(dirname(file), POLICY_CONTROL_FILE);
        mkdirSync(dirname(control), { recursive: true });
        writeFileSync(`${control}.tmp`, JSON.stringify(request) + '\n');
        renameSync(`${control}.tmp`, control);
        const deadline = Date.now() + Number(opts.timeout);
        for (;;) {
          const now = readStatus(file);
          if (now.control?.id === request.id) {
            io.out(
              `${now.control.ok ? 'ok' : 'failed'}: ${now.control.message}\nactive revision: ${now.control.revision ?? 'none'}\n`,
            );
            if (!now.control.ok) setExit(1);
            return;
          }
          if (Date.now() > deadline) {
            io.err(
              `no answer from the Warden (pid ${status.instance.pid}) within ${opts.timeout} ms; it checks ${control} twice a second. Is it running with this data directory?\n`,
            );
            setExit(1);
            return;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      });
  }
}

function statusFileOf(opts: { config?: string; statusFile?: string }): string {
  if (opts.statusFile) return resolve(opts.statusFile);
  const config = opts.config ?? (existsSync('warden.yaml') ? 'warden.yaml' : undefined);
  if (!config)
    throw new PolicyError(
      'policy_status_unknown',
      `which Warden? Fix: pass --config with its warden.yaml, or --status-file with its ${POLICY_STATUS_FILE}.`,
    );
  return policyStatusFile(loadConfig(config));
}

function readStatus(file: string): PolicyStatus {
  if (!existsSync(file)) {
    throw new PolicyError(
      'policy_status_missing',
      `${file} does not exist: no Warden with this data directory has started. Fix: start it (warden serve), or point --config/--status-file at the right one.`,
    );
  }
  return JSON.parse(readFileSync(file, 'utf8')) as PolicyStatus;
}

function isRunning(status: PolicyStatus): boolean {
  if (status.stopped_at) return false;
  try {
    process.kill(status.instance.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function formatStatus(s: PolicyStatus, file: string): string {
  const lines: string[] = [];
  const running = isRunning(s);
  lines.push(
    `Warden pid ${s.instance.pid}: ${running ? 'running' : `not running${s.stopped_at ? ` (stopped ${s.stopped_at})` : ' (stale status)'}`}; status ${file}, updated ${s.updated_at}`,
  );
  if (s.active) {
    lines.push(
      `active:   ${s.active.revision}`,
      `          loaded ${s.active.loaded_at} (${s.active.reason}, activation ${s.active.activation})`,
    );
    for (const [name, b] of Object.entries(s.active.bundles)) {
      lines.push(
        `  ${name.padEnd(10)} ${b.revision}  ${b.source}${b.etag ? `  etag ${b.etag}` : ''}${b.signed_by ? `  signed (key ${b.signed_by})` : ''}`,
      );
    }
  } else lines.push('active:   none (every call is denied: fail closed)');
  for (const [name, b] of Object.entries(s.bundles)) {
    if (b.last_error) lines.push(`  ${name}: ${b.kind} ${b.location}: ${b.last_error}`);
  }
  if (s.previous.length) lines.push(`rollback: ${s.previous.map((p) => p.revision).join(' <- ')}`);
  if (s.last_error) {
    const where = s.last_error.location ? ` at ${s.last_error.location.file}:${s.last_error.location.line}` : '';
    lines.push(`last error: ${s.last_error.at} bundle ${s.last_error.bundle}: ${s.last_error.code}${where}`);
    for (const l of s.last_error.message.split('\n')) lines.push(`  ${l}`);
  } else lines.push('last error: none');
  lines.push('history:');
  for (const h of s.history.slice(-10)) {
    const what =
      h.event === 'refused'
        ? `refused   ${h.bundle ?? ''} ${h.error?.code ?? ''}`
        : `${h.event.padEnd(9)} ${h.revision ?? ''} (${h.reason ?? ''})`;
    lines.push(`  ${h.at}  ${what}`);
  }
  if (s.control)
    lines.push(`last request: ${s.control.action} ${s.control.ok ? 'ok' : 'failed'}: ${s.control.message}`);
  return lines.join('\n') + '\n';
}

function parsePercent(value: string): number {
  const percent = Number(value);
  if (value.trim() === '' || !Number.isFinite(percent) || percent < 0 || percent > 100)
    throw new InvalidArgumentError('needs a number between 0 and 100');
  return percent;
}

/** A whole number in [min, max], as the config schema bounds `policy.evaluation`. */
function parseBudget(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`needs a whole number from ${min} to ${max}`);
    }
    return n;
  };
}
