import type { BundleLimits } from './archive.js';
import type { LoadedBundle } from './bundle.js';
import type { VerificationConfig } from './signing.js';

/*
 * The runtime's port for where bundles come from. The edge (the `bundles` part) implements it for
 * policy directories, bundle files and OPA bundle services.
 */

/** OPA's bundle polling settings (`bundles.<name>.polling`); fractions of a second are allowed. */
export interface PollingConfig {
  readonly minDelaySeconds: number;
  readonly maxDelaySeconds: number;
  /** Ask the bundle service to hold the request up to this long (`Prefer: wait=N`). */
  readonly longPollingTimeoutSeconds?: number;
}

/** One configured bundle. Exactly one of `path` and `url`. */
export interface BundleSpec {
  readonly name: string;
  /** A policy directory (compiled on load) or a built bundle `.tar.gz`. */
  readonly path?: string;
  /** The bundle's URL on an OPA bundle service. */
  readonly url?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly polling?: PollingConfig;
  /** When set, the bundle must carry a valid `.signatures.json`. */
  readonly verification?: VerificationConfig;
  /** Watch a local source for changes. */
  readonly watch?: boolean;
  /** The largest bundle read from this source (`policy.limits`; default {@link DEFAULT_BUNDLE_LIMITS}). */
  readonly limits?: BundleLimits;
}

/** What a source reports while it runs. */
export interface SourceListener {
  /** A new version of the bundle, read and verified (not yet activated). */
  onBundle(bundle: LoadedBundle): void;
  /** A version that could not be read, verified or compiled; or a failed download. */
  onError(error: unknown, kind: 'download' | 'load'): void;
}

export interface SourceState {
  kind: 'directory' | 'file' | 'http';
  location: string;
  etag?: string;
  long_polling?: boolean;
  last_check_at?: string;
  last_change_at?: string;
  last_error?: string | null;
  consecutive_errors?: number;
}

/** Where one bundle comes from. `load()` once at start (throws), then `start()` to follow changes. */
export interface BundleSource {
  readonly spec: BundleSpec;
  load(): Promise<LoadedBundle>;
  start(listener: SourceListener): void;
  stop(): void;
  state(): SourceState;
}
