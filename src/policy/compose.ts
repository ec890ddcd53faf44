import { PolicyError } from '../common/index.js';
import type { LoadedBundle } from './bundle.js';
import { rootsOverlap } from './bundle.js';
import type { CompiledBundle } from './engine.js';

/** A policy made of one or more bundles, ready for {@link PolicyEngine.load}. */
export interface ComposedBundle extends CompiledBundle {
  /** Each bundle's revision, as OPA's decision logs list them (`bundles.<name>.revision`). */
  readonly bundles: Readonly<Record<string, { readonly revision: string }>>;
}

/**
 * Puts the configured bundles together the way OPA activates several bundles at once: their
 * manifest roots must not overlap (each bundle owns its part of `data`), the data of each is
 * taken from under its roots, and the Wasm module comes from the single bundle that carries one.
 * With one bundle, its name and revision are the policy's; with several, the revision names each
 * part (`base=r1,team=r7`), so one string still identifies exactly what decided a call.
 *
 * @example
 * ```ts
 * const policy = composeBundles([base, teamData]); // base carries policy.wasm, teamData only data
 * policy.bundles; // { base: { revision: 'r1' }, team: { revision: 'r7' } }
 * ```
 */
export function composeBundles(bundles: readonly LoadedBundle[]): ComposedBundle {
  if (bundles.length === 0)
    throw new PolicyError(
      'policy_bundle_invalid',
      'no policy bundle is configured. Fix: set policy.bundle or policy.bundles.',
    );
  const byName = [...bundles].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 0; i < byName.length; i++) {
    for (let j = i + 1; j < byName.length; j++) {
      const a = byName[i]!;
      const b = byName[j]!;
      for (const ra of a.roots) {
        for (const rb of b.roots) {
          if (rootsOverlap(ra, rb)) {
            throw new PolicyError(
              'policy_roots_overlap',
              `detected overlapping roots in bundle manifests: bundle ${a.name} root '${ra}' and bundle ${b.name} root '${rb}'. ` +
                'Fix: give each bundle its own roots in its .manifest (e.g. "roots": ["mcp"] for the policy and "roots": ["teams/payments"] for team data).',
            );
          }
        }
      }
    }
  }
  const carriers = byName.filter((b) => b.wasm);
  if (carriers.length === 0) {
    throw new PolicyError(
      'policy_bundle_invalid',
      `none of the bundles (${byName.map((b) => b.name).join(', ')}) carries policy.wasm. Fix: build the policy bundle with 'warden policy build' (opa build -t wasm).`,
    );
  }
  if (carriers.length > 1) {
    throw new PolicyError(
      'policy_bundle_invalid',
      `only one bundle may carry policy.wasm, but ${carriers.map((b) => b.name).join(' and ')} both do. Fix: build the data bundles without -t wasm (data only).`,
    );
  }
  const policy = carriers[0]!;
  const revisions: Record<string, { revision: string }> = {};
  for (const b of byName) revisions[b.name] = { revision: b.revision };
  if (byName.length === 1) {
    return {
      name: policy.name,
      source: policy.source,
      revision: policy.revision,
      wasm: policy.wasm!,
      data: policy.data,
      manifest: policy.manifest,
      bundles: revisions,
    };
  }
  const data: Record<string, unknown> = {};
  for (const b of byName) {
    for (const root of b.roots) {
      const key = root === '' ? [] : root.split('/');
      const value = readPath(b.data, key);
      if (value !== undefined) insertPath(data, key, value);
    }
  }
  return {
    name: byName.map((b) => b.name).join('+'),
    source: byName.map((b) => `${b.name}=${b.source}`).join(', '),
    revision: compositeRevision(revisions),
    wasm: policy.wasm!,
    data,
    manifest: policy.manifest,
    bundles: revisions,
  };
}

/** `base=r1,team=r7`: the identity of a multi-bundle policy, bundles in name order. */
export function compositeRevision(revisions: Readonly<Record<string, { revision: string }>>): string {
  return Object.keys(revisions)
    .sort()
    .map((name) => `${name}=${revisions[name]!.revision}`)
    .join(',');
}

function readPath(data: Record<string, unknown>, key: string[]): unknown {
  let node: unknown = data;
  for (const seg of key) {
    if (!node || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[seg];
  }
  return node;
}

function insertPath(data: Record<string, unknown>, key: string[], value: unknown): void {
  if (key.length === 0) {
    Object.assign(data, value as Record<string, unknown>);
    return;
  }
  let node = data;
  for (const seg of key.slice(0, -1)) {
    const next = node[seg];
    node = (next && typeof next === 'object' && !Array.isArray(next) ? next : (node[seg] = {})) as Record<
      string,
      unknown
    >;
  }
  node[key.at(-1)!] = value;
}
