import { createHash } from 'node:crypto';
import { canonicalJson, measureJson } from '../common/index.js';
import type { Reason } from '../policy/index.js';

/** How deep and how large a call's arguments may be (`limits.argumentsMaxDepth`, `limits.argumentsMaxBytes`). */
export interface ArgumentLimits {
  maxDepth: number;
  maxBytes: number;
}

/** The defaults of `limits` in the config; also what a pipeline built without limits applies. */
export const DEFAULT_ARGUMENT_LIMITS: Readonly<ArgumentLimits> = Object.freeze({ maxDepth: 64, maxBytes: 1024 * 1024 });

/** What the audit trail keeps of arguments Warden refused, in their place. */
export interface ArgumentsSummary {
  /** Nesting depth: 1 for `{}`, 2 for `{"a":{}}`, … */
  depth: number;
  /** UTF-8 bytes of the arguments as compact JSON. */
  bytes: number;
  /** `sha256:<hex>` of the RFC 8785 JSON of the arguments, after redaction (`audit.redact`). */
  digest: string;
  max_depth: number;
  max_bytes: number;
}

export interface ArgumentsRefusal {
  reason: Reason;
  summary: ArgumentsSummary;
}

/**
 * Null when `args` are within `limits`, else the denial and what to record instead of them.
 * Pure and iterative: arguments nested 100,000 deep are measured, not walked recursively. The
 * digest is taken after `redact`, so it cannot be used to check a guess at a redacted secret.
 *
 * @example
 * ```ts
 * const refusal = checkArguments({ a: { b: {} } }, { maxDepth: 2, maxBytes: 1024 }, (a) => a);
 * refusal?.reason.rule; // 'warden.arguments_too_deep'
 * ```
 */
export function checkArguments(
  args: Record<string, unknown>,
  limits: ArgumentLimits,
  redact: (args: Record<string, unknown>) => Record<string, unknown>,
): ArgumentsRefusal | null {
  const { depth, bytes } = measureJson(args);
  if (depth <= limits.maxDepth && bytes <= limits.maxBytes) return null;
  const tooDeep = depth > limits.maxDepth;
  const reason: Reason = tooDeep
    ? {
        rule: 'warden.arguments_too_deep',
        message:
          `the arguments are nested ${depth} levels deep; Warden accepts at most ${limits.maxDepth} ` +
          '(limits.argumentsMaxDepth). Send flatter arguments, or ask the operator to raise limits.argumentsMaxDepth ' +
          'in the Warden config.',
      }
    : {
        rule: 'warden.arguments_too_large',
        message:
          `the arguments take ${bytes} bytes as JSON; Warden accepts at most ${limits.maxBytes} ` +
          '(limits.argumentsMaxBytes). Send smaller arguments (pass large content by reference, such as a resource ' +
          'URI), or ask the operator to raise limits.argumentsMaxBytes in the Warden config.',
      };
  const text = canonicalJson(redact(args), { wellFormed: true, lenient: true }) ?? '';
  return {
    reason,
    summary: {
      depth,
      bytes,
      digest: `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`,
      max_depth: limits.maxDepth,
      max_bytes: limits.maxBytes,
    },
  };
}
