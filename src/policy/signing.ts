import { createPublicKey, createSecretKey, X509Certificate, type KeyObject } from 'node:crypto';
import { basename } from 'node:path';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { PolicyError, describeError } from '../common/index.js';
import { fileDigest } from './canonical-json.js';

/** One verification key, as OPA's `keys.<id>`: a PEM public key (or certificate), or an HMAC secret. */
export interface VerificationKey {
  /** JWS algorithm: RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, HS256/384/512. */
  readonly algorithm: string;
  /** PEM text for asymmetric algorithms; the shared secret for HS*. */
  readonly key: string;
  /** Scope the signature must carry when the bundle's signing config names none. */
  readonly scope?: string;
}

/**
 * What a bundle is verified against: the keys, and OPA's per-bundle `signing` options
 * (`keyid`, `scope`, `exclude_files`).
 */
export interface VerificationConfig {
  readonly keys: Readonly<Record<string, VerificationKey>>;
  /** Key to use whatever the token says (OPA: a configured keyid wins over the JWS `kid`). */
  readonly keyid?: string;
  readonly scope?: string;
  /** Glob patterns (Go `filepath.Match`) of bundle files left out of verification. */
  readonly excludeFiles?: readonly string[];
}

/** What a successful verification established. */
export interface VerifiedSignature {
  readonly keyid: string;
  readonly scope: string;
  /** Files whose digest matched. */
  readonly files: readonly string[];
  /** Files skipped because of `exclude_files`. */
  readonly excluded: readonly string[];
}

export const SIGNATURES_FILE = '.signatures.json';

/** How the caller reads the bundle it asks to verify. */
export interface VerifyOptions {
  /**
   * Whether Warden would load this file (as policy, data, manifest or Wasm). Such a file can never
   * be left out by `exclude_files`. Default: the files a built bundle is read for
   * ({@link builtBundleLoads}); a directory that is compiled whole says every file.
   */
  readonly loads?: (path: string) => boolean;
}

/**
 * Verifies a bundle's `.signatures.json` the way OPA does (`bundle/verify.go`, `Reader.Read`):
 * exactly one JWS in compact form; key chosen by the configured keyid, else the JWS `kid`, else
 * the deprecated `keyid` claim; signature checked with that key's algorithm; `scope` claim equal
 * to the configured scope (the bundle's, else the key's); then every file of the bundle except the
 * signatures file and `exclude_files` matches the digest listed for it, and every listed file is
 * present. Only the bundle root's `.signatures.json` is the signatures file: any other file, even
 * one named `zzsignatures.json` or `sub/.signatures.json`, is an ordinary file that must be signed
 * (as `opa build --verification-key` checks it). Differences, on purpose: a bundle without
 * signatures is refused whenever verification is configured (OPA accepts it when no keyid is
 * configured); and `exclude_files` cannot exempt a file that Warden loads (`options.loads`), since
 * OPA would load it unverified.
 *
 * @throws PolicyError `policy_signature_missing` or `policy_signature_invalid`, saying which check failed.
 */
