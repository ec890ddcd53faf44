// The second guard of src/'s layering (the first is eslint.config.mjs): scans every import of
// every part and checks it against scripts/layers.json. Also: nothing writes to stdout outside
// the CLI, and no workflow's tool name appears in TypeScript (rules live in Rego).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ROOT } from './helpers/warden.js';

const SRC = join(ROOT, 'src');
const layers = JSON.parse(readFileSync(join(ROOT, 'scripts/layers.json'), 'utf8')) as Record<string, string[]>;
const parts = Object.keys(layers).filter((k) => !k.startsWith('$'));
const core = (layers as unknown as { $core: { parts: string[]; files: string[] } }).$core;

// Modules that reach files, processes, the network or a database. The one allowance: the policy
// worker's launcher looks for its own script beside it (a file check, not data).
const IO_MODULES =
  /^(node:)?(fs|fs\/promises|net|tls|http|https|http2|dgram|child_process)$|^(better-sqlite3|pg|express)$/;
const IO_ALLOWED: Record<string, string[]> = { 'policy/worker-engine.ts': ['node:fs'] };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const sources = files(SRC).map((path) => ({
  path,
  rel: relative(SRC, path),
  part: relative(SRC, path).split('/')[0]!,
  text: readFileSync(path, 'utf8'),
}));

describe('layering of src/', () => {
  test('every directory of src/ is a declared part', () => {
    const dirs = readdirSync(SRC).filter((d) => statSync(join(SRC, d)).isDirectory());
    expect(dirs.sort()).toEqual([...parts].sort());
  });

  test.each(parts)('%s imports only the parts it may, and only through their index.ts', (part) => {
    const problems: string[] = [];
    for (const s of sources.filter((f) => f.part === part)) {
      for (const m of s.text.matchAll(/(?:from|import)\s*\(?\s*'\.\.\/([a-z]+)\/([^']+)'/g)) {
        const [, target, file] = m;
        if (!layers[part]!.includes(target!))
          problems.push(`${s.rel}: imports ${target} (allowed: ${layers[part]!.join(', ') || 'none'})`);
        if (file !== 'index.js')
          problems.push(`${s.rel}: imports ../${target}/${file}; go through ../${target}/index.js`);
      }
    }
    expect(problems).toEqual([]);
  });

  test('the core does no I/O: its parts and files import no file, process, network or database module', () => {
    const inCore = (rel: string): boolean => core.parts.includes(rel.split('/')[0]!) || core.files.includes(rel);
    expect(core.files.every((f) => sources.some((s) => s.rel === f))).toBe(true);
    const problems = sources
      .filter((s) => inCore(s.rel))
      .flatMap((s) =>
        [...s.text.matchAll(/^import\s[^;]*?from\s*'([^']+)'/gm)]
          .map((m) => m[1]!)
          .filter((module) => IO_MODULES.test(module) && !(IO_ALLOWED[s.rel] ?? []).includes(module))
          .map((module) => `${s.rel}: imports ${module}`),
      );
    expect(problems).toEqual([]);
  });

  test('no console.* or process.stdout writes outside src/cli (stdout is the protocol)', () => {
    const offenders = sources
      .filter((s) => s.part !== 'cli')
      .flatMap((s) => s.text.split('\n').map((line, i) => ({ line, at: `${s.rel}:${i + 1}` })))
      .filter(
        ({ line }) =>
          /\bconsole\.(log|info|warn|error|debug)\(|process\.stdout\.write\(/.test(line) &&
          !line.trim().startsWith('//') &&
          !line.trim().startsWith('*'),
      )
      .map(({ at }) => at);
    expect(offenders).toEqual([]);
  });

  test('no workflow tool name appears in TypeScript: rules live in Rego', () => {
    const names = readdirSync(join(ROOT, 'policy/workflows')).flatMap((f) =>
      [...readFileSync(join(ROOT, 'policy/workflows', f), 'utf8').matchAll(/tool:\s*([a-z_]+)/g)].map((m) => m[1]!),
    );
    expect(names.length).toBeGreaterThan(5);
    const hits = sources.flatMap((s) =>
      names.filter((n) => new RegExp(`['"\`]${n}['"\`]`).test(s.text)).map((n) => `${s.rel}: ${n}`),
    );
    expect(hits).toEqual([]);
  });
});
