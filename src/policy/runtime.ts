import { randomUUID } from 'node:crypto';
import { Listeners, PolicyError, WardenError, describeError } from '../common/index.js';
import type { LoadedBundle, RegoLocation } from './bundle.js';
import { DEFAULT_EVALUATION_BUDGET, type EvaluationBudget } from './budget.js';
import { composeBundles, type ComposedBundle } from './compose.js';
import { failClosed, type EntrypointResult, type Evaluation } from './engine.js';
import type { BundleSource, SourceState } from './source.js';
import { WorkerEngine } from './worker-engine.js';

/**
 * The runtime's port for its status and for control requests. The edge (the `bundles` part)
 * writes `policy-status.json` and reads `policy-control.json` beside it.
 */
export interface PolicyStatusPort {
  /** Publishes the status after every change. A failure is the port's own to report. */
  write(status: PolicyStatus): void;
  /** Passes each control request written from now on to `onRequest`; the returned function stops. */
  followControl(onRequest: (request: ControlRequest) => void): () => void;
}

/** What the runtime runs on: its bundle sources and status port, and how it uses them. */
export interface RuntimeOptions {
  readonly sources: readonly BundleSource[];
  readonly entrypoint: string;
  /** Follow local sources (directories, files). Bundle services are always polled. */
  readonly watch?: boolean;
  /** Name a single bundle after its manifest's `metadata.name` (what `policy.bundle` always did). */
  readonly nameFromManifest?: boolean;
  /** Where the status goes and control requests come from. Unset: nowhere, and none. */
  readonly status?: PolicyStatusPort;
  readonly instanceId?: string;
  /** Revisions kept for rollback (default 5). */
  readonly keepPrevious?: number;
  /** What one evaluation may spend (`policy.evaluation`); default {@link DEFAULT_EVALUATION_BUDGET}. */
  readonly evaluation?: EvaluationBudget;
}

/** One line of the runtime's history, newest last. */
export interface PolicyHistoryEvent {
  at: string;
  event: 'activated' | 'refused' | 'rolled_back';
  revision?: string;
  bundles?: Record<string, { revision: string }>;
  reason?: ActivationReason;
  bundle?: string;
  error?: PolicyErrorInfo;
}

export interface PolicyErrorInfo {
  at: string;
  bundle: string;
  code: string;
  message: string;
  /** Rego file and line, when the error is a compile error. */
  location?: RegoLocation;
}

export type ActivationReason = 'start' | 'update' | 'reload' | 'rollback';

/**
 * The status document (`policy-status.json`, the admin API, `warden policy status`). Wire format:
 * snake_case, versioned.
 */
export interface PolicyStatus {
  version: 1;
  instance: { id: string; pid: number; started_at: string };
  updated_at: string;
  stopped_at?: string;
  entrypoint: string;
  active: {
    revision: string;
    bundles: Record<string, { revision: string; source: string; etag?: string; signed_by?: string }>;
    loaded_at: string;
    reason: ActivationReason;
    activation: number;
  } | null;
  /** Revisions `rollback` can return to, newest first. */
  previous: { revision: string; loaded_at: string; activation: number }[];
  bundles: Record<string, SourceState & { revision: string | null }>;
  last_error: PolicyErrorInfo | null;
  history: PolicyHistoryEvent[];
  /** The last control request handled (rollback, reload) and how it went. */
  control: { id: string; action: string; ok: boolean; message: string; revision: string | null; at: string } | null;
}

/** Receives what the runtime has to say (swaps, refused bundles, failed downloads). */
export interface PolicyEvents {
  onActivated?(
    revision: string,
    source: string,
    info: { reason: ActivationReason; previous: string | null; bundles: Record<string, { revision: string }> },
  ): void;
  onRejected?(error: string, source: string, info: PolicyErrorInfo): void;
  onSourceError?(error: string, bundle: string): void;
  onWarning?(message: string): void;
}

interface Activation {
  readonly id: number;
  /** Running only while this activation is the active one; a kept one is started again on rollback. */
  readonly engine: WorkerEngine;
  readonly bundles: ReadonlyMap<string, LoadedBundle>;
  readonly composed: ComposedBundle;
  readonly loadedAt: string;
  readonly reason: ActivationReason;
}

/** A candidate ready to become active: its engine (started, smoke-tested) and what it was built from. */
interface Prepared {
  readonly engine: WorkerEngine;
  readonly bundles: ReadonlyMap<string, LoadedBundle>;
  readonly composed: ComposedBundle;
}

/** A request written to `policy-control.json` by `warden policy rollback` (or anything else). */
export interface ControlRequest {
  id: string;
  action: 'rollback' | 'reload';
  requested_at: string;
}

