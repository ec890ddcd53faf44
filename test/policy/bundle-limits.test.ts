import { afterEach, describe, expect, test } from 'vitest';
import { statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DEFAULT_BUNDLE_LIMITS, loadTarball, untar, type BundleLimits } from '../../src/policy/index.js';
import { createSource, readBundleBytes, snapshotDirectory } from '../../src/bundles/index.js';
import { tempDir } from '../helpers/warden.js';
import {
  opaBuild,
  policyDir,
  readTar,
  rssGrowth,
  writeGzipBomb,
  writeTar,
  writeTarFlood,
  writeTree,
} from './bundle-helpers.js';

// Issue 11, break 12: a gzip bomb was refused only after ~1 GiB of RSS (tar inflated the whole
// buffer at once), 200,000 empty entries loaded, and a bundle-service download had no cap.
const MiB = 1024 * 1024;
const limits = (extra: Partial<BundleLimits>): BundleLimits => ({ ...DEFAULT_BUNDLE_LIMITS, ...extra });
const entrypoint = 'mcp/decision';

describe('bundle size limits: tarballs', () => {
  test('a gzip bomb (1 GiB of zeros, ~1 MiB on disk) is refused from its header, without inflating it', async () => {
    const bomb = await writeGzipBomb(join(tempDir('bomb'), 'bomb.tar.gz'), [{ path: 'data.json', size: 1024 * MiB }]);
    expect(statSync(bomb).size).toBeLessThan(2 * MiB);
    const { growth, result } = await rssGrowth(() => loadTarball(readBundleBytes(bomb), { name: 'p', source: bomb }));
    expect(result.status).toBe('rejected');
    const err = (result as PromiseRejectedResult).reason as Error & { code: string };
    expect(err.code).toBe('policy_bundle_too_large');
    expect(err.message).toContain('entry data.json declares 1073741824 bytes (1 GiB)');
    expect(err.message).toContain('over policy.limits.uncompressedBytes (268435456 bytes (256 MiB))');
    expect(err.message).toContain('raise policy.limits.uncompressedBytes');
    // Before the fix: ~1060 MiB. A generous bound, far below the limit itself.
    expect(growth).toBeLessThan(64 * MiB);
  });

  test('a bomb spread over many files stops at the file that crosses the limit', async () => {
    const files = Array.from({ length: 200 }, (_, i) => ({ path: `d${i}/data.json`, size: MiB }));
    const bomb = await writeGzipBomb(join(tempDir('bomb-many'), 'bomb.tar.gz'), files);
    const small = limits({ uncompressedBytes: 8 * MiB });
    const { growth, result } = await rssGrowth(() => untar(readBundleBytes(bomb, small), bomb, small));
    expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'policy_bundle_too_large' });
    const message = ((result as PromiseRejectedResult).reason as Error).message;
    // Refused when the inflated stream (contents and headers) first passes 8 MiB, in the 9th file.
    expect(message).toMatch(/unpacks to at least \d+ bytes \(8(\.\d)? MiB\)/);
    expect(message).toContain('over policy.limits.uncompressedBytes (8388608 bytes (8 MiB))');
    expect(growth).toBeLessThan(64 * MiB);
  });

  test('the unpacked stream is counted too: headers alone past the limit are refused', async () => {
    const flood = writeTarFlood(join(tempDir('headers'), 'headers.tar.gz'), 5_000);
    await expect(untar(readBundleBytes(flood), flood, limits({ uncompressedBytes: MiB }))).rejects.toThrow(
      /unpacks to at least \d+ bytes \(1 MiB\): over policy\.limits\.uncompressedBytes \(1048576 bytes \(1 MiB\)\)/,
    );
  });

  test('200,000 empty entries are refused at entry 10,001', async () => {
    const flood = writeTarFlood(join(tempDir('flood'), 'flood.tar.gz'), 200_000);
    expect(statSync(flood).size).toBeLessThan(MiB);
    const refused = loadTarball(readBundleBytes(flood), { name: 'p', source: flood });
    await expect(refused).rejects.toMatchObject({ code: 'policy_bundle_too_large' });
    const message = 'has at least 10001 entries (refused at empty.json): over policy.limits.files (10000)';
    await expect(refused).rejects.toThrow(message);
  });

  test('a file over compressedBytes is refused from its size, before it is read', async () => {
    const bomb = await writeGzipBomb(join(tempDir('big'), 'big.tar.gz'), [{ path: 'data.json', size: 512 * MiB }]);
    const size = statSync(bomb).size;
    const small = limits({ compressedBytes: 64 * 1024 });
    expect(() => readBundleBytes(bomb, small)).toThrow(
      new RegExp(`${bomb} is ${size} bytes \\(\\d+(\\.\\d)? KiB\\): over policy\\.limits\\.compressedBytes \\(65536`),
    );
    await expect(untar(readBundleBytes(bomb), bomb, small)).rejects.toThrow(/over policy\.limits\.compressedBytes/);
    // The same through a configured file source, as Warden runs it.
    const source = createSource({ name: 'p', path: bomb, limits: small }, { entrypoint });
    await expect(source.load()).rejects.toMatchObject({ code: 'policy_bundle_too_large' });
  });

  test('a real bundle within the limits loads, also with limits set to exactly its sizes', async () => {
    const out = opaBuild(policyDir('limits-ok'), join(tempDir('limits-ok-out'), 'bundle.tar.gz'));
    const files = await readTar(out);
    const exact = limits({ compressedBytes: statSync(out).size, files: files.size, uncompressedBytes: 10 * MiB });
    const loaded = loadTarball(readBundleBytes(out, exact), { name: 'p', source: out, limits: exact });
    await expect(loaded).resolves.toMatchObject({ name: 'p' });
    const oneFewer = limits({ files: files.size - 1 });
    await expect(untar(readBundleBytes(out), out, oneFewer)).rejects.toThrow(/policy\.limits\.files/);
  });

  test('a corrupt header and a tar compressed twice are unreadable, not scanned block by block', async () => {
    const garbage = join(tempDir('garbage'), 'garbage.tar.gz');
    const ff = gzipSync(Buffer.alloc(MiB, 0xff));
    writeFileSync(garbage, Buffer.concat(Array.from({ length: 256 }, () => ff)));
    const corrupt = untar(readBundleBytes(garbage), garbage);
    await expect(corrupt).rejects.toThrow(/is not a readable \.tar\.gz: checksum failure/);
    const inner = await writeTar(new Map([['data.json', Buffer.from('{}')]]), join(tempDir('twice'), 'inner.tar.gz'));
    const twice = gzipSync(readBundleBytes(inner));
    await expect(untar(twice, 'twice')).rejects.toThrow(/the archive inside is compressed again/);
  });
});

