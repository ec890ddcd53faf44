import { PolicyError } from '../common/index.js';
import { memoryMessage, type EvaluationBudget } from './budget.js';
import { readDecision, type Decision } from './decision.js';
import { WasmLoadError, WasmPolicy, type RawOutcome } from './wasm-policy.js';

/** A compiled bundle in memory: what `opa build -t wasm` produced, whatever its source. */
export interface CompiledBundle {
  /** Bundle name used in decision logs' `bundles` map. */
  readonly name: string;
  /** Where it came from: a directory, a file, a URL. */
  readonly source: string;
  readonly revision: string;
  readonly wasm: Uint8Array;
  readonly data: unknown;
  readonly manifest: Record<string, unknown>;
}

export type PolicyFailureCode =
  | 'policy_missing'
  | 'policy_eval_error'
  | 'policy_undefined'
  | 'policy_conflict'
  | 'policy_bad_decision'
  /** The evaluation ran past `policy.evaluation.timeoutMs` and was stopped. */
  | 'policy_timeout'
  /** The evaluation needed more memory than `policy.evaluation.maxMemoryMb`. */
  | 'policy_memory_exceeded'
  /** The history the policy declares it reads could not be read from the audit trail. */
  | 'policy_history_unavailable';

/** The outcome of one evaluation. A failure always carries a deny decision that says what broke. */
export interface Evaluation {
  readonly decision: Decision;
  readonly revision: string;
  readonly bundle: string;
  /** The raw result the policy produced (undefined when it produced none). */
  readonly result: unknown;
  readonly error?: { code: PolicyFailureCode; message: string };
  readonly evalNs: number;
}

/** The outcome of evaluating an entrypoint other than the decision ({@link PolicyEngine.evaluateEntrypoint}). */
export type EntrypointResult =
  | { readonly ok: true; readonly result: unknown; readonly revision: string; readonly evalNs: number }
  | { readonly ok: false; readonly code: EntrypointFailureCode; readonly message: string; readonly revision: string };

export type EntrypointFailureCode =
  | 'policy_missing'
  | 'policy_entrypoint_missing'
  | 'policy_eval_error'
  | 'policy_undefined'
  | 'policy_timeout'
  | 'policy_memory_exceeded';

export interface EngineOptions {
  /** Caps the Wasm memory at `maxMemoryMb` (needing more is `policy_memory_exceeded`). Unset: no cap. */
  readonly budget?: EvaluationBudget;
}

/**
 * One loaded bundle, ready to answer, in this thread. Evaluation is synchronous and not re-entrant
 * per instance, which JavaScript's single thread guarantees; nothing can stop it once it runs.
 * Warden runs its policy in a {@link WorkerEngine} instead, which can; this one serves tests and
 * the bench's in-thread baseline.
 *
 * @example
 * ```ts
 * const engine = await PolicyEngine.load(bundle, 'mcp/decision');
 * const { decision } = engine.evaluate(inputDocument);
 * ```
 */
export class PolicyEngine {
  private constructor(
    readonly bundle: CompiledBundle,
    readonly entrypoint: string,
    private readonly policy: WasmPolicy,
    private readonly budget: EvaluationBudget | undefined,
  ) {}

  /** Instantiates the Wasm module, checks the entrypoint and every builtin it needs, and loads its data. */
  static async load(bundle: CompiledBundle, entrypoint: string, options: EngineOptions = {}): Promise<PolicyEngine> {
    try {
      const policy = await WasmPolicy.load(bundle, bundle.wasm, entrypoint, {
        data: { value: bundle.data },
        ...(options.budget ? { maxMemoryMb: options.budget.maxMemoryMb } : {}),
      });
      return new PolicyEngine(bundle, entrypoint, policy, options.budget);
    } catch (err) {
      if (err instanceof WasmLoadError) throw new PolicyError(err.code, err.message, { cause: err.cause });
      throw err;
    }
  }

  /** Never throws: every failure is a deny that names what broke (fail closed). */
  evaluate(input: unknown, nowMs: number = Date.now()): Evaluation {
    const raw = this.policy.evaluate(this.entrypoint, input, nowMs);
    return readEvaluation(raw, this.bundle, this.entrypoint, this.budget);
  }

