import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolchainError } from '../common/index.js';

/** The package root (…/mcp-warden), from src/policy or dist/policy alike. */
export const PACKAGE_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/**
 * Finds the `opa` CLI: `$WARDEN_OPA`, then the checkout's `.tools/bin/opa` (installed by `make tools`),
 * then `opa` on PATH.
 * @throws ToolchainError saying exactly how to get one.
 */
export function findOpa(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['WARDEN_OPA'];
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new ToolchainError(
      'opa_not_found',
      `WARDEN_OPA=${explicit} is not an executable file. Fix: point WARDEN_OPA at an opa v1.x binary, or unset it.`,
    );
  }
  const local = join(PACKAGE_ROOT, '.tools', 'bin', 'opa');
  if (isExecutable(local)) return local;
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, 'opa'))) return join(dir, 'opa');
  }
  // A checkout can build the pinned opa itself; an npm install has to be told where to get one.
  const checkout = existsSync(join(PACKAGE_ROOT, 'Makefile'));
  throw new ToolchainError(
    'opa_not_found',
    'the opa CLI is needed to compile Rego to Wasm (warden policy build|test|fmt|lint, and serving a policy ' +
      'directory other than the unchanged shipped one) and was not found. Fix: ' +
      (checkout ? 'run `make tools` in the mcp-warden checkout (builds the pinned opa into .tools/bin), or ' : '') +
      'install opa v1.x (a release binary from https://github.com/open-policy-agent/opa/releases, or ' +
      '`go install github.com/open-policy-agent/opa@v1.22.3`) and put it on PATH, or set WARDEN_OPA=/path/to/opa. ' +
      'No opa is needed to serve the shipped policy (policy.bundle: builtin:shipped) or a bundle .tar.gz built ' +
      'elsewhere with `warden policy build`.',
  );
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return existsSync(path);
  } catch {
    return false;
  }
}

/** Runs opa with arguments; resolves with stdout/stderr and the exit code (never rejects on a non-zero exit). */
export function runOpa(
  args: string[],
  options: { cwd?: string; opa?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const opa = options.opa ?? findOpa();
  return new Promise((resolvePromise, reject) => {
    execFile(opa, args, { cwd: options.cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
        reject(new ToolchainError('opa_failed_to_start', `cannot run ${opa}: ${err.message}`, { cause: err }));
        return;
      }
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