/**
 * Holds the active policy and swaps it atomically. A call reads the active engine once and
 * queues its evaluation on it (in that engine's worker thread, within `evaluation`'s budget), so
 * in-flight calls finish on the old revision and new calls get the new one; nothing is ever
 * decided by a mix. A swapped-out engine stops its worker once its queue is empty. A candidate
 * (any source changed) must compose, load and answer a smoke evaluation before it becomes active;
 * a bad one is refused, recorded with its error (file:line for Rego), and the active one stays.
 * The last few revisions are kept for {@link rollback} (their bundles; a worker is started again).
 *
 * @example
 * ```ts
 * // The edge builds the sources and the status port: openPolicyRuntime (the `bundles` part).
 * const runtime = new PolicyRuntime({ sources, entrypoint: 'mcp/decision', watch: true, status });
 * await runtime.start();
 * (await runtime.evaluate(input)).decision.allow;
 * ```
 */
export class PolicyRuntime {
  private active: Activation | null = null;
  private readonly previous: Activation[] = [];
  private readonly history: PolicyHistoryEvent[] = [];
  private lastError: PolicyErrorInfo | null = null;
  private control: PolicyStatus['control'] = null;
  private readonly sources: readonly BundleSource[];
  private readonly pending = new Map<string, LoadedBundle>();
  private queue: Promise<unknown> = Promise.resolve();
  private activations = 0;
  private readonly knownRevisions = new Map<string, Record<string, { revision: string }>>();
  private stopControl: (() => void) | null = null;
  private readonly handledControl = new Set<string>();
  private readonly startedAt = new Date();
  private readonly instanceId: string;
  private stopped = false;
  private readonly listeners = new Listeners<PolicyStatus>();

  constructor(
    readonly options: RuntimeOptions,
    private readonly events: PolicyEvents = {},
  ) {
    if (options.sources.length === 0)
      throw new PolicyError(
        'policy_bundle_invalid',
        'no policy bundle is configured. Fix: set policy.bundle or policy.bundles.',
      );
    this.instanceId = options.instanceId ?? randomUUID();
    this.sources = options.sources;
  }

  get entrypoint(): string {
    return this.options.entrypoint;
  }

  /** Every source, joined: what `policy.bundle(s)` point at. */
  get source(): string {
    return this.sources
      .map((s) => (this.sources.length > 1 ? `${s.spec.name}=` : '') + (s.spec.url ?? s.spec.path))
      .join(', ');
  }

  /** Loads every bundle and activates the result; throws (at start-up) when any of it fails. Then follows the sources. */
  async start(): Promise<void> {
    const loaded = await Promise.allSettled(this.sources.map((s) => s.load()));
    const failures = loaded.flatMap((r, i) =>
      r.status === 'rejected' ? [`bundle ${this.sources[i]!.spec.name}: ${describeError(r.reason)}`] : [],
    );
    if (failures.length > 0) {
      const first = loaded.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason as unknown;
      const code = first instanceof WardenError ? first.code : 'policy_load_failed';
      this.lastError = {
        at: new Date().toISOString(),
        bundle: this.sources[loaded.findIndex((r) => r.status === 'rejected')]!.spec.name,
        code,
        message: failures.join('\n'),
      };
      this.writeStatus();
      throw new PolicyError(code, failures.length === 1 ? describeError(first) : failures.join('\n'), { cause: first });
    }
    const bundles = new Map<string, LoadedBundle>();
    for (const r of loaded) {
      const b = (r as PromiseFulfilledResult<LoadedBundle>).value;
      bundles.set(b.name, b);
    }
    try {
      this.activate(await this.prepare(bundles), 'start');
    } catch (err) {
      this.refuse([...bundles.keys()].join(', '), err);
      throw err;
    }
    for (const source of this.sources) {
      if (source.spec.url || (source.spec.watch ?? this.options.watch ?? false)) {
        source.start({
          onBundle: (bundle) => this.offer(bundle),
          onError: (error, kind) => this.sourceError(source, error, kind),
        });
      }
    }
    this.startControl();
    this.writeStatus();
  }

  /** Starts following local sources that were not watched at start (the old `watch()` API). */
  watch(): void {
    for (const source of this.sources) {
      source.start({
        onBundle: (bundle) => this.offer(bundle),
        onError: (error, kind) => this.sourceError(source, error, kind),
      });
    }
  }

