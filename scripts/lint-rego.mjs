#!/usr/bin/env node
// Our stand-in for the Regal rules STYLE.md requires (Regal itself cannot be installed here).
//
//   node scripts/lint-rego.mjs [ROOT...]      (default ROOTs: policy policy-tests)
//
// Each ROOT is a policy root: a package's path must be its directory relative to the root.
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
//
// The AST comes from `opa parse --format json` (opa is $WARDEN_OPA, else .tools/bin/opa, else
// opa on PATH). Problems print as file:line:col: rule: message; the exit code is 1 if any.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SNAKE_CASE = /^[a-z_][a-z0-9_]*$/;

function findOpa() {
  if (process.env.WARDEN_OPA) return process.env.WARDEN_OPA;
  const local = join(ROOT, '.tools', 'bin', 'opa');
  return existsSync(local) ? local : 'opa';
}

function walkFiles(dir, extensions) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walkFiles(path, extensions));
    else if (extensions.some((ext) => name.endsWith(ext))) out.push(path);
  }
  return out;
}

function parseRego(opa, file) {
  const result = spawnSync(opa, ['parse', '--format', 'json', '--json-include', 'locations,-comments', file], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) {
    console.error(`lint-rego: cannot run ${opa}: ${result.error.message}. Run \`make tools\`, or set WARDEN_OPA.`);
    process.exit(2);
  }
  if (result.status !== 0) {
    // opa prints parse errors as {"errors": [{message, code, location}]} in JSON mode.
    try {
      const [first] = JSON.parse(result.stderr || result.stdout).errors;
      return { error: `${first.code}: ${first.message}`, location: first.location };
    } catch {
      return { error: (result.stderr || result.stdout).trim().split('\n')[0] };
    }
  }
  return { ast: JSON.parse(result.stdout) };
}

// Every var term in the AST, with the closest known location. Vars opa generates ($0 for `_`,
// __local__) and the wildcard are not names anyone chose.
function collectVars(node, location, out) {
  if (Array.isArray(node)) {
    for (const item of node) collectVars(item, location, out);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const here = node.location ?? location;
  if (node.type === 'var' && typeof node.value === 'string') {
    const name = node.value;
    if (name !== '_' && !name.startsWith('$') && !name.startsWith('__')) out.push({ name, location: here });
  }
  for (const [key, value] of Object.entries(node)) {
    if (key !== 'location') collectVars(value, here, out);
  }
}

function lintRego(opa, root, file, problems) {
  const report = (location, rule, message) => {
    const row = location?.row ?? 1;
    const col = location?.col ?? 1;
    problems.push(`${relative(process.cwd(), file)}:${row}:${col}: ${rule}: ${message}`);
  };
  const { ast, error, location } = parseRego(opa, file);
  if (error) {
    report(location, 'parse-error', error);
    return;
  }

  // --- directory-package-mismatch ---
  const segments = ast.package.path.slice(1).map((term) => term.value);
  const pkg = segments.join('.');
  const isTestPackage = pkg.endsWith('_test');
  const expectedDir = segments.join('/').replace(/_test$/, '');
  const actualDir = relative(root, dirname(file)).split(sep).join('/');
  if (actualDir !== expectedDir) {
    const want = actualDir === '' ? `a directory under ${root}` : `${root}/${expectedDir}/`;
    report(ast.package.location, 'directory-package-mismatch', `package ${pkg} must live in ${want}, not in ${root}/${actualDir}`);
  }
  const testRoot = /tests$/.test(basename(resolve(root)));
  if (testRoot && !isTestPackage) {
    report(ast.package.location, 'directory-package-mismatch', `package ${pkg} is under the test root ${root}: name it ${pkg}_test`);
  }

  // --- test-outside-test-package and prefer-snake-case (rule names) ---
  const reported = new Set();
  const checkName = (name, location, what) => {
    // One report per name and file: a rule name also appears as a var in its own head.
    if (SNAKE_CASE.test(name) || reported.has(`name:${name}`)) return;
    reported.add(`name:${name}`);
    report(location, 'prefer-snake-case', `${what} ${name} is not snake_case`);
  };
  for (const rule of ast.rules ?? []) {
    const head = rule.head ?? {};
    const nameParts = [head.name, ...(head.ref ?? []).slice(1).filter((t) => t.type === 'string').map((t) => t.value)];
    for (const part of nameParts.filter(Boolean)) checkName(part, rule.location, head.args ? 'function' : 'rule');
    const name = head.name ?? head.ref?.[0]?.value ?? '';
    if (name.startsWith('test_') && !isTestPackage) {
      const key = `test:${name}`;
      if (!reported.has(key)) {
        reported.add(key);
        report(rule.location, 'test-outside-test-package', `test rule ${name} in package ${pkg}: tests belong in ${pkg}_test`);
      }
    }
  }

  // --- prefer-snake-case (variables, arguments, aliases) ---
  for (const imp of ast.imports ?? []) if (imp.alias) checkName(imp.alias, imp.alias_location ?? imp.location, 'import alias');
  const vars = [];
  collectVars(ast.rules ?? [], null, vars);
  for (const { name, location } of vars) checkName(name, location, 'variable');
}

// Top-level keys of a YAML file, by text: lines that start a mapping key at column 1.
function topLevelKeys(text) {
  const keys = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const match = line.match(/^(?!#|-|\s)(["']?)([^"':#\s][^"':#]*?)\1\s*:(\s|$)/);
    if (match) keys.push({ key: match[2], row: index + 1 });
  });
  return keys;
}

function lintWorkflowFile(file, problems) {
  const name = basename(file, extname(file));
  const keys = topLevelKeys(readFileSync(file, 'utf8'));
  const where = relative(process.cwd(), file);
  if (keys.length !== 1 || keys[0].key !== name) {
    const found = keys.map((k) => k.key).join(', ') || 'none';
    const row = keys.find((k) => k.key !== name)?.row ?? 1;
    problems.push(`${where}:${row}:1: workflow-file-key: declare exactly one top-level key, ${name} (the file name); found: ${found}`);
  }
}

function main() {
  const args = process.argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) {
    console.log('usage: node scripts/lint-rego.mjs [ROOT...]   (default: policy policy-tests)');
    return;
  }
  const roots = args.length > 0 ? args : ['policy', 'policy-tests'];
  const opa = findOpa();
  const problems = [];
  let files = 0;
  for (const root of roots) {
    if (!existsSync(root) || !statSync(root).isDirectory()) {
      console.error(`lint-rego: no such directory: ${root}`);
      process.exit(2);
    }
    for (const file of walkFiles(root, ['.rego'])) {
      files += 1;
      lintRego(opa, root.replace(/\/+$/, ''), file, problems);
    }
    const workflows = join(root, 'workflows');
    if (existsSync(workflows) && statSync(workflows).isDirectory()) {
      for (const file of walkFiles(workflows, ['.yaml', '.yml'])) {
        files += 1;
        lintWorkflowFile(file, problems);
      }
    }
  }
  const order = (p) => p.replace(/:(\d+):(\d+):/, (_, r, c) => `:${r.padStart(8, '0')}:${c.padStart(8, '0')}:`);
  problems.sort((a, b) => (order(a) < order(b) ? -1 : 1));
  for (const problem of problems) console.error(problem);
  console.log(`lint-rego: ${files} files, ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
  if (problems.length > 0) process.exit(1);
}

main();
