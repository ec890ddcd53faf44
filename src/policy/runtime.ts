import { watch, type FSWatcher } from 'node:fs';
import { PolicyError, describeError } from '../common/index.js';
import { loadBundleSource } from './bundle.js';
import { failClosed, PolicyEngine, type Evaluation } from './engine.js';

export interface PolicyStatus {
  readonly source: string;
  readonly entrypoint: string;
  readonly revision: string | null;
  readonly loadedAt: string | null;
  readonly lastError: string | null;
  readonly history: readonly { revision: string; loadedAt: string }[];
}

/** Receives what the runtime has to say (swaps, refused bundles). */
export interface PolicyEvents {
  onActivated?(revision: string, source: string): void;
  onRejected?(error: string, source: string): void;
}

/**
 * Holds the active policy and swaps it atomically: a call evaluates against the engine it read
 * when it started, so in-flight calls finish on the old revision and new calls get the new one.
 * A candidate must compile, load and answer a smoke evaluation before it becomes active; a bad one
 * is refused and the active one stays.
 */
export class PolicyRuntime {
  private active: PolicyEngine | null = null;
  private loadedAt: string | null = null;
  private lastError: string | null = null;
  private readonly history: { revision: string; loadedAt: string }[] = [];
  private watcher: FSWatcher | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  private reloading: Promise<void> = Promise.resolve();

  constructor(
    readonly source: string,
    readonly entrypoint: string,
    private readonly events: PolicyEvents = {},
  ) {}

  /** Loads the configured source; throws (at start-up) when it cannot. */
  async start(): Promise<void> {
    const engine = await this.prepare();
    this.activate(engine);
  }

  /** Loads the source again; keeps the active policy when the new one fails. Returns whether it swapped. */
  async reload(): Promise<boolean> {
    let swapped = false;
    const run = async (): Promise<void> => {
      try {
        this.activate(await this.prepare());
        swapped = true;
      } catch (err) {
        this.lastError = describeError(err);
        this.events.onRejected?.(this.lastError, this.source);
      }
    };
    this.reloading = this.reloading.then(run);
    await this.reloading;
    return swapped;
  }

  /** Watches a directory (or bundle file) and reloads, debounced, on change. */
  watch(debounceMs = 200): void {
    if (this.watcher) return;
    this.watcher = watch(this.source, { recursive: true }, () => {
      if (this.reloadTimer) clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => void this.reload(), debounceMs);
    });
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
  }

  /** Evaluates with the active engine; with none, denies and says so (fail closed). */
  evaluate(input: unknown, nowMs?: number): Evaluation {
    const engine = this.active;
    if (!engine) {
      return { ...failClosed('policy_missing', `no policy bundle is loaded (source ${this.source}${this.lastError ? `; last error: ${this.lastError}` : ''})`), revision: '', bundle: '', result: undefined, evalNs: 0 };
    }
    return engine.evaluate(input, nowMs);
  }

  get revision(): string | null {
    return this.active?.bundle.revision ?? null;
  }

  get bundleName(): string {
    return this.active?.bundle.name ?? 'policy';
  }

  status(): PolicyStatus {
    return { source: this.source, entrypoint: this.entrypoint, revision: this.revision, loadedAt: this.loadedAt, lastError: this.lastError, history: [...this.history] };
  }

  private async prepare(): Promise<PolicyEngine> {
    const bundle = await loadBundleSource(this.source, this.entrypoint);
    const engine = await PolicyEngine.load(bundle, this.entrypoint);
    const smoke = engine.evaluate(SMOKE_INPUT);
    if (smoke.error) {
      throw new PolicyError('policy_smoke_failed', `bundle ${this.source} (revision ${bundle.revision}) failed its smoke evaluation: ${smoke.error.message}`);
    }
    return engine;
  }

  private activate(engine: PolicyEngine): void {
    this.active = engine;
    this.loadedAt = new Date().toISOString();
    this.lastError = null;
    this.history.push({ revision: engine.bundle.revision, loadedAt: this.loadedAt });
    if (this.history.length > 50) this.history.shift();
    this.events.onActivated?.(engine.bundle.revision, this.source);
  }
}

/** A minimal valid input document: a policy must answer it with a well-shaped decision. */
const SMOKE_INPUT = {
  version: 1,
  call: { kind: 'tool', server: 'warden', tool: 'warden_smoke_test', name: 'warden_smoke_test', arguments: {}, annotations: {} },
  session: { id: 'smoke', client: { name: 'warden', version: '0' }, started_at: '1970-01-01T00:00:00.000Z' },
  principal: { sub: 'warden', roles: [], claims: {} },
  history: [],
  summary: {},
  approvals: [],
  now: '1970-01-01T00:00:00.000Z',
  now_ms: 0,
};
