import { createHash } from 'node:crypto';
import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PolicyError, describeError } from '../common/index.js';
import {
  DEFAULT_BUNDLE_LIMITS,
  filesDigest,
  isIgnoredPolicyPath,
  loadTarball,
  type BundleLimits,
  type BundleSource,
  type BundleSpec,
  type LoadedBundle,
  type PollingConfig,
  type SourceListener,
  type SourceState,
} from '../policy/index.js';
import { loadDirectoryBundle, snapshotDirectory } from './build.js';
import { readBundleBytes, readBundleResponse } from './read.js';

export interface SourceOptions {
  entrypoint: string;
  /** Quiet time after the last file event before a directory is recompiled (default 100 ms). */
  debounceMs?: number;
  /** A burst of events longer than this still reloads (default 1000 ms). */
  maxWaitMs?: number;
  /** Safety-net poll of local sources, in case the platform drops file events (default 2000 ms; 0 = off). */
  pollMs?: number;
}

/** Picks the source kind for a spec: URL, directory or file. */
export function createSource(spec: BundleSpec, options: SourceOptions): BundleSource {
  if (spec.url) return new HttpSource(spec);
  if (!spec.path)
    throw new PolicyError('policy_source_missing', `bundle ${spec.name} has neither a path nor a resource URL`);
  let isDir: boolean;
  try {
    isDir = statSync(spec.path).isDirectory();
  } catch {
    throw new PolicyError(
      'policy_source_missing',
      `bundle ${spec.name}: ${spec.path} does not exist. Fix: point it at a policy directory or a bundle .tar.gz built with 'warden policy build'.`,
    );
  }
  return isDir ? new DirectorySource(spec, options) : new FileSource(spec, options);
}

/**
 * Debounced trigger: fires `debounceMs` after the last poke, or `maxWaitMs` after the first poke of
 * a burst that never pauses. Runs never overlap; pokes during a run cause exactly one more run.
 */
