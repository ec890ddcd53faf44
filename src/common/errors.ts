import type { WardenErrorCode } from './error-codes.js';

/**
 * Every failure Warden reports carries a stable snake_case `code` from the catalogue
 * ({@link WardenErrorCode}, docs/errors.md), a message that says what broke and how to fix it,
 * and the underlying `cause` when there is one.
 *
 * @example
 * ```ts
 * throw new ConfigError('config_invalid', 'mcpServers.crm.command: must be a string. Fix: ...');
 * ```
 */
export class WardenError extends Error {
  readonly code: WardenErrorCode;

  constructor(code: WardenErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Configuration could not be read, parsed or validated. */
export class ConfigError extends WardenError {}

/** Policy could not be built, loaded or evaluated. Every policy failure denies (fail closed). */
export class PolicyError extends WardenError {}

/** A downstream MCP server could not be started, reached or called. */
export class DownstreamError extends WardenError {}

/** The audit trail or decision log could not record an event. */
export class AuditError extends WardenError {}

/** A report over the audit trail (compliance, session report) was asked for something it cannot answer. */
export class ReportError extends WardenError {}

/** A required external tool (such as `opa`) is missing or failed. */
export class ToolchainError extends WardenError {}

/** Text of any thrown value, including the bare strings and `{message}` objects opa-wasm throws. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'message' in err && typeof (err as { message: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}
