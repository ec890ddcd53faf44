import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { PolicyError } from '../common/index.js';
import { buildBundleFile, loadBundleSource, PolicyEngine, runOpa } from '../policy/index.js';
import { settleVerdict } from '../proxy/index.js';

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const DEFAULT_ENTRYPOINT = 'mcp/decision';

/** `warden policy build|test|eval|fmt|lint`. Exit codes: 0 ok, 1 failures found, 2 usage or tool errors. */
export function registerPolicyCommands(program: Command, io: Io, setExit: (code: number) => void): void {
  const policy = program.command('policy').description('build, test, evaluate and lint Rego policies');

  policy
    .command('build')
    .description('compile Rego (+ data files) to a Wasm bundle with opa build -t wasm')
    .argument('[dir]', 'policy directory', 'policy')
    .option('-o, --output <file>', 'bundle file to write', 'bundle.tar.gz')
    .option('-r, --revision <rev>', 'bundle revision (default: a hash of the sources)')
    .option('-e, --entrypoint <path...>', 'entrypoints to compile', [DEFAULT_ENTRYPOINT])
    .action(async (dir: string, opts: { output: string; revision?: string; entrypoint: string[] }) => {
      const out = resolve(opts.output);
      const { revision } = await buildBundleFile({ dir: resolve(dir), entrypoints: opts.entrypoint, out, ...(opts.revision ? { revision: opts.revision } : {}) });
      io.out(`built ${out} (revision ${revision}, entrypoints ${opts.entrypoint.join(', ')})\n`);
    });

  policy
    .command('test')
    .description('run opa test over policies and their tests, with a line-coverage threshold')
    .argument('[dirs...]', 'directories with policies and tests', ['policy', 'policy-tests'])
    .option('--coverage-min <percent>', 'fail below this line coverage (0 disables)', '90')
    .option('-r, --run <regex>', 'only tests whose name matches')
    .action(async (dirs: string[], opts: { coverageMin: string; run?: string }) => {
      const args = ['test', '-v', ...(opts.run ? ['--run', opts.run] : []), ...dirs];
      const run = await runOpa(args);
      io.out(run.stdout);
      if (run.stderr) io.err(run.stderr);
      const counts = countTests(run.stdout);
      io.out(`${counts.passed} passed, ${counts.failed} failed\n`);
      if (run.code !== 0) {
        setExit(1);
        return;
      }
      const min = Number(opts.coverageMin);
      if (!(min > 0)) return;
      const cov = await runOpa(['test', '--coverage', '--format=json', ...dirs]);
      if (cov.code !== 0) {
        io.err(cov.stderr || cov.stdout);
        setExit(1);
        return;
      }
      const report = JSON.parse(cov.stdout) as { coverage?: number; files?: Record<string, { coverage?: number; not_covered?: { start: { row: number }; end: { row: number } }[] }> };
      const policyFiles = Object.entries(report.files ?? {}).filter(([file]) => !/_test\.rego$/.test(file));
      const coverage = report.coverage ?? 0;
      io.out(`coverage: ${coverage.toFixed(1)}% (minimum ${min}%)\n`);
      if (coverage < min) {
        const worst = policyFiles.sort((a, b) => (a[1].coverage ?? 0) - (b[1].coverage ?? 0)).slice(0, 5);
        for (const [file, f] of worst) {
          const rows = (f.not_covered ?? []).map((r) => (r.start.row === r.end.row ? `${r.start.row}` : `${r.start.row}-${r.end.row}`));
          io.err(`  ${file}: ${(f.coverage ?? 0).toFixed(1)}%${rows.length ? ` (not covered: lines ${rows.join(', ')})` : ''}\n`);
        }
        io.err(`coverage ${coverage.toFixed(1)}% is below the minimum ${min}%: add tests for the lines above.\n`);
        setExit(1);
      }
    });

  policy
    .command('eval')
    .description('print the decision for one input document, as Warden would enforce it')
    .requiredOption('-i, --input <file>', 'input document (JSON)')
    .option('-b, --bundle <dirOrFile>', 'policy directory or bundle .tar.gz', 'policy')
    .option('-e, --entrypoint <path>', 'decision entrypoint', DEFAULT_ENTRYPOINT)
    .option('--mode <mode>', 'enforce or monitor', 'enforce')
    .option('--explain', 'also print which rules fired and the effective verdict')
    .action(async (opts: { input: string; bundle: string; entrypoint: string; mode: string; explain?: boolean }) => {
      const input = JSON.parse(readFileSync(resolve(opts.input), 'utf8')) as unknown;
      const source = resolve(opts.bundle);
      if (!existsSync(source)) throw new PolicyError('policy_source_missing', `policy ${source} does not exist. Fix: pass --bundle with a policy directory or a bundle .tar.gz.`);
      const engine = await PolicyEngine.load(await loadBundleSource(source, opts.entrypoint), opts.entrypoint);
      const evaluation = engine.evaluate(input);
      if (!opts.explain) {
        io.out(JSON.stringify(evaluation.error ? evaluation.decision : evaluation.result, null, 2) + '\n');
      } else {
        const mode = opts.mode === 'monitor' ? 'monitor' : 'enforce';
        const verdict = settleVerdict(evaluation, mode, 'Approval is obtained through the approval gate.');
        const fired = [
          ...evaluation.decision.reasons.map((r) => ({ rule: r.rule, effect: 'deny', message: r.message })),
          ...evaluation.decision.monitored.map((r) => ({ rule: r.rule, effect: 'would deny (monitor)', message: r.message })),
          ...Object.entries(evaluation.decision.obligations).map(([name, value]) => ({ rule: `obligation.${name}`, effect: 'obligation', message: JSON.stringify(value) })),
        ];
        io.out(JSON.stringify({ revision: evaluation.revision, decision: evaluation.decision, fired, verdict: { allow: verdict.allow, reasons: verdict.reasons }, ...(evaluation.error ? { error: evaluation.error } : {}), eval_ns: evaluation.evalNs }, null, 2) + '\n');
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

  policy
    .command('lint')
    .description('opa check --strict, plus Warden\'s Rego conventions (package = directory, tests in _test packages, snake_case)')
    .argument('[dirs...]', 'directories', ['policy', 'policy-tests'])
    .action(async (dirs: string[]) => {
      const run = await runOpa(['check', '--strict', ...dirs]);
      io.out(run.stdout);
      if (run.stderr) io.err(run.stderr);
      if (run.code !== 0) {
        setExit(1);
        return;
      }
      io.out(`opa check --strict: ok (${dirs.map((d) => (statSync(d).isDirectory() ? join(d, '') : d)).join(' ')})\n`);
    });
}

function countTests(verbose: string): { passed: number; failed: number } {
  let passed = 0;
  let failed = 0;
  for (const line of verbose.split('\n')) {
    if (/:\s+PASS\b/.test(line)) passed++;
    else if (/:\s+(FAIL|ERROR)\b/.test(line)) failed++;
  }
  return { passed, failed };
}
