// Call recorder shared by the example servers and the test fixtures.
//
// Tests need proof that a call the proxy blocked never reached the downstream server, and that an
// allowed one arrived with the arguments the client sent. Each server therefore appends one JSON line
// per call its handler actually runs to the file named by WARDEN_EXAMPLE_LOG:
//
//   {"server":"crm","tool":"create_account","arguments":{"customer_id":"c-1"},"at":"2025-01-01T00:00:00.000Z"}
//
// The write is synchronous on purpose: a test may read the file the moment the response arrives, and
// `crash` in the fault fixture calls process.exit right after recording, which would drop a pending
// async write. Several servers may share one file: each line is a single write() on an O_APPEND
// descriptor, which local filesystems do not interleave.
//
// Lines written for something other than an execution carry an `event` field (the fault fixture
// writes `"event":"cancelled"` when a sleep is aborted); a plain execution has no `event`.

import { appendFileSync } from 'node:fs';

/** Env var naming the JSON-lines file; unset means "do not record". */
export const LOG_ENV = 'WARDEN_EXAMPLE_LOG';

/**
 * Append one record for `tool` on `server`.
 * @param {string} server server name as announced in initialize (e.g. "crm")
 * @param {string} tool tool name
 * @param {Record<string, unknown> | undefined} args arguments the handler received
 * @param {Record<string, unknown>} [extra] optional fields merged into the line (e.g. `{event: 'cancelled'}`)
 */
export function recordCall(server, tool, args, extra = {}) {
  const file = process.env[LOG_ENV];
  if (!file) return;
  const line = { server, tool, arguments: args ?? {}, ...extra, at: new Date().toISOString() };
  appendFileSync(file, JSON.stringify(line) + '\n');
}

/**
 * Wrap an McpServer tool callback so that every execution is recorded before the handler runs.
 * McpServer only calls the callback after input validation passed, so a call rejected by the zod
 * schema is not recorded (it never executed). Arguments are recorded as the handler sees them:
 * zod objects strip keys the schema does not declare.
 * @template A
 * @param {string} server
 * @param {string} tool
 * @param {(args: A, extra: unknown) => unknown} handler
 * @returns {(args: A, extra: unknown) => unknown}
 */
export function recorded(server, tool, handler) {
  return (args, extra) => {
    recordCall(server, tool, args);
    return handler(args, extra);
  };
}