  /** Whether the compiled module has `name` (e.g. `mcp/workflow/status`) as an entrypoint. */
  hasEntrypoint(name: string): boolean {
    return this.policy.hasEntrypoint(name);
  }

  /**
   * Evaluates another entrypoint of the same module (one the bundle was compiled with besides the
   * decision), for read-only views such as the dashboard's workflow status. Never throws; the
   * result is not checked against the decision's shape.
   *
   * @example
   * ```ts
   * const r = engine.evaluateEntrypoint('mcp/workflow/status', inputDocument);
   * if (r.ok) render(r.result);
   * ```
   */
  evaluateEntrypoint(name: string, input: unknown, nowMs: number = Date.now()): EntrypointResult {
    if (!this.hasEntrypoint(name)) return entrypointMissing(name, this.bundle.revision);
    return readEntrypoint(this.policy.evaluate(name, input, nowMs), name, this.bundle.revision, this.budget);
  }
}

/**
 * Pure: the {@link Evaluation} of a decision's raw outcome (in this thread or a worker's): exactly
 * one result, of the decision's shape, or a deny that names what broke.
 */
export function readEvaluation(
  raw: RawOutcome,
  bundle: Pick<CompiledBundle, 'name' | 'revision'>,
  entrypoint: string,
  budget: EvaluationBudget | undefined,
): Evaluation {
  const failure = (code: PolicyFailureCode, message: string, result?: unknown): Evaluation => ({
    ...failClosed(code, message),
    revision: bundle.revision,
    bundle: bundle.name,
    result,
    evalNs: raw.evalNs,
  });
  if (!raw.ok) {
    if (budget && raw.exhausted) return failure('policy_memory_exceeded', memoryMessage(entrypoint, budget, raw.error));
    return failure('policy_eval_error', `policy evaluation failed: ${raw.error}`);
  }
  const results = Array.isArray(raw.resultSet) ? (raw.resultSet as { result?: unknown }[]) : [];
  if (results.length === 0 || results[0]?.result === undefined) {
    const fix = 'it must always produce a decision (add a default)';
    return failure('policy_undefined', `the policy's ${entrypoint} is undefined for this input; ${fix}`);
  }
  if (results.length > 1) {
    const problem = `the policy's ${entrypoint} produced ${results.length} results; it must produce exactly one`;
    return failure('policy_conflict', problem, results);
  }
  const result = results[0]!.result;
  const read = readDecision(result);
  if (!read.ok) return failure('policy_bad_decision', `the policy's ${entrypoint}: ${read.problem}`, result);
  return { decision: read.decision, revision: bundle.revision, bundle: bundle.name, result, evalNs: raw.evalNs };
}

/** Pure: the {@link EntrypointResult} of another entrypoint's raw outcome. */
export function readEntrypoint(
  raw: RawOutcome,
  name: string,
  revision: string,
  budget: EvaluationBudget | undefined,
): EntrypointResult {
  const failure = (code: EntrypointFailureCode, message: string): EntrypointResult => ({
    ok: false,
    code,
    message,
    revision,
  });
  if (!raw.ok) {
    if (budget && raw.exhausted) return failure('policy_memory_exceeded', memoryMessage(name, budget, raw.error));
    return failure('policy_eval_error', `evaluating ${name} failed: ${raw.error}`);
  }
  const results = Array.isArray(raw.resultSet) ? (raw.resultSet as { result?: unknown }[]) : [];
  if (results.length !== 1 || results[0]?.result === undefined) {
    return failure('policy_undefined', `the policy's ${name} is undefined for this input`);
  }
  return { ok: true, result: results[0].result, revision, evalNs: raw.evalNs };
}

/** The answer for an entrypoint the module was not compiled with. */
export function entrypointMissing(name: string, revision: string): EntrypointResult {
  const message = `the active policy (revision ${revision}) has no entrypoint ${name}`;
  return { ok: false, code: 'policy_entrypoint_missing', message, revision };
}

/** The deny decision that stands in for any policy failure. */
export function failClosed(
  code: PolicyFailureCode,
  message: string,
): { decision: Decision; error: { code: PolicyFailureCode; message: string } } {
  return {
    decision: {
      allow: false,
      reasons: [
        {
          rule: `warden.${code}`,
          message: `Warden denied the call because its policy failed (fail closed): ${message}`,
        },
      ],
      monitored: [],
      obligations: {},
    },
    error: { code, message },
  };
}
