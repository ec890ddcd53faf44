import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;

/**
 * End-to-end tests spawn the built CLI (`dist/cli/main.js`) as a real child process. `make test`
 * builds first; when vitest is run alone, rebuild if any source is newer than the build.
 */
export default function setup(): void {
  mkdirSync(join(ROOT, 'test/.tmp'), { recursive: true });
  const entry = join(ROOT, 'dist/cli/main.js');
  if (!existsSync(entry) || newestMtime(join(ROOT, 'src')) > statSync(entry).mtimeMs) {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  if (!process.env['WARDEN_OPA'] && existsSync(join(ROOT, '.tools/bin/opa')))
    process.env['WARDEN_OPA'] = join(ROOT, '.tools/bin/opa');
  // The pre-built shipped policy follows policy/, which can change without any source file changing.
  const script = join(ROOT, 'scripts/build-shipped-policy.mjs');
  execFileSync(process.execPath, [script], { cwd: ROOT, stdio: 'inherit', env: process.env });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(path) : st.mtimeMs);
  }
  return newest;
}
