import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { PolicyError } from '../common/index.js';
import { DEFAULT_POLICY_DIRS } from './testing.js';
import { findOpa, runOpa } from './toolchain.js';

// Our stand-in for the Regal rules STYLE.md requires (Regal itself cannot be installed here).
// Each root is a policy root: a package's path must be its directory relative to the root.
// Rules, named as in Regal so that switching to `regal lint` later changes nothing for authors:
//   directory-package-mismatch  package a.b lives in ROOT/a/b/; test packages end in _test
//                               (a.b_test in ROOT/a/b/), and every package under a *tests root
//                               is a test package (policy-tests/ mirrors policy/).
//   test-outside-test-package   test_* rules only in packages ending in _test.
//   prefer-snake-case           rule, function, argument, variable and import alias names are
//                               snake_case.
// And one of ours, for the workflow templates (policy/workflows/*.yaml, loaded by OPA under
// data.workflows):
//   workflow-file-key           a template file declares exactly one top-level key, named like
//                               the file, so each file adds one workflow and `opa build` never
//                               has to merge two files into one key.

/** The convention a {@link LintProblem} breaks; `parse-error` when opa could not parse the file. */
export type LintRule =
  | 'directory-package-mismatch'
  | 'test-outside-test-package'
  | 'prefer-snake-case'
  | 'workflow-file-key'
  | 'parse-error';

export interface LintProblem {
  /** Relative to `cwd`. */
  file: string;
  row: number;
  col: number;
  rule: LintRule;
  message: string;
}

export interface LintReport {
  /** Files checked: Rego files, plus the workflow templates. */
  files: number;
  /** Sorted by file, then line and column. */
  problems: LintProblem[];
}

export interface LintOptions {
  /** Directory the roots are relative to, and the reported files. Default: the process's. */
  cwd?: string;
  /** The opa binary (`opa parse` gives the AST); default {@link findOpa}. */
  opa?: string;
}

const SNAKE_CASE = /^[a-z_][a-z0-9_]*$/;
// opa processes at a time: enough to hide its start-up, few enough for a large tree.
const PARSE_CONCURRENCY = 8;

/**
 * Checks Warden's Rego conventions (package = directory, tests in `_test` packages, snake_case
 * names, one workflow per template file) over policy roots. Does not compile: pair it with
 * `opa check --strict`.
 *
 * @throws PolicyError when a root is not a directory; ToolchainError when opa cannot be found or started.
 * @example
 * ```ts
 * const { files, problems } = await lintPolicies(['policy', 'policy-tests']);
 * for (const p of problems) console.error(formatLintProblem(p));
 * // policy/mcp/deploy/deploy.rego:3:1: directory-package-mismatch: package mcp.release must live in policy/mcp/release/, not in policy/mcp/deploy
 * ```
 */
export async function lintPolicies(
  roots: readonly string[] = DEFAULT_POLICY_DIRS,
  options: LintOptions = {},
): Promise<LintReport> {
  const cwd = options.cwd ?? process.cwd();
  const opa = options.opa ?? findOpa();
  const problems: LintProblem[] = [];
  const jobs: { root: string; file: string }[] = [];
  let files = 0;
  for (const given of roots.length > 0 ? roots : DEFAULT_POLICY_DIRS) {
    const root = given.replace(/\/+$/, '') || given;
    const abs = resolve(cwd, root);
    if (!existsSync(abs) || !statSync(abs).isDirectory()) {
      throw new PolicyError(
        'policy_dir_missing',
        `no such directory: ${given}. Fix: pass the policy roots (default: ${DEFAULT_POLICY_DIRS.join(' ')}), relative to ${cwd}.`,
      );
    }
    for (const file of walkFiles(cwd, root, ['.rego'])) {
      files += 1;
      jobs.push({ root, file });
    }
    const workflows = join(root, 'workflows');
    if (existsSync(resolve(cwd, workflows)) && statSync(resolve(cwd, workflows)).isDirectory()) {
      for (const file of walkFiles(cwd, workflows, ['.yaml', '.yml'])) {
        files += 1;
        lintWorkflowFile(cwd, file, problems);
      }
    }
  }
  await inPool(jobs, PARSE_CONCURRENCY, async ({ root, file }) => lintRego(opa, cwd, root, file, problems));
  const order = (p: LintProblem): string =>
    `${p.file}:${String(p.row).padStart(8, '0')}:${String(p.col).padStart(8, '0')}: ${p.rule}: ${p.message}`;
  problems.sort((a, b) => (order(a) < order(b) ? -1 : 1));
  return { files, problems };
}

