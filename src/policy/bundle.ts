import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import YAML from 'yaml';
import { PolicyError } from '../common/index.js';
import { DEFAULT_ENTRYPOINT } from '../config/index.js';
import { untar, type BundleLimits } from './archive.js';
import type { CompiledBundle } from './engine.js';
import { SIGNATURES_FILE, verifyBundleSignatures, type VerificationConfig, type VerifiedSignature } from './signing.js';

/**
 * A bundle as read from one source and verified, before it is merged with the other configured
 * bundles and loaded: its manifest roots, its data (already placed at its paths), and its Wasm
 * module when it carries the policy.
 */
export interface LoadedBundle {
  /** The configured bundle name (decision logs' `bundles` map key). */
  readonly name: string;
  /** A directory, a file, or a URL. */
  readonly source: string;
  readonly revision: string;
  readonly manifest: Record<string, unknown>;
  /** Manifest roots without leading or trailing slashes; `['']` (everything) when none are declared. */
  readonly roots: readonly string[];
  readonly data: Record<string, unknown>;
  /** Present when this bundle carries the policy (`/policy.wasm` or the manifest's `wasm[].module`). */
  readonly wasm?: Uint8Array;
  /** Digest of the bundle's content: the same digest means nothing changed. */
  readonly digest: string;
  readonly signature?: VerifiedSignature;
  /** HTTP ETag the bundle service sent with it. */
  readonly etag?: string;
}

/** A located Rego error: the file (absolute when it came from a directory) and line. */
export interface RegoLocation {
  file: string;
  line: number;
}

/** The first `file.rego:line:` an opa error names. */
export function regoLocation(text: string): RegoLocation | undefined {
  const m = /(?:^|\s)([^\s:]+\.rego):(\d+):/m.exec(text);
  return m ? { file: m[1]!, line: Number(m[2]) } : undefined;
}

/** Assembles a bundle from its files (paths without the leading slash). */
export function bundleFromFiles(files: Map<string, Buffer>, source: string): CompiledBundle {
  const loaded = loadedBundleFromFiles(files, { source });
  return compiledBundleOf(loaded, source);
}

/** The engine's view of a loaded bundle; refuses one without Wasm (a data-only bundle). */
export function compiledBundleOf(loaded: LoadedBundle, source: string): CompiledBundle {
  if (!loaded.wasm) {
    throw new PolicyError(
      'policy_bundle_invalid',
      `bundle ${source} has no policy.wasm: it was not built for Wasm. Fix: build it with 'warden policy build' (or 'opa build -t wasm -e mcp/decision').`,
    );
  }
  const metaName = (loaded.manifest['metadata'] as Record<string, unknown> | undefined)?.['name'];
  return {
    name: typeof metaName === 'string' ? metaName : 'policy',
    source,
    revision: loaded.revision,
    wasm: loaded.wasm,
    data: loaded.data,
    manifest: loaded.manifest,
  };
}

/**
 * Reads a bundle's files (from a tarball or a bundle service): verifies the signature when
 * `verification` is given, then parses manifest, roots, data and Wasm, checking (as OPA does)
 * that the roots do not overlap and that all data lies under them.
 */
