import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { PolicyError, describeError } from '../common/index.js';
import { createHostBuiltins, HOST_BUILTINS, SDK_BUILTINS, type BuiltinContext } from './builtins.js';
import { readDecision, type Decision } from './decision.js';

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
  | 'policy_bad_decision';

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
  | { readonly ok: false; readonly code: 'policy_missing' | 'policy_entrypoint_missing' | 'policy_eval_error' | 'policy_undefined'; readonly message: string; readonly revision: string };

/**
 * One loaded bundle, ready to answer. Evaluation is synchronous and not re-entrant per instance,
 * which JavaScript's single thread guarantees.
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
    private readonly policy: LoadedPolicy,
    private readonly ctx: BuiltinContext,
  ) {}

  /** Instantiates the Wasm module, checks the entrypoint and every builtin it needs, and loads its data. */
  static async load(bundle: CompiledBundle, entrypoint: string): Promise<PolicyEngine> {
    const ctx: BuiltinContext = { nowMs: Date.now(), uuids: new Map() };
    let policy: LoadedPolicy;
    try {
      policy = await loadPolicy(bundle.wasm, undefined, createHostBuiltins(ctx));
    } catch (err) {
      throw new PolicyError('policy_wasm_invalid', `bundle ${bundle.source} (revision ${bundle.revision}): the Wasm module cannot be loaded: ${describeError(err)}. Fix: rebuild it with 'warden policy build'.`, { cause: err });
    }
    const entrypoints = Object.keys((policy.entrypoints ?? {}) as Record<string, number>);
    if (!entrypoints.includes(entrypoint)) {
      throw new PolicyError(
        'policy_entrypoint_missing',
        `bundle ${bundle.source} has no entrypoint ${entrypoint} (it has: ${entrypoints.join(', ') || 'none'}). ` +
          `Fix: define data.${entrypoint.replace(/\//g, '.')} in your Rego and build with -e ${entrypoint}, or set policy.entrypoint.`,
      );
    }
    const missing = requiredBuiltins(policy).filter((name) => !SDK_BUILTINS.has(name) && !HOST_BUILTINS.has(name));
    if (missing.length > 0) {
      throw new PolicyError(
        'policy_builtin_missing',
        `bundle ${bundle.source} (revision ${bundle.revision}) calls builtin(s) that OPA's Wasm target leaves to the host and Warden does not supply: ${missing.join(', ')}. ` +
          'Fix: rewrite the rule without them (see docs/policies.md, "Builtins"), or ask for them to be added to Warden.',
      );
    }
    try {
      policy.setData((bundle.data ?? {}) as object);
    } catch (err) {
      throw new PolicyError('policy_data_invalid', `bundle ${bundle.source}: its data cannot be loaded into the Wasm module: ${describeError(err)}`, { cause: err });
    }
    return new PolicyEngine(bundle, entrypoint, policy, ctx);
  }

  /** Never throws: every failure is a deny that names what broke (fail closed). */
  evaluate(input: unknown, nowMs: number = Date.now()): Evaluation {
    this.ctx.nowMs = nowMs;
    this.ctx.uuids.clear();
    const started = process.hrtime.bigint();
    let resultSet: unknown;
    try {
      resultSet = this.policy.evaluate(input, this.entrypoint);
    } catch (err) {
      return this.failure('policy_eval_error', `policy evaluation failed: ${describeError(err)}`, undefined, started);
    }
    const results = Array.isArray(resultSet) ? (resultSet as { result?: unknown }[]) : [];
    if (results.length === 0 || results[0]?.result === undefined) {
      return this.failure('policy_undefined', `the policy's ${this.entrypoint} is undefined for this input; it must always produce a decision (add a default)`, undefined, started);
    }
    if (results.length > 1) {
      return this.failure('policy_conflict', `the policy's ${this.entrypoint} produced ${results.length} results; it must produce exactly one`, results, started);
    }
    const result = results[0]!.result;
    const read = readDecision(result);
    if (!read.ok) return this.failure('policy_bad_decision', `the policy's ${this.entrypoint}: ${read.problem}`, result, started);
    return { decision: read.decision, revision: this.bundle.revision, bundle: this.bundle.name, result, evalNs: elapsed(started) };
  }

  /** Whether the compiled module has `name` (e.g. `mcp/workflow/status`) as an entrypoint. */
  hasEntrypoint(name: string): boolean {
    return Object.hasOwn((this.policy.entrypoints ?? {}) as Record<string, number>, name);
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
    const started = process.hrtime.bigint();
    if (!this.hasEntrypoint(name)) {
      return { ok: false, code: 'policy_entrypoint_missing', message: `the active policy (revision ${this.bundle.revision}) has no entrypoint ${name}`, revision: this.bundle.revision };
    }
    this.ctx.nowMs = nowMs;
    this.ctx.uuids.clear();
    let resultSet: unknown;
    try {
      resultSet = this.policy.evaluate(input, name);
    } catch (err) {
      return { ok: false, code: 'policy_eval_error', message: `evaluating ${name} failed: ${describeError(err)}`, revision: this.bundle.revision };
    }
    const results = Array.isArray(resultSet) ? (resultSet as { result?: unknown }[]) : [];
    if (results.length !== 1 || results[0]?.result === undefined) {
      return { ok: false, code: 'policy_undefined', message: `the policy's ${name} is undefined for this input`, revision: this.bundle.revision };
    }
    return { ok: true, result: results[0].result, revision: this.bundle.revision, evalNs: elapsed(started) };
  }

  private failure(code: PolicyFailureCode, message: string, result: unknown, started: bigint): Evaluation {
    return { ...failClosed(code, message), revision: this.bundle.revision, bundle: this.bundle.name, result, evalNs: elapsed(started) };
  }
}

/** The deny decision that stands in for any policy failure. */
export function failClosed(code: PolicyFailureCode, message: string): { decision: Decision; error: { code: PolicyFailureCode; message: string } } {
  return {
    decision: { allow: false, reasons: [{ rule: `warden.${code}`, message: `Warden denied the call because its policy failed (fail closed): ${message}` }], monitored: [], obligations: {} },
    error: { code, message },
  };
}

function elapsed(started: bigint): number {
  return Number(process.hrtime.bigint() - started);
}

/** Names of the builtins the module imports through `opa_builtinN`, read from its `builtins()` export. */
function requiredBuiltins(policy: LoadedPolicy): string[] {
  const exports = (policy.wasmInstance as unknown as { exports: Record<string, unknown> }).exports;
  const builtins = exports['builtins'] as (() => number) | undefined;
  const dump = exports['opa_json_dump'] as ((addr: number) => number) | undefined;
  if (!builtins || !dump) return [];
  const addr = dump(builtins());
  const bytes = new Uint8Array((policy.mem as unknown as { buffer: ArrayBuffer }).buffer);
  let end = addr;
  while (bytes[end] !== 0) end++;
  return Object.keys(JSON.parse(Buffer.from(bytes.subarray(addr, end)).toString('utf8')) as Record<string, number>);
}
