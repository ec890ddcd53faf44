import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { haproxyConfig, parseHaproxyStats } from '../../scripts/haproxy-config.mjs';
import { ROOT, tempDir } from './warden.js';

const SCRIPT = join(ROOT, 'scripts/haproxy-test.sh');
const run = promisify(execFile);

export interface HaproxyBackend {
  host: string;
  port: number;
  /** The server's name in the config and in {@link RunningHaproxy.stats}; default `r0`, `r1`, ... */
  name?: string;
}

export interface HaproxyOptions {
  /** `timeout client` and `timeout server`: how long a quiet SSE stream or a slow call may stay open. */
  timeoutMs?: number;
  /** TCP health checks every this many ms (a dead replica leaves the rotation); off when unset. */
  checkIntervalMs?: number;
}

export interface RunningHaproxy {
  /** `http://127.0.0.1:<port>`: the load balancer's front. */
  url: string;
  port: number;
  /** Requests each backend server has been sent so far, by server name. */
  stats(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/**
 * Starts Debian's HAProxy (installed by scripts/haproxy-test.sh when missing) in front of `backends`:
 * HTTP mode, plain round robin, no stickiness, and the server side closed after every response
 * (`option http-server-close`), so consecutive requests alternate between backends even over one
 * kept-alive client connection. Call in beforeAll, stop in afterAll; a process exit hook kills it
 * too if the run is cut short.
 *
 * @example
 *   const lb = await startHaproxy([{ host: '127.0.0.1', port: a }, { host: '127.0.0.1', port: b }]);
 *   await fetch(`${lb.url}/mcp`, ...);
 *   expect(await lb.stats()).toEqual({ r0: 1, r1: 0 });
 *   await lb.stop();
 */
export async function startHaproxy(backends: HaproxyBackend[], options: HaproxyOptions = {}): Promise<RunningHaproxy> {
  if (backends.length === 0) throw new Error('startHaproxy needs at least one backend');
  await installHaproxy();
  const dir = tempDir('haproxy');
  try {
    return await startIn(dir, backends, options);
  } catch (err) {
    // Another process may take a port between our probe and haproxy's bind: try new ports once.
    if (!(err instanceof BindError)) throw err;
    return await startIn(dir, backends, options);
  }
}

class BindError extends Error {}

async function installHaproxy(): Promise<void> {
  try {
    await run('bash', [SCRIPT, 'install'], { timeout: 590_000 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`scripts/haproxy-test.sh install failed:\n${stderr || String(err)}`);
  }
}

async function startIn(dir: string, backends: HaproxyBackend[], options: HaproxyOptions): Promise<RunningHaproxy> {
  const port = await freePort();
  const statsPort = await freePort();
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(configPath, haproxyConfig(port, statsPort, backends, options));
  const child = spawn('haproxy', ['-f', configPath, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const killSync = (): void => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killSync);
  try {
    await waitForPorts(child, [port, statsPort], () => output);
  } catch (err) {
    process.removeListener('exit', killSync);
    await stopChild(child);
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async stats(): Promise<Record<string, number>> {
      const res = await fetch(`http://127.0.0.1:${statsPort}/stats;csv`);
      if (!res.ok) throw new Error(`haproxy stats answered ${res.status}`);
      return parseHaproxyStats(await res.text());
    },
    async stop(): Promise<void> {
      process.removeListener('exit', killSync);
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once every port accepts connections; rejects if haproxy exits first or after 10 s. */
async function waitForPorts(child: ChildProcess, ports: number[], output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (const port of ports) {
    while (!(await accepts(port))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const text = output();
        const message = `haproxy exited (${child.exitCode ?? child.signalCode}) before listening:\n${text}`;
        throw /cannot bind|Address already in use/i.test(text) ? new BindError(message) : new Error(message);
      }
      if (Date.now() > deadline) throw new Error(`haproxy did not listen on ${port} in 10 s:\n${output()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** SIGTERM, then SIGKILL if haproxy has not exited within 2 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