class Coalescer {
  private timer: NodeJS.Timeout | null = null;
  private firstPokeAt = 0;
  private running = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly debounceMs: number,
    private readonly maxWaitMs: number,
  ) {}

  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const now = Date.now();
    if (!this.timer) this.firstPokeAt = now;
    else clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.debounceMs, this.firstPokeAt + this.maxWaitMs - now));
    this.timer = setTimeout(() => void this.fire(), wait);
  }

  private async fire(): Promise<void> {
    this.timer = null;
    this.running = true;
    try {
      await this.run();
    } finally {
      this.running = false;
      if (this.again && !this.stopped) {
        this.again = false;
        this.poke();
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * A bundle on the local file system, watched: a file-system watch plus a cheap stat poll (for
 * platforms and mounts where watching is unreliable) poke a coalescer, which re-reads the source;
 * content identical to the last read is not reloaded. Subclasses say only how to watch, how to
 * detect a change cheaply, and how to read and load.
 */
abstract class LocalSource implements BundleSource {
  private watcher: FSWatcher | null = null;
  private poller: NodeJS.Timeout | null = null;
  private coalescer: Coalescer | null = null;
  private lastDigest = '';
  private lastSignature = '';
  protected readonly st: SourceState;

  constructor(
    readonly spec: BundleSpec,
    protected readonly options: SourceOptions,
    kind: SourceState['kind'],
  ) {
    this.st = { kind, location: spec.path!, last_error: null };
  }

  /** A cheap fingerprint (names, sizes, mtimes) the poll compares. */
  protected abstract signature(): string;
  /** Reads the source once: its content digest and how to load it; null when it cannot be read right now. */
  protected abstract read(): { digest: string; load: () => Promise<LoadedBundle> } | null;
  /** Starts the file-system watch; calls `poke` for a relevant change. */
  protected abstract watch(poke: () => void, listener: SourceListener): FSWatcher;

  async load(): Promise<LoadedBundle> {
    const current = this.read();
    if (!current) throw new PolicyError('policy_source_missing', `policy bundle ${this.spec.path} cannot be read`);
    this.lastDigest = current.digest;
    this.lastSignature = this.signature();
    this.st.last_check_at = new Date().toISOString();
    return current.load();
  }

  start(listener: SourceListener): void {
    if (this.coalescer) return;
    this.coalescer = new Coalescer(
      () => this.check(listener),
      this.options.debounceMs ?? 100,
      this.options.maxWaitMs ?? 1000,
    );
    try {
      this.watcher = this.watch(() => this.coalescer?.poke(), listener);
    } catch (err) {
      listener.onError(
        new PolicyError(
          'policy_watch_failed',
          `cannot watch ${this.spec.path}: ${describeError(err)}; polling instead`,
        ),
        'download',
      );
    }
    const pollMs = this.options.pollMs ?? 2000;
    if (pollMs > 0) {
      this.poller = setInterval(() => {
        if (this.signature() !== this.lastSignature) this.coalescer?.poke();
      }, pollMs);
      this.poller.unref();
    }
  }

  /** Drops the watch after a platform error; the poll keeps watching. */
  protected dropWatch(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  private async check(listener: SourceListener): Promise<void> {
    this.st.last_check_at = new Date().toISOString();
    this.lastSignature = this.signature();
    let current: ReturnType<LocalSource['read']>;
    try {
      current = this.read();
    } catch (err) {
      this.st.last_error = describeError(err);
      listener.onError(err, 'load');
      return;
    }
    if (!current || current.digest === this.lastDigest) return;
    this.lastDigest = current.digest;
    this.st.last_change_at = this.st.last_check_at;
    try {
      const bundle = await current.load();
      this.st.last_error = null;
      listener.onBundle(bundle);
    } catch (err) {
      this.st.last_error = describeError(err);
      listener.onError(err, 'load');
    }
  }

  stop(): void {
    this.dropWatch();
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    this.coalescer?.stop();
    this.coalescer = null;
  }

  state(): SourceState {
    return { ...this.st };
  }
}

/**
 * A policy directory: recompiled from a consistent snapshot when its files change. Editor swap,
 * backup and lock files are ignored; bursts of events (a `git checkout`, an editor's
 * write-rename-chmod) coalesce into one rebuild; content identical to the last attempt is not
 * rebuilt, so touching a file or saving it unchanged does nothing.
 */
export class DirectorySource extends LocalSource {
  constructor(spec: BundleSpec, options: SourceOptions) {
    super(spec, options, 'directory');
  }

  protected signature(): string {
    return statSignature(this.spec.path!);
  }

  protected read(): { digest: string; load: () => Promise<LoadedBundle> } {
    const dir = this.spec.path!;
    const snapshot = snapshotDirectory(dir, this.spec.limits);
    const verification = this.spec.verification ? { verification: this.spec.verification } : {};
    return {
      digest: filesDigest(snapshot),
      load: () =>
        loadDirectoryBundle({
          name: this.spec.name,
          dir,
          entrypoint: this.options.entrypoint,
          snapshot,
          ...verification,
        }),
    };
  }

  protected watch(poke: () => void, listener: SourceListener): FSWatcher {
    const dir = this.spec.path!;
    const watcher = watch(dir, { recursive: true }, (_event, filename) => {
      if (!filename || relevantPath(String(filename))) poke();
    });
    watcher.on('error', (err) => {
      // The directory went away or the platform gave up: the poll keeps watching.
      listener.onError(
        new PolicyError(
          'policy_watch_failed',
          `watching ${dir} failed: ${describeError(err)}; falling back to polling`,
        ),
        'download',
      );
      this.dropWatch();
    });
    return watcher;
  }
}

function relevantPath(path: string): boolean {
  const parts = path.split(/[\\/]/);
  if (parts.slice(0, -1).some((p) => p.startsWith('.') || p === 'node_modules')) return false;
  const base = parts.at(-1) ?? '';
  if (isIgnoredPolicyPath(base)) return false;
  // A directory event (no extension) may hide new files inside it.
  return (
    /\.(rego|json|ya?ml)$/.test(base) || base === '.manifest' || base === '.signatures.json' || !base.includes('.')
  );
}

// Cheap change detector for the poll: names, sizes and mtimes of the relevant files.
function statSignature(dir: string): string {
  const hash = createHash('sha1');
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(d, name);
      try {
        const st = statSync(path);
        if (st.isDirectory()) {
          if (!name.startsWith('.') && name !== 'node_modules') walk(path);
        } else if (!isIgnoredPolicyPath(name)) hash.update(`${path}\0${st.size}\0${st.mtimeMs}\0`);
      } catch {
        // gone meanwhile
      }
    }
  };
  walk(dir);
  return hash.digest('hex');
}

/**
 * A built bundle `.tar.gz`: re-read when it changes. The parent directory is watched so that a
 * bundle replaced by rename (the safe way to publish one) is seen; identical bytes are ignored.
 */
export class FileSource extends LocalSource {
  constructor(spec: BundleSpec, options: SourceOptions) {
    super(spec, options, 'file');
  }

  protected signature(): string {
    return fileSig(this.spec.path!);
  }

  protected read(): { digest: string; load: () => Promise<LoadedBundle> } | null {
    const file = this.spec.path!;
    const limits = this.spec.limits ?? DEFAULT_BUNDLE_LIMITS;
    let bytes: Buffer;
    try {
      bytes = readBundleBytes(file, limits);
    } catch (err) {
      if (err instanceof PolicyError) throw err; // over policy.limits.compressedBytes
      return null; // mid-replacement: the rename fires again
    }
    const verification = this.spec.verification ? { verification: this.spec.verification } : {};
    const load = (): Promise<LoadedBundle> =>
      loadTarball(bytes, { name: this.spec.name, source: file, limits, ...verification });
    return { digest: sha256(bytes), load };
  }

  protected watch(poke: () => void): FSWatcher {
    const name = basename(this.spec.path!);
    const watcher = watch(dirname(this.spec.path!), (_event, filename) => {
      if (!filename || String(filename) === name) poke();
    });
    watcher.on('error', () => this.dropWatch());
    return watcher;
  }
}

function fileSig(file: string): string {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The media type with which a bundle service says it supports long polling (OPA's `isLongPollSupported`). */
export const LONG_POLL_CONTENT_TYPE = 'application/vnd.openpolicyagent.bundles';

const DEFAULT_POLLING: PollingConfig = { minDelaySeconds: 60, maxDelaySeconds: 120 };
const MIN_RETRY_DELAY_MS = 100;
const RESPONSE_TIMEOUT_MS = 30_000;

/**
 * An OPA bundle service (the downloader of `opa/v1/download`): `GET` with `If-None-Match` carrying
 * the last ETag; `304` means unchanged; between requests a random delay between the min and max
 * polling delay. With `long_polling_timeout_seconds` the request says `Prefer: modes=snapshot;wait=N`
 * and, as long as the service answers with `Content-Type: application/vnd.openpolicyagent.bundles`,
 * the next request goes out at once (the service holds it until there is something new). On
 * failure the ETag is dropped and retries back off exponentially (100 ms × 1.6ⁿ, ±20 %, up to the
 * max delay). Identical bundle bytes under a new ETag are not re-activated.
 */
export class HttpSource implements BundleSource {
  private etag = '';
  private longPoll: boolean;
  private lastDigest = '';
  private retry = 0;
  private timer: NodeJS.Timeout | null = null;
  private abort: AbortController | null = null;
  private running = false;
  private downloadError = false;
  private quickNotModified = false;
  private readonly st: SourceState;
  private readonly polling: PollingConfig;

  constructor(readonly spec: BundleSpec) {
    this.polling = spec.polling ?? DEFAULT_POLLING;
    this.longPoll = this.polling.longPollingTimeoutSeconds !== undefined;
    this.st = { kind: 'http', location: spec.url!, last_error: null, consecutive_errors: 0 };
  }

  async load(): Promise<LoadedBundle> {
    let outcome: Awaited<ReturnType<HttpSource['download']>>;
    try {
      outcome = await this.download(true);
    } catch (err) {
      if (!(err instanceof PolicyError) || err.code !== 'policy_download_failed') throw err;
      // At start there is no policy to fall back on: Warden does not serve without one.
      throw new PolicyError(
        err.code,
        `${err.message}. Fix: start the bundle service (or correct the bundle's URL: policy.bundle, or policy.bundles.${this.spec.name}.resource/service); Warden does not start without its policy.`,
        { cause: err },
      );
    }
    if (outcome.kind !== 'bundle') {
      throw new PolicyError(
        'policy_download_failed',
        `bundle ${this.spec.name}: ${this.spec.url} answered without a bundle (${outcome.kind === 'unchanged' ? '304 Not Modified' : 'empty body'})`,
      );
    }
    return outcome.bundle;
  }

  start(listener: SourceListener): void {
    if (this.running) return;
    this.running = true;
    this.schedule(listener, this.nextDelay(false));
  }

  private schedule(listener: SourceListener, delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => void this.tick(listener), delayMs);
  }

  private async tick(listener: SourceListener): Promise<void> {
    this.timer = null;
    let failed = false;
    try {
      const outcome = await this.download();
      this.retry = 0;
      if (outcome.kind === 'bundle') listener.onBundle(outcome.bundle);
    } catch (err) {
      if (!this.running) return;
      failed = true;
      const kind = err instanceof PolicyError && err.code === 'policy_download_failed' ? 'download' : 'load';
      listener.onError(err, kind);
      if (kind === 'download') this.retry++;
    }
    this.schedule(listener, this.nextDelay(failed));
  }

  private nextDelay(failed: boolean): number {
    const maxMs = this.polling.maxDelaySeconds * 1000;
    if (failed) return backoff(MIN_RETRY_DELAY_MS, maxMs, this.retry);
    // A service that says it long-polls but answers 304 at once would be hammered: poll it normally.
    if (this.longPoll && this.polling.longPollingTimeoutSeconds !== undefined && !this.quickNotModified) return 0;
    const minMs = this.polling.minDelaySeconds * 1000;
    return minMs + Math.random() * Math.max(0, maxMs - minMs);
  }

  /** One request. Resolves with a verified bundle, `unchanged` (304, or the same bytes), or `empty`. */
  private async download(
    fresh = false,
  ): Promise<{ kind: 'bundle'; bundle: LoadedBundle } | { kind: 'unchanged' } | { kind: 'empty' }> {
    const url = this.spec.url!;
    const wait = this.longPoll ? this.polling.longPollingTimeoutSeconds : undefined;
    const headers: Record<string, string> = {
      ...(this.spec.headers ?? {}),
      Prefer: `modes=snapshot${wait !== undefined ? `;wait=${wait}` : ''}`,
    };
    if (this.etag && !fresh) headers['If-None-Match'] = this.etag;
    this.abort = new AbortController();
    const timeout = AbortSignal.timeout(wait !== undefined ? wait * 1000 + RESPONSE_TIMEOUT_MS : RESPONSE_TIMEOUT_MS);
    const signal = AbortSignal.any([this.abort.signal, timeout]);
    this.st.last_check_at = new Date().toISOString();
    const sentAt = Date.now();
    let res: Response | undefined;
    let body: Buffer;
    try {
      res = await fetch(url, { headers, signal });
      body = res.status === 200 ? await readBundleResponse(res, url, this.spec.limits) : Buffer.alloc(0);
      if (res.status !== 200) await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      if (err instanceof PolicyError && err.code === 'policy_bundle_too_large') {
        // The service answered; its bundle is refused. Keep its ETag so that the next poll gets a
        // 304 instead of downloading the same oversized bundle again.
        this.etag = res?.headers.get('etag') ?? '';
        this.downloadOk();
        this.st.last_error = describeError(err);
        throw err;
      }
      this.etag = '';
      const why = timeout.aborted ? 'timed out' : describeError((err as { cause?: unknown }).cause ?? err);
      const failure = new PolicyError(
        'policy_download_failed',
        `bundle ${this.spec.name}: request to ${url} failed: ${why}`,
        { cause: err },
      );
      this.downloadFailed(failure);
      throw failure;
    } finally {
      this.abort = null;
    }
    this.quickNotModified = res.status === 304 && wait !== undefined && Date.now() - sentAt < 500;
    if (res.status === 304) {
      this.etag = res.headers.get('etag') || this.etag;
      this.downloadOk();
      return { kind: 'unchanged' };
    }
    if (res.status !== 200) {
      this.etag = '';
      const failure = new PolicyError(
        'policy_download_failed',
        `bundle ${this.spec.name}: ${url} replied ${res.status} ${res.statusText}`,
      );
      this.downloadFailed(failure);
      throw failure;
    }
    this.longPoll =
      this.polling.longPollingTimeoutSeconds !== undefined &&
      res.headers.get('content-type') === LONG_POLL_CONTENT_TYPE;
    this.st.long_polling = this.longPoll;
    const etag = res.headers.get('etag') ?? '';
    this.etag = etag;
    this.downloadOk();
    if (etag) this.st.etag = etag;
    if (body.length === 0) return { kind: 'empty' };
    const digest = sha256(body);
    if (digest === this.lastDigest && !fresh) return { kind: 'unchanged' };
    this.lastDigest = digest;
    this.st.last_change_at = this.st.last_check_at;
    try {
      const bundle = await loadTarball(body, {
        name: this.spec.name,
        source: url,
        ...(etag ? { etag } : {}),
        ...(this.spec.verification ? { verification: this.spec.verification } : {}),
        ...(this.spec.limits ? { limits: this.spec.limits } : {}),
      });
      this.st.last_error = null;
      return { kind: 'bundle', bundle };
    } catch (err) {
      this.st.last_error = describeError(err);
      throw err;
    }
  }

  private downloadOk(): void {
    this.st.consecutive_errors = 0;
    if (this.downloadError) this.st.last_error = null;
    this.downloadError = false;
  }

  private downloadFailed(err: PolicyError): void {
    this.st.consecutive_errors = (this.st.consecutive_errors ?? 0) + 1;
    this.st.last_error = err.message;
    this.downloadError = true;
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
  }

  state(): SourceState {
    return { ...this.st };
  }
}

/** OPA's `util.DefaultBackoff`: base × 1.6^retries, capped at max, ±20 % jitter. */
export function backoff(baseMs: number, maxMs: number, retries: number): number {
  if (retries === 0) return baseMs;
  let delay = baseMs;
  let n = retries;
  while (delay < maxMs && n > 0) {
    delay *= 1.6;
    n--;
  }
  delay = Math.min(delay, maxMs);
  delay *= 1 + 0.2 * (Math.random() * 2 - 1);
  return Math.max(baseMs, delay);
}
