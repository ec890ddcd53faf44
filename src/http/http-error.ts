import { WardenError, type WardenErrorCode } from '../common/index.js';

/**
 * A failure the admin API answers with its HTTP `status` and the body
 * `{"error": code, "error_description": message}` (docs/admin-api.md, docs/errors.md).
 *
 * @example
 * ```ts
 * throw new HttpError(404, 'session_not_found', `no session ${id} in the audit trail`);
 * ```
 */
export class HttpError extends WardenError {
  constructor(
    readonly status: number,
    code: WardenErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }

  /** The JSON body: `error` first, as the admin API has always written it. */
  body(): { error: WardenErrorCode; error_description: string } {
    return { error: this.code, error_description: this.message };
  }
}