export function loadedBundleFromFiles(
  files: ReadonlyMap<string, Buffer>,
  options: { name?: string; source: string; etag?: string; signature?: VerifiedSignature; revision?: string },
): LoadedBundle {
  const { source } = options;
  const manifestBytes = files.get('.manifest');
  const manifest = manifestBytes ? (parseJson(manifestBytes, '.manifest', source) as Record<string, unknown>) : {};
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest))
    throw new PolicyError('policy_bundle_invalid', `bundle ${source}: .manifest must be a JSON object`);
  const roots = manifestRoots(manifest, source);
  const wasmEntries = Array.isArray(manifest['wasm'])
    ? (manifest['wasm'] as { module?: string; entrypoint?: string }[])
    : [];
  for (const w of wasmEntries) {
    const module = (w.module ?? '').replace(/^\//, '');
    if (module && !files.has(module))
      throw new PolicyError(
        'policy_bundle_invalid',
        `bundle ${source}: manifest references wasm module '${w.module}' but the module file does not exist`,
      );
    if (typeof w.entrypoint === 'string' && !rootsContain(roots, w.entrypoint)) {
      throw new PolicyError(
        'policy_bundle_invalid',
        `bundle ${source}: manifest roots [${roots.join(', ')}] do not permit '${w.entrypoint}' entrypoint for wasm module '${w.module}'`,
      );
    }
  }
  const wasmPath = (wasmEntries[0]?.module ?? '/policy.wasm').replace(/^\//, '');
  const wasm = files.get(wasmPath);
  const data = mergeData(files, source);
  checkDataWithinRoots(data, roots, source);
  const digest = filesDigest(files);
  const revision =
    options.revision ??
    (typeof manifest['revision'] === 'string' && manifest['revision'] !== ''
      ? manifest['revision']
      : `sha256:${digest.slice(0, 12)}`);
  return {
    name: options.name ?? 'policy',
    source,
    revision,
    manifest,
    roots,
    data,
    ...(wasm ? { wasm } : {}),
    digest,
    ...(options.signature ? { signature: options.signature } : {}),
    ...(options.etag ? { etag: options.etag } : {}),
  };
}

/** Reads (and, when configured, verifies) a bundle tarball's bytes, within `limits` (default: the defaults). */
export async function loadTarball(
  bytes: Buffer,
  options: { name: string; source: string; verification?: VerificationConfig; etag?: string; limits?: BundleLimits },
): Promise<LoadedBundle> {
  const files = await untar(bytes, options.source, options.limits);
  const signature = options.verification
    ? await verifyBundleSignatures(files, options.verification, options.source)
    : undefined;
  return loadedBundleFromFiles(files, {
    name: options.name,
    source: options.source,
    ...(options.etag ? { etag: options.etag } : {}),
    ...(signature ? { signature } : {}),
  });
}

/** The decision entrypoint a policy is built and evaluated with unless told otherwise (config's default). */
export { DEFAULT_ENTRYPOINT };

/** OPA's decision-log masking rule: `data.system.log.mask`, evaluated with the event as input. */
export const MASK_ENTRYPOINT = 'system/log/mask';

/**
 * Entrypoints compiled alongside the decision when the policy defines them: read-only views the
 * HTTP front evaluates for the dashboard (`mcp/workflow/status`: each workflow's steps per
 * session), OPA's decision-log mask rule (`system/log/mask`), and the history the policy declares it
 * reads (`mcp/history/reads`), which entries each principal sees (`mcp/visible`), the result policy
 * (`mcp/result`) and the tool definition check (`mcp/definition`). A policy without them builds and
 * runs as before.
 */
export const OPTIONAL_ENTRYPOINTS: readonly string[] = [
  'mcp/workflow/status',
  MASK_ENTRYPOINT,
  'mcp/history/reads',
  'mcp/visible',
  'mcp/result',
  'mcp/definition',
];

/**
 * The optional entrypoints whose rule a snapshot's Rego defines (`package a.b` with a rule `c` at
 * the start of a line, for `a/b/c`). Textual, so cheap enough to run before every build.
 */
export function definedOptionalEntrypoints(files: ReadonlyMap<string, Buffer>): string[] {
  const sources = [...files].filter(([path]) => path.endsWith('.rego')).map(([, bytes]) => bytes.toString('utf8'));
  return OPTIONAL_ENTRYPOINTS.filter((entrypoint) => {
    const parts = entrypoint.split('/');
    const rule = parts.pop()!;
    const pkg = new RegExp(`^package\\s+${parts.join('\\.')}\\s*$`, 'm');
    const head = new RegExp(`^(default\\s+)?${rule}\\s*(:=|=|\\{|if\\b|contains\\b)`, 'm');
    return sources.some((text) => pkg.test(text) && head.test(text));
  });
}

/**
 * Editors leave swap, backup and lock files next to the ones they save; none of them is policy.
 * (Emacs lock files `.#x.rego` are dangling symlinks whose names end in `.rego`.)
 */
export function isIgnoredPolicyPath(name: string): boolean {
  const base = basename(name);
  if (base === '.manifest' || base === SIGNATURES_FILE) return false;
  if (base.startsWith('.') || base.startsWith('#') || base.endsWith('~') || base === '4913') return true;
  if (/\.(swp|swx|swo|tmp|bak|orig|rej)$/i.test(base) || /___jb_(tmp|old)___$/.test(base) || /\.crswap$/.test(base))
    return true;
  return false;
}

/** The revision of a directory snapshot: `sha256:` and 12 hex digits of its {@link filesDigest}. */
export function snapshotRevision(files: ReadonlyMap<string, Buffer>): string {
  return `sha256:${filesDigest(files).slice(0, 12)}`;
}

/** Digest of a set of files (path and bytes), independent of their order. */
export function filesDigest(files: ReadonlyMap<string, Buffer>): string {
  const hash = createHash('sha256');
  for (const path of [...files.keys()].sort()) hash.update(path).update('\0').update(files.get(path)!).update('\0');
  return hash.digest('hex');
}

function manifestRoots(manifest: Record<string, unknown>, source: string): string[] {
  const raw = manifest['roots'];
  if (raw === undefined || raw === null) return [''];
  if (!Array.isArray(raw) || raw.some((r) => typeof r !== 'string'))
    throw new PolicyError('policy_bundle_invalid', `bundle ${source}: .manifest roots must be an array of strings`);
  const roots = (raw as string[]).map((r) => r.replace(/^\/+|\/+$/g, ''));
  for (let i = 0; i < roots.length; i++) {
    for (let j = i + 1; j < roots.length; j++) {
      if (rootsOverlap(roots[i]!, roots[j]!))
        throw new PolicyError(
          'policy_bundle_invalid',
          `bundle ${source}: manifest has overlapped roots: '${roots[i]}' and '${roots[j]}'`,
        );
    }
  }
  return roots;
}

/** OPA's `RootPathsOverlap`: one root is a path prefix (by segments) of the other; `''` overlaps everything. */
export function rootsOverlap(a: string, b: string): boolean {
  const sa = a.split('/');
  const sb = b.split('/');
  return rootContains(sa, sb) || rootContains(sb, sa);
}

/** OPA's `RootPathsContain`. */
export function rootsContain(roots: readonly string[], path: string): boolean {
  const segments = path.replace(/^\/+|\/+$/g, '').split('/');
  return roots.some((r) => rootContains(r.split('/'), segments));
}

function rootContains(root: string[], other: string[]): boolean {
  if (root.length === 1 && root[0] === '') return true;
  if (root.length > other.length) return false;
  return root.every((seg, i) => seg === other[i]);
}

// OPA's validateAndInjectDefaults: walking down, a path inside a root is fine; an object on the
// way to a root is walked into; anything else lies outside every root.
function checkDataWithinRoots(data: Record<string, unknown>, roots: readonly string[], source: string): void {
  const visit = (path: string[], node: unknown): void => {
    const p = path.join('/');
    if (rootsContain(roots, p)) return;
    if (
      node &&
      typeof node === 'object' &&
      !Array.isArray(node) &&
      roots.some((r) => rootContains(path.length ? path : [''], r.split('/')))
    ) {
      for (const [k, v] of Object.entries(node)) visit([...path, k], v);
      return;
    }
    throw new PolicyError(
      'policy_bundle_invalid',
      `bundle ${source}: manifest roots [${roots.join(', ')}] do not permit data at path '/${p}' (hint: check the bundle's directory structure)`,
    );
  };
  visit([], data);
}

// Data files in a bundle sit at the path of their directory (OPA's bundle format: /a/b/data.json -> data.a.b).
function mergeData(files: ReadonlyMap<string, Buffer>, source: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [path, bytes] of [...files].sort(([a], [b]) => a.split('/').length - b.split('/').length)) {
    const base = basename(path);
    let value: unknown;
    if (base === 'data.json') value = parseJson(bytes, path, source);
    else if (base === 'data.yaml' || base === 'data.yml') value = parseYaml(bytes, path, source);
    else continue;
    const segments = path.split('/').slice(0, -1).filter(Boolean);
    if (segments.length === 0) {
      if (!value || typeof value !== 'object' || Array.isArray(value))
        throw new PolicyError(
          'policy_bundle_invalid',
          `bundle ${source}: ${path} must hold an object (root value must be object)`,
        );
      deepMerge(root, value as Record<string, unknown>);
      continue;
    }
    let node = root;
    for (const seg of segments.slice(0, -1)) {
      const next = node[seg];
      node = (next && typeof next === 'object' && !Array.isArray(next) ? next : (node[seg] = {})) as Record<
        string,
        unknown
      >;
    }
    const leaf = segments.at(-1)!;
    const existing = node[leaf];
    if (
      existing &&
      typeof existing === 'object' &&
      !Array.isArray(existing) &&
      value &&
      typeof value === 'object' &&
      !Array.isArray(value)
    )
      deepMerge(existing as Record<string, unknown>, value as Record<string, unknown>);
    else node[leaf] = value;
  }
  return root;
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(source)) {
    const t = target[k];
    if (t && typeof t === 'object' && !Array.isArray(t) && v && typeof v === 'object' && !Array.isArray(v))
      deepMerge(t as Record<string, unknown>, v as Record<string, unknown>);
    else target[k] = v;
  }
}

function parseJson(bytes: Buffer, path: string, source: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new PolicyError('policy_bundle_invalid', `bundle ${source}: ${path} is not valid JSON`, { cause: err });
  }
}

function parseYaml(bytes: Buffer, path: string, source: string): unknown {
  try {
    return YAML.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new PolicyError('policy_bundle_invalid', `bundle ${source}: ${path} is not valid YAML`, { cause: err });
  }
}
