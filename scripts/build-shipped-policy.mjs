// Compiles the shipped policy (policy/) to a Wasm bundle, dist/policy/shipped.tar.gz, plus what it
// was built from (dist/policy/shipped.json), so that an installed package serves the shipped policy
// without Go or opa (src/bundles/shipped.ts). Runs after tsc (it uses the compiler Warden itself
// uses, from dist/), and again before `npm pack` with --require.
//
//   node scripts/build-shipped-policy.mjs            skip, with a note, when opa is not available
//   node scripts/build-shipped-policy.mjs --require  fail without opa (prepack: never ship without it)
//
// Nothing is rebuilt while the sources' digest still matches the existing bundle.
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  compileSnapshot,
  findOpa,
  prebuiltShippedBundle,
  runOpa,
  SHIPPED_BUNDLE_FILE,
  SHIPPED_BUNDLE_INFO,
  SHIPPED_POLICY_DIR,
  snapshotDirectory,
} from '../dist/bundles/index.js';
import { filesDigest, OPTIONAL_ENTRYPOINTS, snapshotRevision } from '../dist/policy/index.js';

const ENTRYPOINT = 'mcp/decision';
const required = process.argv.includes('--require');
const say = (text) => process.stderr.write(`build-shipped-policy: ${text}\n`);

const snapshot = snapshotDirectory(SHIPPED_POLICY_DIR);
const digest = filesDigest(snapshot);
if (prebuiltShippedBundle(digest, ENTRYPOINT)) process.exit(0);

let opa;
try {
  opa = findOpa();
} catch (err) {
  if (required) {
    say(`cannot build the pre-built policy the package must ship: ${err.message}`);
    process.exit(1);
  }
  say('opa not found: dist/policy/shipped.tar.gz not built (serving policy/ will then need opa; `make tools` gets it)');
  process.exit(0);
}

const revision = snapshotRevision(snapshot);
const { tarball, entrypoints } = await compileSnapshot(snapshot, {
  dir: SHIPPED_POLICY_DIR,
  entrypoint: ENTRYPOINT,
  revision,
});
const version = (await runOpa(['version'], { opa })).stdout.split('\n')[0].trim();
const info = {
  version: 1,
  digest,
  revision,
  entrypoints,
  optional_entrypoints: [...OPTIONAL_ENTRYPOINTS],
  tarball_sha256: createHash('sha256').update(tarball).digest('hex'),
  opa: version,
};
mkdirSync(dirname(SHIPPED_BUNDLE_FILE), { recursive: true });
// Bundle first, description last: a reader pairs them by the tarball's hash, so a half-finished
// build is never taken for a finished one.
writeFileSync(`${SHIPPED_BUNDLE_FILE}.tmp`, tarball);
renameSync(`${SHIPPED_BUNDLE_FILE}.tmp`, SHIPPED_BUNDLE_FILE);
writeFileSync(`${SHIPPED_BUNDLE_INFO}.tmp`, JSON.stringify(info, null, 2) + '\n');
renameSync(`${SHIPPED_BUNDLE_INFO}.tmp`, SHIPPED_BUNDLE_INFO);
say(`built ${revision} (${entrypoints.join(', ')}) with ${version}`);
