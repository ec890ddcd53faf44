import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import { create as createTar, Header } from 'tar';
import { untar } from '../../src/policy/index.js';
import { findOpa } from '../../src/bundles/index.js';
import { FIXTURES, tempDir } from '../helpers/warden.js';

export const BUNDLE_FIXTURES = join(FIXTURES, 'bundles');

/** A decision policy that denies one tool and carries a marker, so a test can tell revisions apart. */
export function decisionRego(options: { deny?: string; marker?: string; extra?: string } = {}): string {
  return `package mcp

default decision := {"allow": true, "reasons": [], "monitored": [], "obligations": {}, "marker": ${JSON.stringify(options.marker ?? 'v1')}}

decision := {"allow": false, "reasons": [{"rule": "test.denied_tool", "message": "denied by test policy"}], "monitored": [], "obligations": {}, "marker": ${JSON.stringify(options.marker ?? 'v1')}} if {
\tinput.call.name == ${JSON.stringify(options.deny ?? 'never_called')}
}
${options.extra ?? ''}`;
}

/** Writes a policy directory: `files` maps relative paths to contents. */
export function writeTree(dir: string, files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** A fresh policy directory with the decision policy above. */
export function policyDir(prefix: string, options: Parameters<typeof decisionRego>[0] = {}): string {
  return writeTree(tempDir(prefix), { 'mcp/decision.rego': decisionRego(options) });
}

/** Runs the real `opa build` (bundle mode, Wasm), optionally signing with `--signing-key`. */
export function opaBuild(
  dir: string,
  out: string,
  options: {
    signingKey?: string;
    alg?: string;
    revision?: string;
    claimsFile?: string;
    wasm?: boolean;
    entrypoint?: string;
  } = {},
): string {
  const args = ['build', '-b'];
  if (options.wasm !== false) args.push('-t', 'wasm', '-e', options.entrypoint ?? 'mcp/decision');
  if (options.revision) args.push('--revision', options.revision);
  if (options.signingKey) args.push('--signing-key', options.signingKey, '--signing-alg', options.alg ?? 'RS256');
  if (options.claimsFile) args.push('--claims-file', options.claimsFile);
  args.push('-o', out, '.');
  execFileSync(findOpa(), args, { cwd: dir, stdio: 'pipe' });
  return out;
}

/** Key pairs for the JWS algorithms OPA signs with, as PEM files in `dir`. */
export function keyPair(
  dir: string,
  alg: 'RS256' | 'ES256' | 'EdDSA' | 'PS256',
): { privateKey: string; publicKey: string; publicPem: string } {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKey = join(dir, `${alg}.key`);
  const publicKey = join(dir, `${alg}.pub`);
  writeFileSync(privateKey, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  writeFileSync(publicKey, publicPem);
  return { privateKey, publicKey, publicPem };
}

/** The files of a bundle tarball. */
export async function readTar(file: string): Promise<Map<string, Buffer>> {
  return untar(readFileSync(file), file);
}

/** Packs files (relative paths) into a `.tar.gz`, as a tamperer would after editing a bundle. */
export async function writeTar(files: Map<string, Buffer>, out: string): Promise<string> {
  const work = tempDir('retar');
  for (const [path, bytes] of files) {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), bytes);
  }
  await createTar({ gzip: true, file: out, cwd: work, portable: true }, [...files.keys()]);
  return out;
}

/** Copies a fixture tree into a fresh temporary directory. */
export function copyFixture(name: string, prefix = name): string {
  const dir = tempDir(prefix);
  cpSync(join(BUNDLE_FIXTURES, name), dir, { recursive: true });
  return dir;
}

/**
 * A minimal OPA bundle service on 127.0.0.1: serves `current` bundle bytes under one path with an
 * ETag, answers `If-None-Match` with 304, and holds `Prefer: wait=N` requests (long polling, when
 * enabled) until a new bundle is published or N seconds pass. Records every request.
 */
export class BundleServer {
  private server: Server | null = null;
  private bundle: Buffer | null = null;
  private etag = '';
  private version = 0;
  private waiters = new Set<() => void>();
  readonly requests: {
    at: number;
    ifNoneMatch: string | undefined;
    prefer: string | undefined;
    status: number;
    auth: string | undefined;
  }[] = [];
  port = 0;
  longPolling = false;
  /** While true, every request gets a 503. */
  failing = false;

