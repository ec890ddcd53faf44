import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { isWasmMemoryExhausted, wasmPages } from './budget.js';
import { createHostBuiltins, HOST_BUILTINS, SDK_BUILTINS, type BuiltinContext } from './builtins.js';

// This module is what the policy worker thread loads, so it stays light: opa-wasm and the host
// builtins, nothing else. common/index.js would bring winston and the decision's check ajv, which
// cost a fresh worker hundreds of milliseconds each time it is started; both stay in the caller.

export type WasmLoadCode =
  'policy_wasm_invalid' | 'policy_entrypoint_missing' | 'policy_builtin_missing' | 'policy_data_invalid';

/** A failure to load a bundle, with the stable code the caller turns into a `PolicyError`. */
export class WasmLoadError extends Error {
  constructor(
    readonly code: WasmLoadCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WasmLoadError';
  }
}

/** The raw answer of one evaluation: opa-wasm's result set, or what it threw, as text. */
export type RawOutcome =
  | { readonly ok: true; readonly resultSet: unknown; readonly evalNs: number }
  /** `exhausted`: the Wasm memory could not grow past its cap (`policy.evaluation.maxMemoryMb`). */
  | { readonly ok: false; readonly error: string; readonly exhausted: boolean; readonly evalNs: number };

export interface WasmPolicyOptions {
  /** The data document as JSON text (what a worker is given) or as a value. */
  readonly data: { readonly json: string } | { readonly value: unknown };
  /** Cap on the Wasm memory, MiB. Unset: none. */
  readonly maxMemoryMb?: number;
}

/**
 * One instantiated policy module with its data: evaluates entrypoints synchronously, in the
 * thread that loaded it. {@link PolicyEngine} (this thread) and the policy worker both use it.
 */
export class WasmPolicy {
  private constructor(
    private readonly policy: LoadedPolicy,
    private readonly ctx: BuiltinContext,
    readonly entrypoints: readonly string[],
  ) {}

  /**
   * Instantiates `wasm`, checks that it has `entrypoint` and that Warden supplies every builtin it
   * imports, and loads the data. `what` names the bundle in messages.
   *
   * @throws WasmLoadError saying what is wrong and how to fix it.
   */
  static async load(
    what: { readonly source: string; readonly revision: string },
    wasm: Uint8Array | WebAssembly.Module,
    entrypoint: string,
    options: WasmPolicyOptions,
  ): Promise<WasmPolicy> {
    const ctx: BuiltinContext = { nowMs: Date.now(), uuids: new Map() };
    const max = options.maxMemoryMb;
    const memory = max ? { initial: 5, maximum: Math.max(5, wasmPages(max)) } : undefined;
    let policy: LoadedPolicy;
    try {
      policy = await loadPolicy(wasm, memory, createHostBuiltins(ctx));
    } catch (err) {
      throw new WasmLoadError(
        'policy_wasm_invalid',
        `bundle ${what.source} (revision ${what.revision}): the Wasm module cannot be loaded: ${errorText(err)}. ` +
          "Fix: rebuild it with 'warden policy build'.",
        { cause: err },
      );
    }
    const entrypoints = Object.keys((policy.entrypoints ?? {}) as Record<string, number>);
    if (!entrypoints.includes(entrypoint)) {
      throw new WasmLoadError(
        'policy_entrypoint_missing',
        `bundle ${what.source} has no entrypoint ${entrypoint} (it has: ${entrypoints.join(', ') || 'none'}). ` +
          `Fix: define data.${entrypoint.replace(/\//g, '.')} in your Rego and build with -e ${entrypoint}, ` +
          'or set policy.entrypoint.',
      );
    }
    const missing = requiredBuiltins(policy).filter((name) => !SDK_BUILTINS.has(name) && !HOST_BUILTINS.has(name));
    if (missing.length > 0) {
      throw new WasmLoadError(
        'policy_builtin_missing',
        `bundle ${what.source} (revision ${what.revision}) calls builtin(s) that OPA's Wasm target leaves ` +
          `to the host and Warden does not supply: ${missing.join(', ')}. ` +
          'Fix: rewrite the rule without them (see docs/policies.md, "Builtins"), ' +
          'or ask for them to be added to Warden.',
      );
    }
    try {
      policy.setData('json' in options.data ? jsonBuffer(options.data.json) : ((options.data.value ?? {}) as object));
    } catch (err) {
      if (max && isWasmMemoryExhausted(err)) {
        throw new WasmLoadError(
          'policy_data_invalid',
          `bundle ${what.source}: its data does not fit in policy.evaluation.maxMemoryMb (${max} MiB). ` +
            'Fix: raise policy.evaluation.maxMemoryMb, or ship less data.',
          { cause: err },
        );
      }
      throw new WasmLoadError(
        'policy_data_invalid',
        `bundle ${what.source}: its data cannot be loaded into the Wasm module: ${errorText(err)}`,
        { cause: err },
      );
    }
    return new WasmPolicy(policy, ctx, entrypoints);
  }

  hasEntrypoint(name: string): boolean {
    return this.entrypoints.includes(name);
  }

  /**
   * Evaluates `entrypoint` with `input` (a value, or an ArrayBuffer of JSON text, which opa-wasm
   * copies in as it is); `nowMs` is the query's `time.now_ns()`. Never throws.
   */
  evaluate(entrypoint: string, input: unknown, nowMs: number): RawOutcome {
    this.ctx.nowMs = nowMs;
    this.ctx.uuids.clear();
    const started = process.hrtime.bigint();
    const evalNs = (): number => Number(process.hrtime.bigint() - started);
    try {
      const resultSet: unknown = this.policy.evaluate(input, entrypoint);
      return { ok: true, resultSet, evalNs: evalNs() };
    } catch (err) {
      return { ok: false, error: errorText(err), exhausted: isWasmMemoryExhausted(err), evalNs: evalNs() };
    }
  }
}

/** JSON text in a fresh ArrayBuffer of its own (opa-wasm takes an ArrayBuffer as JSON text). */
export function jsonBuffer(text: string): ArrayBuffer {
  const bytes = new TextEncoder().encode(text);
  return bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
}

/** Text of anything opa-wasm throws (bare strings, `{message}` objects); `describeError` without its import. */
function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  const message = (err as { message?: unknown } | null)?.message;
  if (typeof message === 'string') return message;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
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