describe('bundle size limits: directories', () => {
  test('more policy files than policy.limits.files, or more bytes than uncompressedBytes, are refused', async () => {
    const three = { 'a/data.json': '{"a": 1}', 'b/data.json': '{"b": 2}', 'c/data.json': '{"c": 3}' };
    const dir = writeTree(tempDir('dir-limits'), three);
    expect(snapshotDirectory(dir, limits({ files: 3 })).size).toBe(3);
    expect(() => snapshotDirectory(dir, limits({ files: 2 }))).toThrow(
      `policy directory ${dir} holds more than 2 policy files (refused at c/data.json): over policy.limits.files (2)`,
    );
    writeTree(dir, { 'd/data.json': JSON.stringify({ big: 'x'.repeat(4096) }) });
    expect(() => snapshotDirectory(dir, limits({ uncompressedBytes: 1024 }))).toThrow(
      /files come to \d+ bytes \(4(\.\d)? KiB\) with d\/data\.json: over policy\.limits\.uncompressedBytes \(1024/,
    );
    const source = createSource({ name: 'p', path: dir, limits: limits({ files: 2 }) }, { entrypoint });
    await expect(source.load()).rejects.toMatchObject({ code: 'policy_bundle_too_large' });
  });
});

describe('bundle size limits: a bundle service', () => {
  let server: Server | null = null;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  // Sends 64 KiB chunks until the client goes away (or `max` bytes), counting what it sent.
  type Service = { url: string; sent: () => number; closed: Promise<void> };
  const serve = async (options: { contentLength?: number; max?: number }): Promise<Service> => {
    let sent = 0;
    let onClose: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => (onClose = resolve));
    server = createServer((req, res) => {
      const length = options.contentLength ? { 'Content-Length': options.contentLength } : {};
      res.writeHead(200, { 'Content-Type': 'application/gzip', ...length });
      const chunk = Buffer.alloc(64 * 1024, 0x1f);
      const pump = (): void => {
        while (!res.destroyed && sent < (options.max ?? Infinity)) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end();
      };
      res.on('close', onClose);
      pump();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundles/policy.tar.gz`;
    return { url, sent: () => sent, closed };
  };

  test('an endless download is stopped once it passes compressedBytes', async () => {
    const svc = await serve({});
    const spec = { name: 'p', url: svc.url, limits: limits({ compressedBytes: 4 * MiB }) };
    const source = createSource(spec, { entrypoint });
    const refused = source.load();
    await expect(refused).rejects.toMatchObject({ code: 'policy_bundle_too_large' });
    await expect(refused).rejects.toThrow(
      new RegExp(`${svc.url}: the download passed \\d+ bytes \\(4(\\.\\d)? MiB\\): over policy\\.limits\\.compressed`),
    );
    await svc.closed;
    // The connection was closed near the limit: socket buffers hold a few MiB at most.
    expect(svc.sent()).toBeLessThan(16 * MiB);
    expect(source.state().last_error).toMatch(/policy\.limits\.compressedBytes/);
  });

  test('a Content-Length over compressedBytes is refused before the body is read', async () => {
    const svc = await serve({ contentLength: 100 * MiB, max: 100 * MiB });
    const source = createSource({ name: 'p', url: svc.url, limits: limits({ compressedBytes: MiB }) }, { entrypoint });
    await expect(source.load()).rejects.toThrow(
      'the response announces 104857600 bytes (100 MiB) (Content-Length): over policy.limits.compressedBytes (1048576',
    );
    await svc.closed;
    expect(svc.sent()).toBeLessThan(16 * MiB);
  });
});