export async function verifyBundleSignatures(
  files: ReadonlyMap<string, Buffer>,
  config: VerificationConfig,
  source: string,
  options: VerifyOptions = {},
): Promise<VerifiedSignature> {
  const fail = (message: string, cause?: unknown): never => {
    throw new PolicyError(
      'policy_signature_invalid',
      `bundle ${source}: signature verification failed: ${message}`,
      cause === undefined ? undefined : { cause },
    );
  };
  const sigBytes = files.get(SIGNATURES_FILE);
  if (!sigBytes) {
    throw new PolicyError(
      'policy_signature_missing',
      `bundle ${source} has no ${SIGNATURES_FILE} but policy.verification is configured, so it is refused. ` +
        "Fix: sign it ('opa build -b -t wasm --signing-key KEY …' or 'opa sign'), or remove policy.verification.",
    );
  }
  let doc: { signatures?: unknown; plugin?: unknown };
  try {
    doc = JSON.parse(sigBytes.toString('utf8')) as typeof doc;
  } catch (err) {
    return fail(`${SIGNATURES_FILE} is not valid JSON`, err);
  }
  if (doc.plugin !== undefined && doc.plugin !== '' && doc.plugin !== '_default')
    fail(`${SIGNATURES_FILE} names signing plugin "${String(doc.plugin)}", which Warden does not have`);
  const tokens = Array.isArray(doc.signatures) ? doc.signatures : [];
  if (tokens.length === 0) fail(`${SIGNATURES_FILE}: missing JWT (expected exactly one)`);
  if (tokens.length > 1) fail(`${SIGNATURES_FILE}: multiple JWTs not supported (expected exactly one)`);
  const token = tokens[0];
  if (typeof token !== 'string' || token.split('.').length !== 3)
    return fail(`${SIGNATURES_FILE}: the signature is not a JWS in compact form`);

  let header: Record<string, unknown>;
  let claims: { keyid?: unknown; scope?: unknown; files?: unknown };
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
    claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as typeof claims;
  } catch (err) {
    return fail('the JWS header or payload cannot be decoded', err);
  }
  const only = Object.keys(config.keys).length === 1 ? Object.keys(config.keys)[0]! : '';
  // Nothing names a key: with a single key configured use it, as `opa run --verification-key` does.
  const keyid =
    config.keyid ||
    (typeof header['kid'] === 'string' ? header['kid'] : '') ||
    (typeof claims.keyid === 'string' ? claims.keyid : '') ||
    only;
  if (!keyid) fail('verification key ID is empty (set policy.verification.keyid, or sign with a kid)');
  const keyConfig = config.keys[keyid];
  if (!keyConfig)
    fail(
      `no key "${keyid}" in policy.verification.keys (configured: ${Object.keys(config.keys).join(', ') || 'none'})`,
    );

  const key = importKey(keyConfig!, keyid, fail);
  try {
    await compactVerify(token, key, { algorithms: [keyConfig!.algorithm] });
  } catch (err) {
    fail(`the JWS does not verify with key "${keyid}" (${keyConfig!.algorithm}): ${describeError(err)}`, err);
  }

  const scope = config.scope || keyConfig!.scope || '';
  const claimed = typeof claims.scope === 'string' ? claims.scope : '';
  if (claimed !== scope) fail(`scope mismatch (the signature has "${claimed}", the configuration expects "${scope}")`);

  const listed = new Map<string, { hash: string; algorithm: string }>();
  for (const f of Array.isArray(claims.files)
    ? (claims.files as { name?: unknown; hash?: unknown; algorithm?: unknown }[])
    : []) {
    if (typeof f?.name !== 'string') continue;
    listed.set(f.name, {
      hash: typeof f.hash === 'string' ? f.hash : '',
      algorithm: typeof f.algorithm === 'string' ? f.algorithm : '',
    });
  }
  const excludes = (config.excludeFiles ?? []).map((pattern) => ({ pattern, re: globToRegExp(pattern) }));
  const loads = options.loads ?? builtBundleLoads(files);
  const verified: string[] = [];
  const excluded: string[] = [];
  for (const [path, bytes] of files) {
    // The exact root path only: a suffix test let `zzsignatures.json` through unverified, and
    // opa build loads it as data.
    if (path === SIGNATURES_FILE) continue;
    const exclusion = excludes.find(({ re }) => re.test(path));
    if (exclusion) {
      if (loads(path)) {
        fail(
          `${path} matches exclude_files pattern "${exclusion.pattern}", but Warden loads it (as policy or data), ` +
            'and an excluded file is not verified. Fix: sign it, or narrow exclude_files to files Warden does not load',
        );
      }
      listed.delete(path);
      excluded.push(path);
      continue;
    }
    const entry = listed.get(path);
    if (!entry) fail(`file ${path} not included in bundle signature`);
    if (!entry!.algorithm) fail(`no hashing algorithm provided for file ${path}`);
    let actual: string;
    try {
      actual = fileDigest(path, bytes, entry!.algorithm);
    } catch (err) {
      return fail(`cannot hash ${path}: ${describeError(err)}`, err);
    }
    if (actual !== entry!.hash.toLowerCase()) fail(`${path}: digest mismatch (want: ${entry!.hash}, got: ${actual})`);
    listed.delete(path);
    verified.push(path);
  }
  if (listed.size > 0)
    fail(`file(s) [${[...listed.keys()].join(' ')}] specified in bundle signatures but not found in the target bundle`);
  return { keyid, scope, files: verified, excluded };
}

/**
 * Which files of a built bundle are read as policy, data, manifest or Wasm, by Warden or by OPA
 * reading the same bundle: Rego, `data.json|yaml|yml`, manifests, Wasm modules (`*.wasm` and any
 * the manifest names). Anything else a tarball carries is never read.
 */
export function builtBundleLoads(files: ReadonlyMap<string, Buffer>): (path: string) => boolean {
  const modules = new Set<string>();
  try {
    const manifest = JSON.parse(files.get('.manifest')?.toString('utf8') ?? '{}') as { wasm?: { module?: unknown }[] };
    for (const w of Array.isArray(manifest.wasm) ? manifest.wasm : []) {
      if (typeof w?.module === 'string') modules.add(w.module.replace(/^\//, ''));
    }
  } catch {
    // The manifest is verified (it always counts as loaded); a broken one is refused when it is read.
  }
  const data = new Set(['data.json', 'data.yaml', 'data.yml', 'patch.json', 'plan.json']);
  return (path) => /\.(rego|wasm|manifest)$/.test(path) || data.has(basename(path)) || modules.has(path);
}

// OPA's parseVerificationKey: HS* take the text as the secret; others a PEM public key, PKCS#1
// RSA public key, certificate, or a private key (whose public half is used).
function importKey(config: VerificationKey, keyid: string, fail: (m: string, c?: unknown) => never): KeyObject {
  if (/^HS(256|384|512)$/.test(config.algorithm)) return createSecretKey(Buffer.from(config.key, 'utf8'));
  try {
    if (config.key.includes('-----BEGIN CERTIFICATE-----')) return new X509Certificate(config.key).publicKey;
    return createPublicKey(config.key);
  } catch (err) {
    return fail(`key "${keyid}" is not a usable PEM key for ${config.algorithm}: ${describeError(err)}`, err);
  }
}

/** Go's `filepath.Match` syntax (`*`, `?`, `[...]`, `\` escapes; `*` stops at `/`) as a RegExp. */
export function globToRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      const body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
      // Go negates a class with '^' only; a negated class never matches the separator either.
      re += body.startsWith('^') ? `[^/${body.slice(1)}]` : `[${body}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(re + '$');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
