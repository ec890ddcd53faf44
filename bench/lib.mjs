// Helpers shared by the benchmarks (never by the tests: timings are measured, not asserted).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The p-th percentile of an ascending array (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Resident set size of a process in MB (Linux /proc), NaN where it cannot be read. */
export function rssMb(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return line ? Math.round(Number(line.split(/\s+/)[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The live processes under `pid` (children, their children, ...), from Linux /proc. */
function descendants(pid) {
  let children = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
  return children.flatMap((c) => [Number(c), ...descendants(Number(c))]);
}

/**
 * utime + stime of one process and cutime + cstime of its children that exited and were reaped
 * (a PostgreSQL backend that ends counts in the postmaster's), in seconds; 0 once it is gone.
 */
function ownCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3: utime is 14 ... cstime 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields.slice(11, 15).reduce((sum, ticks) => sum + Number(ticks), 0) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds used so far by `pid` and every live process under it (a replica and its downstream
 * server; the postmaster and its backends). process.cpuUsage() only sees the calling process.
 */
export function treeCpuSeconds(pid) {
  return [pid, ...descendants(pid)].reduce((sum, p) => sum + ownCpuSeconds(p), 0);
}

/** CPU seconds the whole machine has been busy so far, every process counted (Linux /proc/stat). */
export function machineBusySeconds() {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal ...: busy is everything but idle and iowait.
  return (ticks.slice(0, 8).reduce((a, b) => a + b, 0) - ticks[3] - ticks[4]) / CLOCK_TICKS;
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:`port` accepts connections; rejects if `child` exits first or after 10 s. */
export async function waitForPort(port, child, output = () => '') {
  const deadline = Date.now() + 10_000;
  const accepts = () =>
    new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(socket.destroy() || true));
      socket.once('error', () => resolve(false));
    });
  while (!(await accepts())) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited before listening:\n${output()}`);
    if (Date.now() > deadline) throw new Error(`nothing listened on ${port} in 10 s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** SIGTERM, then SIGKILL after `killAfterMs`; resolves once the child has exited. */
export function stopChild(child, killAfterMs = 20_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts the built `warden serve --config <config> --http 0` and resolves once it reports its port
 * (its stderr JSON line "warden serving on http"). stderr keeps being drained; its first 64 kB are
 * kept for messages.
 */
export function serveWarden(config, what = 'warden') {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, [join(root, 'dist/cli/main.js'), 'serve', '--config', config, '--http', '0'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      WARDEN_OPA: process.env.WARDEN_OPA ?? join(root, '.tools/bin/opa'),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const port = new Promise((resolve, reject) => {
    child.stderr.on('data', (c) => {
      if (stderr.length < 64_000) stderr += c.toString('utf8');
      const line = stderr.split('\n').find((l) => l.includes('"warden serving on http"'));
      if (line) resolve(JSON.parse(line).port);
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before listening:\n${stderr}`)));
  });
  return { child, port };
}
