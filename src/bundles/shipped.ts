import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPTIONAL_ENTRYPOINTS } from '../policy/index.js';
import { PACKAGE_ROOT } from './toolchain.js';

/** The policy shipped in the package (`policy/`); `policy.bundle: builtin:shipped` names it. */
export const SHIPPED_POLICY_DIR = join(PACKAGE_ROOT, 'policy');

/**
 * The shipped policy compiled to Wasm by `npm run build` (scripts/build-shipped-policy.mjs), with
 * the real opa, and packed with the package: serving the shipped policy needs neither Go nor opa.
 */
export const SHIPPED_BUNDLE_FILE = join(PACKAGE_ROOT, 'dist', 'policy', 'shipped.tar.gz');

/** What the pre-built bundle was built from: {@link ShippedBundleInfo}. */
export const SHIPPED_BUNDLE_INFO = join(PACKAGE_ROOT, 'dist', 'policy', 'shipped.json');

/** `dist/policy/shipped.json`, written next to the pre-built bundle. */
export interface ShippedBundleInfo {
  version: 1;
  /** `filesDigest` of the policy directory snapshot it was compiled from (full sha256). */
  digest: string;
  revision: string;
  /** The entrypoints compiled in (the decision plus the optional ones the policy defines). */
  entrypoints: string[];
  /** The optional entrypoints the build looked for ({@link OPTIONAL_ENTRYPOINTS} of the Warden that built it). */
  optional_entrypoints: string[];
  /** sha256 of shipped.tar.gz, so a bundle and a description from different builds never pair up. */
  tarball_sha256: string;
  /** `opa version`'s first line at build time. */
  opa: string;
}

/**
 * The pre-built bundle's bytes when it was compiled from exactly these sources with this
 * entrypoint ({@link describesBuild}); otherwise undefined and the caller compiles.
 */
export function prebuiltShippedBundle(digest: string, entrypoint: string): Buffer | undefined {
  let info: ShippedBundleInfo;
  let tarball: Buffer;
  try {
    info = JSON.parse(readFileSync(SHIPPED_BUNDLE_INFO, 'utf8')) as ShippedBundleInfo;
    if (!describesBuild(info, digest, entrypoint)) return undefined;
    tarball = readFileSync(SHIPPED_BUNDLE_FILE);
  } catch {
    return undefined; // not built (a checkout without opa at build time): compile as usual
  }
  return createHash('sha256').update(tarball).digest('hex') === info.tarball_sha256 ? tarball : undefined;
}

/**
 * Whether a pre-built bundle's description matches what compiling now would build: the same
 * sources (digest of every file's path and bytes), compiled with `entrypoint`, by a Warden that
 * looked for the same optional entrypoints. A copy of the shipped policy anywhere matches too: the
 * digest covers content, not location. A build that looked for fewer optional entrypoints does
 * not: unchanged sources may define one it did not know, and its Wasm would lack that rule.
 */
export function describesBuild(info: ShippedBundleInfo, digest: string, entrypoint: string): boolean {
  return (
    info.version === 1 &&
    info.digest === digest &&
    info.entrypoints.includes(entrypoint) &&
    sameList(info.optional_entrypoints, OPTIONAL_ENTRYPOINTS)
  );
}

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);
}
