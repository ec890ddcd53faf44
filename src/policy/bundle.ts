import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { Parser } from 'tar';
import { PolicyError } from '../common/index.js';
import type { CompiledBundle } from './engine.js';
import { runOpa } from './toolchain.js';

/** Source files that make up a policy directory, as `opa build` reads them. */
const POLICY_FILE = /\.(rego|json|ya?ml)$/;

/**
 * Compiles a directory of Rego (+ data files) to a Wasm bundle with `opa build -t wasm`.
 * Returns the bundle's bytes; the revision defaults to a hash of the sources.
 */
export async function buildBundleFile(options: { dir: string; entrypoints: string[]; out: string; revision?: string }): Promise<{ revision: string; out: string }> {
  const revision = options.revision ?? contentRevision(options.dir);
  const args = ['build', '-t', 'wasm', '--revision', revision, '-o', options.out];
  for (const e of options.entrypoints) args.push('-e', e);
  args.push('.');
  const { code, stderr, stdout } = await runOpa(args, { cwd: options.dir });
  if (code !== 0) {
    throw new PolicyError(
      'policy_compile_failed',
      `cannot compile the policy in ${options.dir} to Wasm:\n${indent((stderr || stdout).trim())}\nFix: correct the Rego above (paths are relative to ${options.dir}); 'warden policy test' runs the same checks.`,
    );
  }
  return { revision, out: options.out };
}

/** Compiles a policy directory and loads the result, ready for {@link PolicyEngine.load}. */
export async function compileDirectory(dir: string, entrypoint: string): Promise<CompiledBundle> {
  const work = mkdtempSync(join(tmpdir(), 'warden-build-'));
  try {
    const out = join(work, 'bundle.tar.gz');
    await buildBundleFile({ dir, entrypoints: [entrypoint], out });
    return { ...(await readBundleFile(out)), source: dir };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Loads a policy source: a directory is compiled, a `.tar.gz` is read as built. */
export async function loadBundleSource(source: string, entrypoint: string): Promise<CompiledBundle> {
  return statSync(source).isDirectory() ? compileDirectory(source, entrypoint) : readBundleFile(source);
}

/** Reads a built bundle (`/policy.wasm`, `/data.json`, `/.manifest`) from a `.tar.gz` file. */
export async function readBundleFile(file: string): Promise<CompiledBundle> {
  const files = await untar(readFileSync(file), file);
  return bundleFromFiles(files, file);
}

/** Assembles a bundle from its files (paths without the leading slash). */
export function bundleFromFiles(files: Map<string, Buffer>, source: string): CompiledBundle {
  const manifestBytes = files.get('.manifest');
  const manifest = manifestBytes ? (parseJson(manifestBytes, '.manifest', source) as Record<string, unknown>) : {};
  const wasmEntries = Array.isArray(manifest['wasm']) ? (manifest['wasm'] as { module?: string }[]) : [];
  const wasmPath = (wasmEntries[0]?.module ?? '/policy.wasm').replace(/^\//, '');
  const wasm = files.get(wasmPath);
  if (!wasm) {
    throw new PolicyError('policy_bundle_invalid', `bundle ${source} has no ${wasmPath}: it was not built for Wasm. Fix: build it with 'warden policy build' (or 'opa build -t wasm -e mcp/decision').`);
  }
  const data = mergeData(files, source);
  const revision = typeof manifest['revision'] === 'string' && manifest['revision'] !== '' ? manifest['revision'] : `sha256:${createHash('sha256').update(wasm).digest('hex').slice(0, 12)}`;
  const name = typeof (manifest['metadata'] as Record<string, unknown> | undefined)?.['name'] === 'string'
    ? String((manifest['metadata'] as Record<string, unknown>)['name'])
    : 'policy';
  return { name, source, revision, wasm, data, manifest };
}

// Data files in a bundle sit at the path of their directory (OPA's bundle format: /a/b/data.json -> data.a.b).
function mergeData(files: Map<string, Buffer>, source: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [path, bytes] of files) {
    if (basename(path) !== 'data.json') continue;
    const value = parseJson(bytes, path, source);
    const segments = path.split('/').slice(0, -1).filter(Boolean);
    if (segments.length === 0) {
      Object.assign(root, value);
      continue;
    }
    let node = root;
    for (const seg of segments.slice(0, -1)) node = (node[seg] ??= {}) as Record<string, unknown>;
    node[segments.at(-1)!] = value;
  }
  return root;
}

function parseJson(bytes: Buffer, path: string, source: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new PolicyError('policy_bundle_invalid', `bundle ${source}: ${path} is not valid JSON`, { cause: err });
  }
}

/** Reads every regular file of a gzipped tar into memory (bundles are small). */
export function untar(bytes: Buffer, source: string): Promise<Map<string, Buffer>> {
  return new Promise((resolvePromise, reject) => {
    const files = new Map<string, Buffer>();
    const parser = new Parser({
      onReadEntry: (entry) => {
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => {
          if (entry.type === 'File' || entry.type === 'OldFile') files.set(entry.path.replace(/^\.?\//, ''), Buffer.concat(chunks));
        });
      },
    });
    parser.on('error', (err: Error) => reject(new PolicyError('policy_bundle_invalid', `bundle ${source} is not a readable .tar.gz: ${err.message}`, { cause: err })));
    parser.on('end', () => resolvePromise(files));
    parser.end(bytes);
  });
}

/** A stable revision for a policy directory: hash of every source file's relative path and bytes. */
export function contentRevision(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else if (POLICY_FILE.test(name)) hash.update(relative(dir, path)).update('\0').update(readFileSync(path)).update('\0');
    }
  };
  walk(dir);
  return `sha256:${hash.digest('hex').slice(0, 12)}`;
}

function indent(text: string): string {
  return text.split('\n').map((l) => `    ${l}`).join('\n');
}
