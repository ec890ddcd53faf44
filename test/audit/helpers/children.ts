import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

const ROOT = new URL('../../../', import.meta.url).pathname;
export const CHILD_SCRIPT = new URL('./append-child.mjs', import.meta.url).pathname;

/**
 * Node 20 cannot run TypeScript, and the child processes must use the very code under test, not a
 * possibly stale dist/. So transpile src/audit and src/common (no type check: tsc does that) into a
 * private folder under test/.tmp, where Node still finds node_modules by walking up.
 */
export function transpileAudit(): { module: string; cleanup: () => void } {
  const out = join(ROOT, 'test/.tmp', `audit-src-${process.pid}-${Date.now()}`);
  for (const part of ['src/audit', 'src/common']) {
    for (const name of readdirSync(join(ROOT, part))) {
      if (!name.endsWith('.ts')) continue;
      const source = readFileSync(join(ROOT, part, name), 'utf8');
      const { outputText } = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        fileName: name,
      });
      const target = join(out, relative(ROOT, join(ROOT, part, name.replace(/\.ts$/, '.js'))));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, outputText);
    }
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  return { module: join(out, 'src/audit/index.js'), cleanup: () => rmSync(out, { recursive: true, force: true }) };
}

/** Forks append-child.mjs; it prints `ack <seq>` after each durable append, then `done`. */
export function forkAppender(
  module: string,
  args: { url: string; count: number; session: string; secretArg?: string; checkpointEvery?: number },
): ChildProcess {
  return fork(CHILD_SCRIPT, [], {
    env: {
      ...process.env,
      WARDEN_AUDIT_MODULE: module,
      APPEND_URL: args.url,
      APPEND_COUNT: String(args.count),
      APPEND_SESSION: args.session,
      APPEND_CHECKPOINT_EVERY: String(args.checkpointEvery ?? 1000),
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
}

/** Resolves with the child's exit code, collecting `ack` lines as they come. */
export function collect(
  child: ChildProcess,
  onAck?: (seq: number, acks: number[]) => void,
): { acks: number[]; stderr: () => string; exited: Promise<number | null> } {
  const acks: number[] = [];
  let err = '';
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = /^ack (\d+)$/.exec(line);
      if (m) {
        acks.push(Number(m[1]));
        onAck?.(Number(m[1]), acks);
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { acks, stderr: () => err, exited };
}