/**
 * A problem as editors and CI annotate it.
 *
 * @example
 * ```ts
 * formatLintProblem({ file: 'policy/mcp/x/x.rego', row: 5, col: 1, rule: 'prefer-snake-case', message: 'rule isOk is not snake_case' });
 * // 'policy/mcp/x/x.rego:5:1: prefer-snake-case: rule isOk is not snake_case'
 * ```
 */
export function formatLintProblem(p: LintProblem): string {
  return `${p.file}:${p.row}:${p.col}: ${p.rule}: ${p.message}`;
}

interface AstLocation {
  row?: number;
  col?: number;
}

interface AstTerm {
  type?: string;
  value?: unknown;
  location?: AstLocation;
}

interface RegoAst {
  package: { path: AstTerm[]; location?: AstLocation };
  imports?: { alias?: string; alias_location?: AstLocation; location?: AstLocation }[];
  rules?: { location?: AstLocation; head?: { name?: string; ref?: AstTerm[]; args?: unknown[] } }[];
}

// Paths as given (root-relative joins), walked under cwd; sorted so the count and order are stable.
function walkFiles(cwd: string, dir: string, extensions: string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(resolve(cwd, dir)).sort()) {
    if (name.startsWith('.') || name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(resolve(cwd, path)).isDirectory()) out.push(...walkFiles(cwd, path, extensions));
    else if (extensions.some((ext) => name.endsWith(ext))) out.push(path);
  }
  return out;
}

async function inPool<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
}

async function parseRego(
  opa: string,
  cwd: string,
  file: string,
): Promise<{ ast: RegoAst } | { error: string; location?: AstLocation }> {
  const result = await runOpa(['parse', '--format', 'json', '--json-include', 'locations,-comments', file], {
    cwd,
    opa,
  });
  if (result.code !== 0) {
    // opa prints parse errors as {"errors": [{message, code, location}]} in JSON mode.
    try {
      const [first] = (
        JSON.parse(result.stderr || result.stdout) as {
          errors: { code: string; message: string; location?: AstLocation }[];
        }
      ).errors;
      return { error: `${first!.code}: ${first!.message}`, ...(first!.location ? { location: first!.location } : {}) };
    } catch {
      return { error: (result.stderr || result.stdout).trim().split('\n')[0] ?? '' };
    }
  }
  return { ast: JSON.parse(result.stdout) as RegoAst };
}

