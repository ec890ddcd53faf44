import { afterEach, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { PolicyStatus } from '../../src/policy/index.js';
import { CLI, SERVERS, eventually, nodeServer, startWarden, tempDir, textOf } from '../helpers/warden.js';
import type { RunningWarden } from '../helpers/warden.js';
import { BundleServer, opaBuild, policyDir, writeGzipBomb, writeTarFlood } from '../policy/bundle-helpers.js';

// Issue 11, break 12, against real Warden processes: every bundle source is read within
// policy.limits, and the refusal names the limit, what was seen and the key to raise.
const MiB = 1024 * 1024;

let running: RunningWarden | null = null;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await running?.close();
  running = null;
  for (const c of cleanups.splice(0)) await c();
});

const faulty = { command: process.execPath, args: [join(SERVERS, 'faulty.js')] };

/**
 * Runs `warden serve` on `config` until it exits (it should refuse to start). Asynchronously: a
 * bundle service in this process must keep serving meanwhile.
 */
async function serveRefused(config: Record<string, unknown>): Promise<{ status: number | null; stderr: string }> {
  const cfg = join(tempDir('limits-cfg'), 'warden.json');
  writeFileSync(cfg, JSON.stringify({ mcpServers: { faulty }, audit: { store: 'memory:' }, ...config }));
  const options = { stdio: ['pipe', 'ignore', 'pipe'] as ['pipe', 'ignore', 'pipe'], timeout: 60_000 };
  const child = spawn(process.execPath, [CLI, 'serve', '--config', cfg], options);
  child.stdin.end();
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { status, stderr };
}

describe('bundle size limits through a real Warden', () => {
  test('default limits: an endless bundle-service response is cut off at 64 MiB; Warden does not start', async () => {
    let sent = 0;
    let closedAt = -1;
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/gzip' });
      const chunk = Buffer.alloc(256 * 1024, 0x1f);
      // Capped at 256 MiB so that a Warden without the limit cannot take the machine down.
      const pump = (): void => {
        while (!res.destroyed && sent < 256 * MiB) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end();
      };
      res.on('close', () => (closedAt = sent));
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundles/policy.tar.gz`;

    const r = await serveRefused({ policy: { bundle: url } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/the download passed \d+ bytes \(64(\.\d)? MiB\): over policy\.limits\.compressedBytes/);
    expect(r.stderr).toContain('raise policy.limits.compressedBytes');
    await eventually(() => closedAt >= 0, 10_000);
    // Stopped near the limit (socket buffers hold a few MiB), not at the server's 256 MiB cap.
    expect(closedAt).toBeLessThan(96 * MiB);
  });

  test('policy.limits.uncompressedBytes from the config: a gzip bomb file is refused at start', async () => {
    const out = join(tempDir('e2e-bomb'), 'bomb.tar.gz');
    const bomb = await writeGzipBomb(out, [{ path: 'data.json', size: 512 * MiB }]);
    const r = await serveRefused({ policy: { bundle: bomb, limits: { uncompressedBytes: '8mb' } } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('entry data.json declares 536870912 bytes (512 MiB)');
    expect(r.stderr).toContain('over policy.limits.uncompressedBytes (8388608 bytes (8 MiB))');
  });

  test('a running Warden refuses a flood of 200,000 entries from its bundle service; the policy stays', async () => {
    const bundles = new BundleServer();
    cleanups.push(() => bundles.stop());
    await bundles.start();
    const build = (revision: string): Buffer =>
      readFileSync(opaBuild(policyDir('e2e-limits-src'), join(tempDir('e2e-limits-out'), 'b.tar.gz'), { revision }));
    bundles.publish(build('good-1'));
    running = await startWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: {
        services: { svc: { url: `http://127.0.0.1:${bundles.port}` } },
        bundles: {
          policy: {
            service: 'svc',
            resource: 'bundles/policy.tar.gz',
            polling: { min_delay_seconds: 0.1, max_delay_seconds: 0.2 },
          },
        },
      },
    });
    const w = running;
    const status = (): PolicyStatus =>
      JSON.parse(readFileSync(join(w.dir, 'policy-status.json'), 'utf8')) as PolicyStatus;
    expect(status().active!.revision).toBe('good-1');

    // A working bundle behind the flood: without the limit it would activate.
    bundles.publish(readFileSync(writeTarFlood(join(tempDir('e2e-flood'), 'flood.tar.gz'), 200_000, build('flood-2'))));
    const error = await eventually(() => status().last_error, 15_000);
    expect(error).toMatchObject({ code: 'policy_bundle_too_large' });
    expect(error.message).toContain('has at least 10001 entries (refused at empty.json): over policy.limits.files');
    expect(status().active!.revision).toBe('good-1');
    const echo = await w.client.callTool({ name: 'echo', arguments: { message: 'still served' } });
    expect(textOf(echo)).toBe('still served');
  });
});
