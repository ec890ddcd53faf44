import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
  /** sha256 of shipped.tar.gz, so a bundle and a description from different builds never pair up. */
  tarball_sha256: string;
  /** `opa version`'s first line at build time. */
  opa: string;
}

/**
 * The pre-built bundle's bytes when it was compiled from exactly these sources (same digest of
 * every file's path and bytes) with this entrypoint; otherwise undefined and the caller compiles.
 * A copy of the shipped policy anywhere matches too: the digest covers content, not location.
 */
export function prebuiltShippedBundle(digest: string, entrypoint: string): Buffer | undefined {
  let info: ShippedBundleInfo;
  let tarball: Buffer;
  try {
    info = JSON.parse(readFileSync(SHIPPED_BUNDLE_INFO, 'utf8')) as ShippedBundleInfo;
    if (info.version !== 1 || info.digest !== digest || !info.entrypoints.includes(entrypoint)) return undefined;
    tarball = readFileSync(SHIPPED_BUNDLE_FILE);
  } catch {
    return undefined; // not built (a checkout without opa at build time): compile as usual
  }
  return createHash('sha256').update(tarball).digest('hex') === info.tarball_sha256 ? tarball : undefined;
}