  constructor(readonly path = '/bundles/policy.tar.gz') {}

  get url(): string {
    return `http://127.0.0.1:${this.port}${this.path}`;
  }

  publish(bytes: Buffer): void {
    this.bundle = bytes;
    this.etag = `"v${++this.version}"`;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Closes the server and every open connection (the service goes down). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ifNoneMatch = req.headers['if-none-match'] as string | undefined;
    const prefer = req.headers['prefer'] as string | undefined;
    const log = (status: number): void => {
      this.requests.push({
        at: Date.now(),
        ifNoneMatch,
        prefer,
        status,
        auth: req.headers['authorization'] as string | undefined,
      });
    };
    if (req.url !== this.path) {
      log(404);
      res.writeHead(404).end();
      return;
    }
    if (this.failing) {
      log(503);
      res.writeHead(503).end();
      return;
    }
    const wait = /wait=(\d+)/.exec(prefer ?? '')?.[1];
    if (this.longPolling && wait && ifNoneMatch && ifNoneMatch === this.etag) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Number(wait) * 1000);
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (!this.server) {
        res.destroy();
        return;
      }
    }
    const contentType = this.longPolling ? 'application/vnd.openpolicyagent.bundles' : 'application/gzip';
    if (!this.bundle || (ifNoneMatch && ifNoneMatch === this.etag)) {
      log(304);
      res.writeHead(304, { ETag: this.etag, 'Content-Type': contentType }).end();
      return;
    }
    log(200);
    res
      .writeHead(200, { ETag: this.etag, 'Content-Type': contentType, 'Content-Length': this.bundle.length })
      .end(this.bundle);
  }
}

type Check<T> = () => T | undefined | false | null | Promise<T | undefined | false | null>;

/** Waits until `check` (sync or async) is truthy (polling every 20 ms), failing after `ms`. */
export async function until<T>(check: Check<T>, ms = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const MiB = 1024 * 1024;

/**
 * Writes a gzip bomb without ever holding it: a tar whose files hold `size` zero bytes each (whole
 * MiB), as concatenated gzip members (RFC 1952 allows several; zlib and tar read them as one
 * stream). One member of 1 MiB of zeros is ~1 KiB and is repeated, so a GiB costs ~1 MiB on disk.
 */
export async function writeGzipBomb(out: string, files: { path: string; size: number }[]): Promise<string> {
  const zeros = gzipSync(Buffer.alloc(MiB), { level: 9 });
  const stream = createWriteStream(out);
  const write = async (chunk: Buffer): Promise<void> => {
    if (!stream.write(chunk)) await once(stream, 'drain');
  };
  for (const f of files) {
    await write(gzipSync(tarHeader(f.path, f.size)));
    for (let done = 0; done < f.size; done += MiB) await write(zeros);
  }
  await write(gzipSync(Buffer.alloc(1024)));
  stream.end();
  await once(stream, 'finish');
  return out;
}

/**
 * A `.tar.gz` of `count` empty entries (one name, repeated), a few hundred KiB for 200,000;
 * followed by the entries of `then` (a real bundle's .tar.gz, appended as further gzip members).
 */
export function writeTarFlood(out: string, count: number, then?: Buffer): string {
  const headers = (n: number): Buffer =>
    gzipSync(Buffer.concat(Array.from({ length: n }, () => tarHeader('empty.json', 0))));
  const full = headers(10_000);
  const members = Array.from({ length: Math.floor(count / 10_000) }, () => full);
  if (count % 10_000) members.push(headers(count % 10_000));
  writeFileSync(out, Buffer.concat([...members, then ?? gzipSync(Buffer.alloc(1024))]));
  return out;
}

function tarHeader(path: string, size: number): Buffer {
  const block = Buffer.alloc(512);
  new Header({ path, size, mode: 0o644, type: 'File', mtime: new Date(0), uid: 0, gid: 0 }).encode(block, 0);
  return block;
}

/** Peak RSS growth (bytes) while `run` runs, sampled every millisecond. */
export async function rssGrowth<T>(
  run: () => Promise<T>,
): Promise<{ growth: number; result: PromiseSettledResult<T> }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 1);
  const [result] = await Promise.allSettled([run()]);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { growth: peak - before, result: result! };
}
