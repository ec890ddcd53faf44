import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { PolicyError } from '../common/index.js';
import {
  DEFAULT_BUNDLE_LIMITS,
  SIGNATURES_FILE,
  UNLIMITED,
  bundleFromFiles,
  bundleTooLarge,
  compiledBundleOf,
  definedOptionalEntrypoints,
  filesDigest,
  formatBytes,
  isIgnoredPolicyPath,
  loadedBundleFromFiles,
  regoLocation,
  snapshotRevision,
  untar,
  verifyBundleSignatures,
  type BundleLimits,
  type CompiledBundle,
  type LoadedBundle,
  type RegoLocation,
  type VerificationConfig,
} from '../policy/index.js';
import { readAtMost, readBundleBytes } from './read.js';
import { prebuiltShippedBundle } from './shipped.js';
import { runOpa } from './toolchain.js';

/** Source files that make up a policy directory, as `opa build` reads them. */
const POLICY_FILE = /\.(rego|json|ya?ml)$/;

/**
 * Compiles a directory of Rego (+ data files) to a Wasm bundle with `opa build -t wasm`.
 * Returns the bundle's bytes; the revision defaults to a hash of the sources.
 */
export async function buildBundleFile(options: {
  dir: string;
  entrypoints: string[];
  out: string;
  revision?: string;
  bundleMode?: boolean;
  /** Sign with `opa build --signing-key` (implies bundle mode): a PEM private key file, or the HMAC secret. */
  signingKey?: string;
  signingAlg?: string;
  claimsFile?: string;
}): Promise<{ revision: string; out: string }> {
  const revision = options.revision ?? contentRevision(options.dir);
  const signing = options.signingKey
    ? [
        '--signing-key',
        options.signingKey,
        '--signing-alg',
        options.signingAlg ?? 'RS256',
        ...(options.claimsFile ? ['--claims-file', options.claimsFile] : []),
      ]
    : [];
  const bundleMode = options.bundleMode || signing.length > 0 || existsSync(join(options.dir, '.manifest'));
  const args = [
    'build',
    '-t',
    'wasm',
    ...(bundleMode ? ['-b'] : []),
    ...signing,
    '--revision',
    revision,
    '-o',
    options.out,
  ];
  for (const e of options.entrypoints) args.push('-e', e);
  args.push('.');
  const { code, stderr, stdout } = await runOpa(args, { cwd: options.dir });
  if (code !== 0) {
    throw compileError(options.dir, (stderr || stdout).trim());
  }
  return { revision, out: options.out };
}

function compileError(dir: string, output: string, displayDir = dir): PolicyError {
  // opa names files relative to the directory it compiled; point them at the user's files instead.
  const text = output.replace(
    /(^|\s)([^\s:]+\.rego):(\d+):/gm,
    (_all, pre: string, file: string, line: string) => `${pre}${join(displayDir, file)}:${line}:`,
  );
  const err = new PolicyError(
    'policy_compile_failed',
    `cannot compile the policy in ${displayDir} to Wasm:\n${indent(text)}\nFix: correct the Rego above; 'warden policy test' runs the same checks.`,
  );
  const location = regoLocation(text);
  if (location) (err as PolicyError & { location?: RegoLocation }).location = location;
  return err;
}

/** Compiles a policy directory and loads the result, ready for {@link PolicyEngine.load}. */
export async function compileDirectory(dir: string, entrypoint: string): Promise<CompiledBundle> {
  const loaded = await loadDirectoryBundle({ name: 'policy', dir, entrypoint });
  return compiledBundleOf(loaded, dir);
}

/** Loads a policy source: a directory is compiled, a `.tar.gz` is read as built. */
export async function loadBundleSource(source: string, entrypoint: string): Promise<CompiledBundle> {
  return statSync(source).isDirectory() ? compileDirectory(source, entrypoint) : readBundleFile(source);
}

