import { PolicyRuntime, type BundleSpec, type EvaluationBudget, type PolicyEvents } from '../policy/index.js';
import { createSource } from './sources.js';
import { statusFilePort } from './status-file.js';

/** Where a runtime's bundles are and where it reports: what a config (or a CLI flag) describes. */
export interface RuntimeSpec {
  readonly bundles: readonly BundleSpec[];
  readonly entrypoint: string;
  /** Follow local sources (directories, files). Bundle services are always polled. */
  readonly watch?: boolean;
  /** Name a single bundle after its manifest's `metadata.name` (what `policy.bundle` always did). */
  readonly nameFromManifest?: boolean;
  /** Where to write `policy-status.json`; `policy-control.json` is read next to it. Unset: neither. */
  readonly statusFile?: string;
  readonly instanceId?: string;
  /** Debounce of local sources (default 100 ms). */
  readonly debounceMs?: number;
  /** Safety-net poll of local sources (default 2000 ms). */
  readonly pollMs?: number;
  /** How often the control file is checked (default 500 ms). */
  readonly controlPollMs?: number;
  /** Revisions kept for rollback (default 5). */
  readonly keepPrevious?: number;
  /** What one evaluation may spend (`policy.evaluation`). */
  readonly evaluation?: EvaluationBudget;
}

/**
 * A policy runtime on the sources and the status file that `spec` describes: the edge that wires
 * the core's {@link PolicyRuntime} to directories, bundle files, bundle services and files.
 *
 * @example
 * ```ts
 * const runtime = openPolicyRuntime({ bundles: [{ name: 'policy', path: './policy' }], entrypoint: 'mcp/decision' });
 * await runtime.start();
 * ```
 */
export function openPolicyRuntime(spec: RuntimeSpec, events: PolicyEvents = {}): PolicyRuntime {
  const { bundles, statusFile, debounceMs, pollMs, controlPollMs, ...options } = spec;
  const sourceOptions = {
    entrypoint: spec.entrypoint,
    ...(debounceMs !== undefined ? { debounceMs } : {}),
    ...(pollMs !== undefined ? { pollMs } : {}),
  };
  const status = statusFile
    ? statusFilePort(statusFile, {
        ...(controlPollMs !== undefined ? { pollMs: controlPollMs } : {}),
        onWarning: (message) => events.onWarning?.(message),
      })
    : undefined;
  const sources = bundles.map((b) => createSource(b, sourceOptions));
  return new PolicyRuntime({ ...options, sources, ...(status ? { status } : {}) }, events);
}

/** A runtime for one directory, bundle file or bundle URL, named as `policy.bundle` names it. */
export function policyRuntimeForSource(
  source: string,
  entrypoint: string,
  events?: PolicyEvents,
  options: Partial<RuntimeSpec> = {},
): PolicyRuntime {
  const bundle = { name: 'policy', ...(/^https?:\/\//.test(source) ? { url: source } : { path: source }) };
  return openPolicyRuntime({ bundles: [bundle], entrypoint, nameFromManifest: true, ...options }, events);
}