// Every var term in the AST, with the closest known location. Vars opa generates ($0 for `_`,
// __local__) and the wildcard are not names anyone chose.
function collectVars(
  node: unknown,
  location: AstLocation | undefined,
  out: { name: string; location: AstLocation | undefined }[],
): void {
  if (Array.isArray(node)) {
    for (const item of node) collectVars(item, location, out);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const term = node as AstTerm;
  const here = term.location ?? location;
  if (term.type === 'var' && typeof term.value === 'string') {
    const name = term.value;
    if (name !== '_' && !name.startsWith('$') && !name.startsWith('__')) out.push({ name, location: here });
  }
  for (const [key, value] of Object.entries(node)) {
    if (key !== 'location') collectVars(value, here, out);
  }
}

async function lintRego(opa: string, cwd: string, root: string, file: string, problems: LintProblem[]): Promise<void> {
  const shown = relative(cwd, resolve(cwd, file));
  const report = (location: AstLocation | undefined, rule: LintRule, message: string): void => {
    problems.push({ file: shown, row: location?.row ?? 1, col: location?.col ?? 1, rule, message });
  };
  const parsed = await parseRego(opa, cwd, file);
  if (!('ast' in parsed)) {
    report(parsed.location, 'parse-error', parsed.error);
    return;
  }
  const { ast } = parsed;

  // --- directory-package-mismatch ---
  const segments = ast.package.path.slice(1).map((term) => String(term.value));
  const pkg = segments.join('.');
  const isTestPackage = pkg.endsWith('_test');
  const expectedDir = segments.join('/').replace(/_test$/, '');
  const actualDir = relative(root, dirname(file)).split(sep).join('/');
  if (actualDir !== expectedDir) {
    const want = actualDir === '' ? `a directory under ${root}` : `${root}/${expectedDir}/`;
    report(
      ast.package.location,
      'directory-package-mismatch',
      `package ${pkg} must live in ${want}, not in ${root}/${actualDir}`,
    );
  }
  const testRoot = /tests$/.test(basename(resolve(cwd, root)));
  if (testRoot && !isTestPackage) {
    report(
      ast.package.location,
      'directory-package-mismatch',
      `package ${pkg} is under the test root ${root}: name it ${pkg}_test`,
    );
  }

  // --- test-outside-test-package and prefer-snake-case (rule names) ---
  const reported = new Set<string>();
  const checkName = (name: string, location: AstLocation | undefined, what: string): void => {
    // One report per name and file: a rule name also appears as a var in its own head.
    if (SNAKE_CASE.test(name) || reported.has(`name:${name}`)) return;
    reported.add(`name:${name}`);
    report(location, 'prefer-snake-case', `${what} ${name} is not snake_case`);
  };
  for (const rule of ast.rules ?? []) {
    const head = rule.head ?? {};
    const refNames = (head.ref ?? [])
      .slice(1)
      .filter((t) => t.type === 'string')
      .map((t) => String(t.value));
    for (const part of [head.name, ...refNames])
      if (part) checkName(part, rule.location, head.args ? 'function' : 'rule');
    const first = head.ref?.[0]?.value;
    const name = head.name ?? (typeof first === 'string' ? first : '');
    if (name.startsWith('test_') && !isTestPackage && !reported.has(`test:${name}`)) {
      reported.add(`test:${name}`);
      report(
        rule.location,
        'test-outside-test-package',
        `test rule ${name} in package ${pkg}: tests belong in ${pkg}_test`,
      );
    }
  }

  // --- prefer-snake-case (variables, arguments, aliases) ---
  for (const imp of ast.imports ?? [])
    if (imp.alias) checkName(imp.alias, imp.alias_location ?? imp.location, 'import alias');
  const vars: { name: string; location: AstLocation | undefined }[] = [];
  collectVars(ast.rules ?? [], undefined, vars);
  for (const { name, location } of vars) checkName(name, location, 'variable');
}

// Top-level keys of a YAML file, by text: lines that start a mapping key at column 1.
function topLevelKeys(text: string): { key: string; row: number }[] {
  const keys: { key: string; row: number }[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const match = line.match(/^(?!#|-|\s)(["']?)([^"':#\s][^"':#]*?)\1\s*:(\s|$)/);
    if (match) keys.push({ key: match[2]!, row: index + 1 });
  });
  return keys;
}

function lintWorkflowFile(cwd: string, file: string, problems: LintProblem[]): void {
  const name = basename(file, extname(file));
  const keys = topLevelKeys(readFileSync(resolve(cwd, file), 'utf8'));
  if (keys.length !== 1 || keys[0]!.key !== name) {
    const found = keys.map((k) => k.key).join(', ') || 'none';
    const row = keys.find((k) => k.key !== name)?.row ?? 1;
    problems.push({
      file: relative(cwd, resolve(cwd, file)),
      row,
      col: 1,
      rule: 'workflow-file-key',
      message: `declare exactly one top-level key, ${name} (the file name); found: ${found}`,
    });
  }
}
