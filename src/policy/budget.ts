/**
 * What one policy evaluation may spend (`policy.evaluation` in the config). Warden runs the Wasm
 * policy in a worker thread behind a watchdog ({@link WorkerEngine}): an evaluation that runs
 * past `timeoutMs` is stopped and denied, and so is one that needs more than `maxMemoryMb`.
 */
export interface EvaluationBudget {
  /** Wall-clock time one evaluation may take, from handing it to the worker to its answer. */
  readonly timeoutMs: number;
  /** Cap, in MiB, on the policy's Wasm memory and, separately, on the worker's JavaScript heap. */
  readonly maxMemoryMb: number;
}

/** The defaults of `policy.evaluation` (schema/warden.schema.json says the same). */
export const DEFAULT_EVALUATION_BUDGET: EvaluationBudget = Object.freeze({ timeoutMs: 1000, maxMemoryMb: 256 });

/** What a deny for an exceeded time budget says: which entrypoint, the budget, and the key to change. */
export function timeoutMessage(entrypoint: string, budget: EvaluationBudget): string {
  return (
    `evaluating ${entrypoint} did not finish within ${budget.timeoutMs} ms (policy.evaluation.timeoutMs), ` +
    'so Warden stopped it and started the policy afresh. Fix: make the rule cheaper for this input ' +
    '(docs/policies.md, "Evaluation budget"), or raise policy.evaluation.timeoutMs.'
  );
}

/** What a deny for an exceeded memory budget says. */
export function memoryMessage(entrypoint: string, budget: EvaluationBudget, detail: string): string {
  return (
    `evaluating ${entrypoint} needed more than ${budget.maxMemoryMb} MiB (policy.evaluation.maxMemoryMb; ${detail}). ` +
    'Fix: make the rule build smaller values for this input (docs/policies.md, "Evaluation budget"), ' +
    'or raise policy.evaluation.maxMemoryMb.'
  );
}

/**
 * Whether opa-wasm failed because the Wasm memory could not grow past its maximum: OPA's own
 * allocator aborts with `opa_malloc: failed`, and opa-wasm's input copy grows the memory itself.
 */
export function isWasmMemoryExhausted(err: unknown): boolean {
  const text = typeof err === 'string' ? err : err instanceof Error ? err.message : '';
  return /opa_malloc: failed|Maximum memory size exceeded|WebAssembly\.Memory\.grow\(\)/.test(text);
}

/** Wasm pages (64 KiB each) in `mb` MiB. */
export function wasmPages(mb: number): number {
  return Math.floor((mb * 1024 * 1024) / 65_536);
}