/** Reads a built bundle (`/policy.wasm`, `/data.json`, `/.manifest`) from a `.tar.gz` file, within `limits`. */
export async function readBundleFile(
  file: string,
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<CompiledBundle> {
  const files = await untar(readBundleBytes(file, limits), file, limits);
  return bundleFromFiles(files, file);
}

/**
 * Loads a directory bundle from one consistent snapshot of its files: verifies the snapshot when
 * configured, then compiles it with `opa build -t wasm` when it holds Rego, or reads it as a data
 * bundle when it holds only data. The revision is a hash of the snapshot, so an unchanged
 * directory yields the same revision and digest.
 */
export async function loadDirectoryBundle(options: {
  name: string;
  dir: string;
  entrypoint: string;
  verification?: VerificationConfig;
  /** A snapshot already taken (the watcher takes one to see whether anything changed). */
  snapshot?: Map<string, Buffer>;
  /** For the snapshot, when none is given (default: {@link DEFAULT_BUNDLE_LIMITS}). */
  limits?: BundleLimits;
}): Promise<LoadedBundle> {
  const { dir } = options;
  const snapshot = options.snapshot ?? snapshotDirectory(dir, options.limits);
  // Every file of the snapshot but the root's .signatures.json goes to opa build (which, without a
  // .manifest, loads any .json or .yaml as data), so every one of them counts as loaded.
  const signature = options.verification
    ? await verifyBundleSignatures(snapshot, options.verification, dir, { loads: () => true })
    : undefined;
  const revision = snapshotRevision(snapshot);
  const hasRego = [...snapshot.keys()].some((p) => p.endsWith('.rego'));
  if (!hasRego) {
    return loadedBundleFromFiles(snapshot, {
      name: options.name,
      source: dir,
      revision,
      ...(signature ? { signature } : {}),
    });
  }
  // The shipped policy, unchanged, comes pre-built in the package: no opa needed to serve it.
  const digest = filesDigest(snapshot);
  const tarball =
    prebuiltShippedBundle(digest, options.entrypoint) ??
    (await compileSnapshot(snapshot, { dir, entrypoint: options.entrypoint, revision })).tarball;
  // opa's own output (or the package's) from a snapshot that was within the limits: not limited again.
  const files = await untar(tarball, dir, UNLIMITED);
  const sig = signature ? { signature } : {};
  const loaded = loadedBundleFromFiles(files, { name: options.name, source: dir, revision, ...sig });
  return { ...loaded, digest };
}

/**
 * Compiles a directory snapshot with `opa build -t wasm` (in a private copy, so the files compiled
 * are exactly the snapshot's): the decision and the optional entrypoints the policy defines.
 * Returns the bundle's bytes and the entrypoints it was built with.
 */
export async function compileSnapshot(
  snapshot: ReadonlyMap<string, Buffer>,
  options: { dir: string; entrypoint: string; revision: string },
): Promise<{ tarball: Buffer; entrypoints: string[] }> {
  const work = mkdtempSync(join(tmpdir(), 'warden-build-'));
  try {
    const src = join(work, 'src');
    for (const [path, bytes] of snapshot) {
      if (path === SIGNATURES_FILE) continue;
      mkdirSync(dirname(join(src, path)), { recursive: true });
      writeFileSync(join(src, path), bytes);
    }
    mkdirSync(src, { recursive: true });
    const out = join(work, 'bundle.tar.gz');
    const bundleMode = snapshot.has('.manifest');
    const flags = ['build', '-t', 'wasm', ...(bundleMode ? ['-b'] : []), '--revision', options.revision, '-o', out];
    const build = (entrypoints: string[]): ReturnType<typeof runOpa> =>
      runOpa([...flags, ...entrypoints.flatMap((e) => ['-e', e]), '.'], { cwd: src });
    const optional = definedOptionalEntrypoints(snapshot).filter((e) => e !== options.entrypoint);
    let entrypoints = [options.entrypoint, ...optional];
    let { code, stderr, stdout } = await build(entrypoints);
    // The look for optional entrypoints is textual; if opa disagrees, the decision alone still builds.
    if (code !== 0 && optional.some((e) => (stderr || stdout).includes(`entrypoint "${e}"`))) {
      entrypoints = [options.entrypoint];
      ({ code, stderr, stdout } = await build(entrypoints));
    }
    if (code !== 0) throw compileError(src, (stderr || stdout).trim(), options.dir);
    return { tarball: readFileSync(out), entrypoints };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Reads the files `opa build` would read (plus .manifest and .signatures.json), skipping editor
 * litter and hidden directories. At most `limits.files` files and `limits.uncompressedBytes` bytes
 * in all: a file that would cross either is refused from its size, before it is read.
 */
export function snapshotDirectory(dir: string, limits: BundleLimits = DEFAULT_BUNDLE_LIMITS): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let total = 0;
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      let st;
      try {
        st = statSync(path);
      } catch {
        continue; // dangling symlink, or removed while we read
      }
      if (st.isDirectory()) {
        if (!name.startsWith('.') && name !== 'node_modules') walk(path);
        continue;
      }
      if (!st.isFile() || isIgnoredPolicyPath(name)) continue;
      if (!POLICY_FILE.test(name) && name !== '.manifest') continue;
      const rel = relative(dir, path).split('\\').join('/');
      if (files.size + 1 > limits.files) {
        const what = `policy directory ${dir} holds more than ${limits.files} policy files (refused at ${rel})`;
        throw bundleTooLarge('files', limits, what);
      }
      let read: ReturnType<typeof readAtMost>;
      try {
        read = readAtMost(path, limits.uncompressedBytes - total);
      } catch {
        continue; // removed between readdir and read: the watcher will fire again
      }
      if (!read.bytes) {
        const seen = `${formatBytes(total + read.size)}${read.grew ? ' or more' : ''} with ${rel}`;
        throw bundleTooLarge('uncompressedBytes', limits, `policy directory ${dir}: its policy files come to ${seen}`);
      }
      total += read.bytes.length;
      files.set(rel, read.bytes);
    }
  };
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir)
    throw new PolicyError(
      'policy_source_missing',
      `policy directory ${dir} does not exist (or is not a directory). Fix: create it or correct the path.`,
    );
  walk(dir);
  return files;
}

/** A stable revision for a policy directory: hash of every source file's relative path and bytes. */
export function contentRevision(dir: string): string {
  return snapshotRevision(snapshotDirectory(dir));
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
