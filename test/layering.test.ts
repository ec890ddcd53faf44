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