  /** Loads every source again now; keeps the active policy when the result fails. Returns whether it swapped. */
  async reload(): Promise<boolean> {
    return this.serial(async () => {
      let bundles: Map<string, LoadedBundle>;
      try {
        const loaded = await Promise.all(this.sources.map((s) => s.load()));
        bundles = new Map(loaded.map((b) => [b.name, b]));
      } catch (err) {
        this.refuse(this.sources.map((s) => s.spec.name).join(', '), err);
        return false;
      }
      if (this.active && sameBundles(this.active.bundles, bundles)) return false;
      try {
        this.activate(await this.prepare(bundles), 'reload');
        return true;
      } catch (err) {
        this.refuse([...bundles.keys()].join(', '), err);
        return false;
      }
    });
  }

  /**
   * Returns to the revision that was active before the current one (repeatable, up to the number
   * kept). The sources are not rewound: the rolled-back revision stays active until a source
   * changes again.
   *
   * @throws PolicyError `policy_rollback_unavailable` when there is nothing to go back to.
   */
  async rollback(): Promise<{ revision: string; from: string }> {
    return this.serial(async () => {
      const target = this.previous.pop();
      if (!target || !this.active) {
        throw new PolicyError(
          'policy_rollback_unavailable',
          'there is no previous revision to roll back to (only the revision loaded at start, or every kept one was already rolled back).',
        );
      }
      const from = this.active.composed.revision;
      let engine: WorkerEngine;
      try {
        engine = await this.load(target.composed);
      } catch (err) {
        this.previous.push(target);
        const message = `revision ${target.composed.revision} could not be started again: ${describeError(err)}`;
        throw new PolicyError('policy_rollback_failed', message, { cause: err });
      }
      const restored: Activation = { ...target, engine, loadedAt: new Date().toISOString(), reason: 'rollback' };
      const replaced = this.active;
      this.active = restored;
      void replaced.engine.retire();
      this.lastError = null;
      this.record({
        at: restored.loadedAt,
        event: 'rolled_back',
        revision: restored.composed.revision,
        bundles: { ...restored.composed.bundles },
        reason: 'rollback',
      });
      this.events.onActivated?.(restored.composed.revision, restored.composed.source, {
        reason: 'rollback',
        previous: from,
        bundles: { ...restored.composed.bundles },
      });
      this.writeStatus();
      return { revision: restored.composed.revision, from };
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const s of this.sources) s.stop();
    this.stopControl?.();
    this.stopControl = null;
    // Whatever is still evaluating is denied; the worker thread ends with it.
    void this.active?.engine.close();
    this.writeStatus(true);
  }

  /**
   * Evaluates with the active engine (read once), within the evaluation budget. Never rejects:
   * with no policy, or one over budget, it denies and says so (fail closed).
   */
  evaluate(input: unknown, nowMs?: number): Promise<Evaluation> {
    const engine = this.active?.engine;
    if (!engine) {
      const last = this.lastError ? `; last error: ${this.lastError.message}` : '';
      const missing = failClosed('policy_missing', `no policy bundle is loaded (source ${this.source}${last})`);
      return Promise.resolve({ ...missing, revision: '', bundle: '', result: undefined, evalNs: 0 });
    }
    return engine.evaluate(input, nowMs);
  }

  /** The budget every evaluation gets (`policy.evaluation`). */
  get budget(): EvaluationBudget {
    return this.options.evaluation ?? DEFAULT_EVALUATION_BUDGET;
  }

  /**
   * Evaluates another entrypoint of the active policy (read once), e.g. `mcp/workflow/status` for
   * the dashboard. Never throws; with no policy loaded, or an entrypoint the active revision was
   * not compiled with, the result says so.
   */
  evaluateEntrypoint(name: string, input: unknown, nowMs?: number): Promise<EntrypointResult> {
    const engine = this.active?.engine;
    const missing = 'no policy bundle is loaded';
    if (!engine) return Promise.resolve({ ok: false, code: 'policy_missing', message: missing, revision: '' });
    return engine.evaluateEntrypoint(name, input, nowMs);
  }

  /** Whether the active policy was compiled with entrypoint `name`. */
  hasEntrypoint(name: string): boolean {
    return this.active?.engine.hasEntrypoint(name) ?? false;
  }

  get revision(): string | null {
    return this.active?.composed.revision ?? null;
  }

  get bundleName(): string {
    return this.active?.composed.name ?? 'policy';
  }

  /**
   * Each bundle's revision for a revision this runtime activated: for a multi-bundle policy the
   * decision log lists the parts (`{base: {revision}, team: {revision}}`), as OPA does.
   */
  bundleRevisions(revision: string): Record<string, { revision: string }> | undefined {
    const found = this.knownRevisions.get(revision);
    return found ? { ...found } : undefined;
  }

  /** Rewrites a decision log event's `bundles` map into one entry per bundle when the policy has several. */
  expandBundles(bundles: Record<string, { revision: string }>): Record<string, { revision: string }> {
    const entries = Object.values(bundles);
    if (entries.length !== 1) return bundles;
    return this.bundleRevisions(entries[0]!.revision) ?? bundles;
  }

  /** Calls `listener` with the new status after every change. Returns an unsubscribe function. */
  onStatus(listener: (status: PolicyStatus) => void): () => void {
    return this.listeners.add(listener);
  }

  status(): PolicyStatus {
    const a = this.active;
    const bundles: PolicyStatus['bundles'] = {};
    for (const s of this.sources)
      bundles[s.spec.name] = {
        ...s.state(),
        revision:
          a?.bundles.get(s.spec.name)?.revision ?? (this.sources.length === 1 && a ? a.composed.revision : null),
      };
    return {
      version: 1,
      instance: { id: this.instanceId, pid: process.pid, started_at: this.startedAt.toISOString() },
      updated_at: new Date().toISOString(),
      ...(this.stopped ? { stopped_at: new Date().toISOString() } : {}),
      entrypoint: this.options.entrypoint,
      active: a
        ? {
            revision: a.composed.revision,
            bundles: Object.fromEntries(
              [...a.bundles.values()].map((b) => [
                b.name,
                {
                  revision: b.revision,
                  source: b.source,
                  ...(b.etag ? { etag: b.etag } : {}),
                  ...(b.signature ? { signed_by: b.signature.keyid } : {}),
                },
              ]),
            ),
            loaded_at: a.loadedAt,
            reason: a.reason,
            activation: a.id,
          }
        : null,
      previous: [...this.previous]
        .reverse()
        .map((p) => ({ revision: p.composed.revision, loaded_at: p.loadedAt, activation: p.id })),
      bundles,
      last_error: this.lastError,
      history: this.history.map((h) => ({ ...h })),
      control: this.control,
    };
  }

  /** Handles one control request (what the control file carries); exported for the admin API. */
  async handleControl(request: ControlRequest): Promise<NonNullable<PolicyStatus['control']>> {
    let ok = true;
    let message: string;
    try {
      if (request.action === 'rollback') {
        const r = await this.rollback();
        message = `rolled back from ${r.from} to ${r.revision}`;
      } else if (request.action === 'reload') {
        message = (await this.reload())
          ? `reloaded: now ${this.revision}`
          : `nothing new to activate (active: ${this.revision})${this.lastError ? `; last error: ${this.lastError.message}` : ''}`;
      } else {
        ok = false;
        message = `unknown action "${String(request.action)}" (known: rollback, reload)`;
      }
    } catch (err) {
      ok = false;
      message = describeError(err);
    }
    this.control = {
      id: request.id,
      action: String(request.action),
      ok,
      message,
      revision: this.revision,
      at: new Date().toISOString(),
    };
    this.writeStatus();
    return this.control;
  }

  // --- internals -------------------------------------------------------------------------------

  private offer(bundle: LoadedBundle): void {
    this.pending.set(bundle.name, bundle);
    void this.serial(() => this.drain());
  }

  private async drain(): Promise<void> {
    if (this.pending.size === 0 || !this.active || this.stopped) return;
    const updates = [...this.pending.values()];
    this.pending.clear();
    const attempt = async (changed: LoadedBundle[]): Promise<boolean> => {
      const candidate = new Map(this.active!.bundles);
      for (const b of changed) candidate.set(b.name, b);
      try {
        this.activate(await this.prepare(candidate), 'update');
        return true;
      } catch (err) {
        if (changed.length === 1 || updates.length === 1)
          this.refuse(changed.map((b) => b.name).join(', '), err, changed[0]);
        return false;
      }
    };
    if (await attempt(updates)) return;
    // Together they failed: try each on its own, so a good update is not held back by a bad one.
    if (updates.length > 1) for (const u of updates) await attempt([u]);
  }

  private async prepare(bundles: ReadonlyMap<string, LoadedBundle>): Promise<Prepared> {
    let composed = composeBundles([...bundles.values()]);
    if (this.options.nameFromManifest && bundles.size === 1) {
      const metaName = (composed.manifest['metadata'] as Record<string, unknown> | undefined)?.['name'];
      if (typeof metaName === 'string' && metaName !== '')
        composed = { ...composed, name: metaName, bundles: { [metaName]: { revision: composed.revision } } };
    }
    const engine = await this.load(composed);
    const smoke = await engine.evaluate(SMOKE_INPUT);
    if (smoke.error) {
      await engine.close();
      throw new PolicyError(
        'policy_smoke_failed',
        `bundle ${composed.source} (revision ${composed.revision}) failed its smoke evaluation: ${smoke.error.message}`,
      );
    }
    return { engine, bundles, composed };
  }

  /** Starts a worker for `composed` with this runtime's budget; a replaced worker is reported as a warning. */
  private load(composed: ComposedBundle): Promise<WorkerEngine> {
    return WorkerEngine.load(composed, this.options.entrypoint, {
      budget: this.budget,
      onRestart: (why) => {
        this.events.onWarning?.(`policy revision ${composed.revision}: ${why}; its worker thread was replaced`);
      },
    });
  }

  private activate(prepared: Prepared, reason: ActivationReason): void {
    if (this.stopped) {
      void prepared.engine.close();
      return;
    }
    const previous = this.active;
    const activation: Activation = { id: ++this.activations, ...prepared, loadedAt: new Date().toISOString(), reason };
    // The swap itself: one assignment. Calls already queued on the old engine finish there.
    this.active = activation;
    if (previous) {
      void previous.engine.retire();
      this.previous.push(previous);
      while (this.previous.length > (this.options.keepPrevious ?? 5)) this.previous.shift();
    }
    this.lastError = null;
    this.knownRevisions.set(prepared.composed.revision, { ...prepared.composed.bundles });
    if (this.knownRevisions.size > 200) this.knownRevisions.delete(this.knownRevisions.keys().next().value!);
    this.record({
      at: activation.loadedAt,
      event: 'activated',
      revision: prepared.composed.revision,
      bundles: { ...prepared.composed.bundles },
      reason,
    });
    this.events.onActivated?.(prepared.composed.revision, prepared.composed.source, {
      reason,
      previous: previous?.composed.revision ?? null,
      bundles: { ...prepared.composed.bundles },
    });
    this.writeStatus();
  }

  private refuse(bundle: string, err: unknown, candidate?: LoadedBundle): void {
    const location = (err as { location?: RegoLocation }).location;
    const info: PolicyErrorInfo = {
      at: new Date().toISOString(),
      bundle,
      code: err instanceof WardenError ? err.code : 'policy_load_failed',
      message: describeError(err),
      ...(location ? { location } : {}),
    };
    this.lastError = info;
    this.record({
      at: info.at,
      event: 'refused',
      bundle,
      ...(candidate ? { revision: candidate.revision } : {}),
      error: info,
    });
    this.events.onRejected?.(info.message, candidate?.source ?? bundle, info);
    this.writeStatus();
  }

  private sourceError(source: BundleSource, error: unknown, kind: 'download' | 'load'): void {
    if (kind === 'load') {
      this.refuse(source.spec.name, error);
      return;
    }
    this.events.onSourceError?.(describeError(error), source.spec.name);
    this.writeStatus();
  }

  private record(event: PolicyHistoryEvent): void {
    this.history.push(event);
    if (this.history.length > 50) this.history.shift();
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  // --- status and control requests --------------------------------------------------------------

  private writeStatus(final = false): void {
    const status = this.status();
    if (final) status.stopped_at = new Date().toISOString();
    this.listeners.emit(status);
    this.options.status?.write(status);
  }

  private startControl(): void {
    if (!this.options.status || this.stopControl) return;
    this.stopControl = this.options.status.followControl((request) => this.takeControl(request));
  }

  // Each request is handled once; one written before this process started is not for it.
  private takeControl(request: ControlRequest): void {
    if (!request || typeof request.id !== 'string' || this.handledControl.has(request.id)) return;
    if (Date.parse(request.requested_at) < this.startedAt.getTime() - 1000) return;
    this.handledControl.add(request.id);
    void this.handleControl(request);
  }
}

function sameBundles(a: ReadonlyMap<string, LoadedBundle>, b: ReadonlyMap<string, LoadedBundle>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, bundle] of a) if (b.get(name)?.digest !== bundle.digest) return false;
  return true;
}

/** A minimal valid input document: a policy must answer it with a well-shaped decision. */
export const SMOKE_INPUT = {
  version: 1,
  call: {
    kind: 'tool',
    server: 'warden',
    tool: 'warden_smoke_test',
    name: 'warden_smoke_test',
    arguments: {},
    annotations: {},
  },
  session: { id: 'smoke', client: { name: 'warden', version: '0' }, started_at: '1970-01-01T00:00:00.000Z' },
  principal: { sub: 'warden', roles: [], claims: {} },
  history: [],
  summary: {},
  approvals: [],
  now: '1970-01-01T00:00:00.000Z',
  now_ms: 0,
};
