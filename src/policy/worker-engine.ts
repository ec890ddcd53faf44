import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PolicyError, deferred, describeError, documentJson } from '../common/index.js';
import { DEFAULT_EVALUATION_BUDGET, memoryMessage, timeoutMessage, type EvaluationBudget } from './budget.js';
import {
  entrypointMissing,
  failClosed,
  readEntrypoint,
  readEvaluation,
  type CompiledBundle,
  type EntrypointFailureCode,
  type EntrypointResult,
  type Evaluation,
  type PolicyFailureCode,
} from './engine.js';
import type { RawOutcome, WasmLoadCode } from './wasm-policy.js';

/** What a worker starts from (its `workerData`): the compiled module and the data, never recompiled. */
export interface WorkerInit {
  readonly bundle: Pick<CompiledBundle, 'name' | 'source' | 'revision'>;
  readonly entrypoint: string;
  readonly module: WebAssembly.Module;
  readonly dataJson: string;
  readonly budget: EvaluationBudget;
}

/**
 * One evaluation, main thread to worker. `input` is the input document as JSON text: a string
 * is copied to the worker more cheaply than bytes are transferred, and the worker encodes it.
 */
export interface WorkerRequest {
  readonly id: number;
  /** The entrypoint: the decision's or another one the module was compiled with. */
  readonly name: string;
  readonly input: string | null;
  readonly nowMs: number;
}

export type WorkerReply =
  | { readonly type: 'ready'; readonly entrypoints: string[] }
  | { readonly type: 'load_failed'; readonly code: WasmLoadCode; readonly message: string }
  | { readonly type: 'result'; readonly id: number; readonly raw: RawOutcome };

export interface WorkerEngineOptions {
  /** Defaults to {@link DEFAULT_EVALUATION_BUDGET}. */
  readonly budget?: EvaluationBudget;
  /** Told each time the worker is replaced (an evaluation over budget, or a crash), with why. */
  readonly onRestart?: (why: string) => void;
}

/** How long a worker may take to instantiate the module and load the data. */
const LOAD_TIMEOUT_MS = 60_000;

/** The codes a failure outside the policy's own answer can have, for the decision and other entrypoints alike. */
type FailureCode = PolicyFailureCode & EntrypointFailureCode;

type Outcome =
  | { readonly type: 'result'; readonly raw: RawOutcome }
  | { readonly type: 'failed'; readonly code: FailureCode; readonly message: string };

const failed = (code: FailureCode, message: string): Outcome => ({ type: 'failed', code, message });

interface Job {
  readonly name: string;
  /** The input document as JSON text, taken when the evaluation was asked for. */
  readonly input: string | null;
  readonly nowMs: number;
  readonly done: (outcome: Outcome) => void;
}

interface Live {
  readonly thread: Worker;
  readonly ready: Promise<void>;
  started: boolean;
  error?: Error;
}

interface InFlight {
  readonly id: number;
  /** The entrypoint being evaluated, for messages. */
  readonly name: string;
  readonly live: Live;
  readonly settle: (outcome: Outcome) => void;
}

/**
 * A policy bundle evaluated in a worker thread behind a watchdog, so that no rule can stall
 * Warden: the main thread hands over one evaluation at a time and waits with a timer. Past the
 * budget's `timeoutMs`, or when the policy needs more than `maxMemoryMb`, it terminates the
 * worker (that interrupts a running Wasm loop), denies (`policy_timeout`,
 * `policy_memory_exceeded`), and starts a fresh worker from the same compiled module. Calls
 * queued behind a stalled one wait for that fresh worker; their own budget starts when they are
 * handed over. Never throws once loaded: every failure is a deny that names what broke.
 *
 * @example
 * ```ts
 * const budget = { timeoutMs: 250, maxMemoryMb: 256 };
 * const engine = await WorkerEngine.load(bundle, 'mcp/decision', { budget });
 * const { decision } = await engine.evaluate(inputDocument);
 * await engine.close();
 * ```
 */
export class WorkerEngine {
  private live: Live | null = null;
  private readonly queue: Job[] = [];
  private inFlight: InFlight | null = null;
  private running = false;
  private closed = false;
  private nextId = 0;
  private entrypointNames: ReadonlySet<string> = new Set();
  private readonly idleWaiters: (() => void)[] = [];
  private replaced = 0;

  private constructor(
    readonly bundle: CompiledBundle,
    readonly entrypoint: string,
    readonly budget: EvaluationBudget,
    private readonly init: WorkerInit,
    private readonly onRestart: ((why: string) => void) | undefined,
  ) {}

