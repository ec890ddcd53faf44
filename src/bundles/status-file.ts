import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describeError } from '../common/index.js';
import type { ControlRequest, PolicyStatusPort } from '../policy/index.js';

/** File names of the status document and the control request, side by side in the data directory. */
export const POLICY_STATUS_FILE = 'policy-status.json';
export const POLICY_CONTROL_FILE = 'policy-control.json';

/**
 * The runtime's status port on files: writes the status to `file` (write then rename, so a reader
 * never sees half a document), and polls `policy-control.json` beside it every `pollMs`. A request
 * written before `followControl` was called is not passed on.
 */
export function statusFilePort(
  file: string,
  options: { pollMs?: number; onWarning?: (message: string) => void } = {},
): PolicyStatusPort {
  const control = join(dirname(file), POLICY_CONTROL_FILE);
  return {
    write: (status) => {
      try {
        mkdirSync(dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, JSON.stringify(status, null, 2) + '\n');
        renameSync(tmp, file);
      } catch (err) {
        options.onWarning?.(`cannot write ${file}: ${describeError(err)}`);
      }
    },
    followControl: (onRequest) => {
      let seen = fileMtime(control);
      const timer = setInterval(() => {
        const mtime = fileMtime(control);
        if (mtime === 0 || mtime === seen) return;
        seen = mtime;
        let request: ControlRequest;
        try {
          request = JSON.parse(readFileSync(control, 'utf8')) as ControlRequest;
        } catch {
          seen = 0; // half-written: look again next tick
          return;
        }
        onRequest(request);
      }, options.pollMs ?? 500);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}

function fileMtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
