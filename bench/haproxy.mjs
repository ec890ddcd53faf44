// Debian's HAProxy in front of Warden replicas, for the benchmarks: the same config as
// test/helpers/haproxy.ts (HTTP mode, plain round robin, no stickiness, server side closed after
// every response so consecutive requests on one client connection alternate between replicas),
// rewritten in JS because a .mjs benchmark cannot import the TypeScript test helper.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haproxyConfig, parseHaproxyStats } from '../scripts/haproxy-config.mjs';
import { freePort, stopChild, waitForPort } from './lib.mjs';

const SCRIPT = fileURLToPath(new URL('../scripts/haproxy-test.sh', import.meta.url));

/**
 * Starts haproxy in front of `backends` ({host, port}[], named r0, r1, ...). Resolves to
 * {url, pid, stats(), stop()}; stats() gives the requests sent to each backend so far.
 */
export async function startHaproxy(backends) {
  execFileSync('bash', [SCRIPT, 'install'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-haproxy-'));
  const [port, statsPort] = [await freePort(), await freePort()];
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(config, haproxyConfig(port, statsPort, backends));
  const child = spawn('haproxy', ['-f', config, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr.on('data', (c) => (output += c.toString('utf8')));
  // An interrupted benchmark must not leave haproxy (a foreground child, -db) running.
  const killSync = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killSync);
  const stop = async () => {
    process.removeListener('exit', killSync);
    await stopChild(child, 2000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, () => output);
    await waitForPort(statsPort, child, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    stats: async () => parseHaproxyStats(await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text()),
    stop,
  };
}