  /**
   * Compiles the module once, starts the worker and waits until it has loaded the bundle (the
   * same checks as {@link PolicyEngine.load}: entrypoint, builtins, data).
   *
   * @throws PolicyError with the code the worker's load failed with.
   */
  static async load(
    bundle: CompiledBundle,
    entrypoint: string,
    options: WorkerEngineOptions = {},
  ): Promise<WorkerEngine> {
    const budget = options.budget ?? DEFAULT_EVALUATION_BUDGET;
    let module: WebAssembly.Module;
    try {
      module = await WebAssembly.compile(bundle.wasm);
    } catch (err) {
      throw new PolicyError(
        'policy_wasm_invalid',
        `bundle ${bundle.source} (revision ${bundle.revision}): the Wasm module cannot be loaded: ` +
          `${describeError(err)}. Fix: rebuild it with 'warden policy build'.`,
        { cause: err },
      );
    }
    const init: WorkerInit = {
      bundle: { name: bundle.name, source: bundle.source, revision: bundle.revision },
      entrypoint,
      module,
      dataJson: JSON.stringify(bundle.data ?? {}),
      budget,
    };
    const engine = new WorkerEngine(bundle, entrypoint, budget, init, options.onRestart);
    const live = engine.spawn();
    try {
      await live.ready;
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  /** How many times the worker was replaced (over budget, or crashed). */
  get restarts(): number {
    return this.replaced;
  }

  /** Whether the compiled module has `name` (e.g. `mcp/workflow/status`) as an entrypoint. */
  hasEntrypoint(name: string): boolean {
    return this.entrypointNames.has(name);
  }

  /** The decision for `input`, within the budget. Never rejects: any failure is a deny (fail closed). */
  async evaluate(input: unknown, nowMs: number = Date.now()): Promise<Evaluation> {
    const started = process.hrtime.bigint();
    const outcome = await this.enqueue(this.entrypoint, input, nowMs);
    if (outcome.type === 'result') return readEvaluation(outcome.raw, this.bundle, this.entrypoint, this.budget);
    return {
      ...failClosed(outcome.code, outcome.message),
      revision: this.bundle.revision,
      bundle: this.bundle.name,
      result: undefined,
      evalNs: Number(process.hrtime.bigint() - started),
    };
  }

  /**
   * Another entrypoint of the same module (read-only views: workflow status, decision-log masks),
   * within the same budget. Never rejects.
   */
  async evaluateEntrypoint(name: string, input: unknown, nowMs = Date.now()): Promise<EntrypointResult> {
    const revision = this.bundle.revision;
    if (!this.hasEntrypoint(name)) return entrypointMissing(name, revision);
    const outcome = await this.enqueue(name, input, nowMs);
    if (outcome.type === 'result') return readEntrypoint(outcome.raw, name, revision, this.budget);
    return { ok: false, code: outcome.code, message: outcome.message, revision };
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Lets queued evaluations finish, then stops the worker (what a swapped-out policy does). */
  async retire(): Promise<void> {
    await this.idle();
    await this.close();
  }

  /** Stops the worker now; whatever is queued or running is denied. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stopped = this.stopped();
    this.inFlight?.settle(stopped);
    for (const job of this.queue.splice(0)) job.done(stopped);
    const live = this.live;
    this.live = null;
    if (live) await live.thread.terminate().catch(() => undefined);
  }

  // --- internals -------------------------------------------------------------------------------

  private enqueue(name: string, input: unknown, nowMs: number): Promise<Outcome> {
    return new Promise((done) => {
      if (this.closed) return done(this.stopped());
      // Serialized now, not when its turn comes: the policy sees the input as it was when asked.
      let text: string | null;
      try {
        text = inputJson(input);
      } catch (err) {
        const why = `the input document cannot be serialized as JSON: ${describeError(err)}`;
        return done(failed('policy_eval_error', why));
      }
      this.queue.push({ name, input: text, nowMs, done });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) {
        let outcome: Outcome;
        try {
          outcome = await this.run(job);
        } catch (err) {
          outcome = failed('policy_eval_error', `the policy worker could not be asked: ${describeError(err)}`);
        }
        job.done(outcome);
      }
    } finally {
      this.running = false;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async run(job: Job): Promise<Outcome> {
    const input = job.input;
    let live: Live;
    try {
      // A worker that stopped while this call waited for it is replaced, once.
      live = this.live ?? this.spawn();
      await live.ready;
      if (this.live !== live && !this.closed) {
        live = this.live ?? this.spawn();
        await live.ready;
      }
    } catch (err) {
      return failed('policy_eval_error', `the policy worker could not be started: ${describeError(err)}`);
    }
    if (this.closed) return this.stopped();
    if (this.live !== live) return failed('policy_eval_error', 'the policy worker stopped before it could be asked');
    return new Promise<Outcome>((resolve) => {
      const id = ++this.nextId;
      // The watchdog: past the budget the worker is terminated, which interrupts Wasm mid-loop.
      const timer = setTimeout(() => {
        this.inFlight = null;
        this.replace(live, `evaluating ${job.name} ran past ${this.budget.timeoutMs} ms`);
        resolve(failed('policy_timeout', timeoutMessage(job.name, this.budget)));
      }, this.budget.timeoutMs);
      this.inFlight = {
        id,
        name: job.name,
        live,
        settle: (outcome) => {
          clearTimeout(timer);
          this.inFlight = null;
          resolve(outcome);
        },
      };
      const request: WorkerRequest = { id, name: job.name, input, nowMs: job.nowMs };
      try {
        live.thread.postMessage(request);
      } catch (err) {
        const why = `the policy worker could not be asked: ${describeError(err)}`;
        this.inFlight.settle(failed('policy_eval_error', why));
      }
    });
  }

  private stopped(): Outcome {
    return failed('policy_eval_error', `the policy engine for revision ${this.bundle.revision} was stopped`);
  }

  private spawn(): Live {
    const loaded = deferred<void>();
    const ready = loaded.promise;
    ready.catch(() => undefined);
    const thread = new Worker(workerScript(), {
      workerData: this.init,
      // The worker's own JavaScript heap; the Wasm memory is capped apart, by the memory's maximum.
      resourceLimits: { maxOldGenerationSizeMb: this.budget.maxMemoryMb },
      execArgv: [],
      stdout: true,
      stderr: true,
    });
    const live: Live = { thread, ready, started: false };
    // stdout is the MCP protocol on stdio: anything the policy prints (opa_println) goes to stderr.
    thread.stdout.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    thread.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    const loadTimer = setTimeout(() => {
      const what = `bundle ${this.bundle.source} (revision ${this.bundle.revision})`;
      const message = `${what} did not load into a policy worker within ${LOAD_TIMEOUT_MS} ms`;
      loaded.reject(new PolicyError('policy_load_timeout', message));
      void thread.terminate().catch(() => undefined);
    }, LOAD_TIMEOUT_MS);
    loadTimer.unref();
    thread.on('message', (reply: WorkerReply) => {
      if (reply.type === 'ready') {
        clearTimeout(loadTimer);
        live.started = true;
        this.entrypointNames = new Set(reply.entrypoints);
        loaded.resolve();
      } else if (reply.type === 'load_failed') {
        clearTimeout(loadTimer);
        loaded.reject(new PolicyError(reply.code, reply.message));
        void thread.terminate().catch(() => undefined);
      } else if (this.inFlight?.live === live && this.inFlight.id === reply.id) {
        const inFlight = this.inFlight;
        // Wasm memory never shrinks: a worker that reached its cap is replaced by one that starts small.
        if (!reply.raw.ok && reply.raw.exhausted) {
          this.replace(live, `evaluating ${inFlight.name} reached ${this.budget.maxMemoryMb} MiB`);
        }
        inFlight.settle({ type: 'result', raw: reply.raw });
      }
    });
    thread.on('error', (err) => {
      live.error = err;
    });
    thread.on('exit', (code) => {
      clearTimeout(loadTimer);
      const why = live.error ? describeError(live.error) : `exit code ${code}`;
      const what = `bundle ${this.bundle.source}`;
      loaded.reject(new PolicyError('policy_worker_failed', `the policy worker stopped while loading ${what}: ${why}`));
      if (this.live === live) this.live = null;
      const inFlight = this.inFlight;
      if (inFlight?.live === live) {
        const oom = (live.error as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
        inFlight.settle(
          oom
            ? failed('policy_memory_exceeded', memoryMessage(inFlight.name, this.budget, 'the worker ran out of heap'))
            : failed('policy_eval_error', `the policy worker stopped during the evaluation: ${why}`),
        );
        this.restarted(`the worker stopped: ${why}`);
        // Only a worker that had loaded is replaced at once; one that cannot load is retried per call.
        if (live.started) this.respawn();
      }
    });
    // An idle worker never keeps the process alive; a pending evaluation's timer does.
    thread.unref();
    this.live = live;
    return live;
  }

  /** Terminates `live` (if it is still the current worker) and starts a fresh one from the same module. */
  private replace(live: Live, why: string): void {
    if (this.live !== live) return;
    this.live = null;
    void live.thread.terminate().catch(() => undefined);
    this.restarted(why);
    this.respawn();
  }

  /** Starts the next worker ahead of the next call; if that fails, the next call tries again. */
  private respawn(): void {
    if (this.closed || this.live) return;
    try {
      this.spawn();
    } catch {
      // reported by the next call, which spawns again
    }
  }

  private restarted(why: string): void {
    this.replaced++;
    this.onRestart?.(why);
  }
}

/**
 * The input document as JSON text. Serializing is what opa-wasm did in this thread anyway; the
 * worker encodes the text and its Wasm parses it. The decision log reuses the text (documentJson).
 */
function inputJson(input: unknown): string | null {
  // opa-wasm skips a falsy input altogether; do the same.
  if (!input) return null;
  return (typeof input === 'object' ? documentJson(input) : JSON.stringify(input)) ?? null;
}

/**
 * The worker's script: beside this module in the build. Running from src/ (vitest transpiles
 * TypeScript on the fly; a worker thread cannot), the build's copy, which the tests' global setup
 * keeps current.
 */
function workerScript(): URL {
  if (script) return script;
  const beside = new URL('./worker-main.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return (script = beside);
  const built = new URL('../../dist/policy/worker-main.js', import.meta.url);
  if (!existsSync(fileURLToPath(built))) {
    const fix = `Fix: run 'npm run build' in ${fileURLToPath(new URL('../..', import.meta.url))}.`;
    throw new PolicyError(
      'policy_worker_missing',
      `the policy worker script ${fileURLToPath(built)} is missing. ${fix}`,
    );
  }
  return (script = built);
}

let script: URL | null = null;
