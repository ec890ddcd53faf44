import { gzipSync } from 'node:zlib';
import type { DecisionLogEvent } from './decision-log.js';

/** Where and how to ship decision logs (config `decisionLogs.service`). */
export interface DecisionLogUploadOptions {
  /** The collector's upload URL (OPA posts to `<service url>/logs`; give the full URL). */
  url: string;
  headers?: Readonly<Record<string, string>>;
  /** Upload every min..max delay (random in between) while all goes well. */
  minDelayMs: number;
  maxDelayMs: number;
  /** Records kept while the collector cannot take them; beyond it the oldest are dropped and counted. */
  maxBufferRecords: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Most records in one POST (default 500). */
  maxBatchRecords?: number;
  logger?: {
    warn(message: string, fields?: Record<string, unknown>): unknown;
    info?(message: string, fields?: Record<string, unknown>): unknown;
  };
}

/** Counters for metrics and status. */
export interface DecisionLogUploadStats {
  buffered: number;
  uploaded: number;
  dropped: number;
  failed_requests: number;
  last_error: string | null;
  last_upload_at: string | null;
}

const MIN_RETRY_DELAY_MS = 100;

/**
 * Ships decision log events with OPA's decision log upload API: each upload is one `POST` of a
 * gzipped JSON array (`Content-Encoding: gzip`, `Content-Type: application/json`), so OPA
 * collectors (Styra DAS, OPA control planes, any `/logs` endpoint) accept Warden's logs unchanged.
 * Events wait in a bounded buffer; a failed upload is kept and retried with exponential backoff
 * (100 ms × 1.6ⁿ up to the max delay, as OPA's plugin does), so a collector that is briefly down
 * loses nothing; when the buffer is full the oldest events are dropped and counted. Uploads are
 * at-least-once: a collector that answered too late may see a batch twice.
 *
 * @example
 * ```ts
 * const up = new DecisionLogUploader({ url: 'https://collector.example/logs', minDelayMs: 1000, maxDelayMs: 10000, maxBufferRecords: 10000 });
 * up.push(event);
 * await up.close(); // final flush
 * ```
 */
export class DecisionLogUploader {
  private buffer: DecisionLogEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private uploading: Promise<boolean> | null = null;
  private retries = 0;
  private closed = false;
  private readonly counters: DecisionLogUploadStats = {
    buffered: 0,
    uploaded: 0,
    dropped: 0,
    failed_requests: 0,
    last_error: null,
    last_upload_at: null,
  };

  constructor(private readonly options: DecisionLogUploadOptions) {
    this.schedule(this.periodicDelay());
  }

  /** Queues one (already masked) event. Never blocks, never throws. */
  push(event: DecisionLogEvent): void {
    if (this.closed) return;
    this.buffer.push(event);
    this.trim();
  }

  stats(): DecisionLogUploadStats {
    return { ...this.counters, buffered: this.buffer.length };
  }

  /** Uploads everything buffered now; resolves true when the buffer was emptied. */
  async flush(): Promise<boolean> {
    while (this.uploading) await this.uploading;
    this.uploading = this.uploadAll();
    try {
      return await this.uploading;
    } finally {
      this.uploading = null;
    }
  }

  /** Stops the timer and tries, until `deadlineMs` passes, to ship what is left. */
  async close(deadlineMs = this.options.timeoutMs ?? 10_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const deadline = Date.now() + deadlineMs;
    let attempt = 0;
    while (this.buffer.length > 0 && Date.now() < deadline) {
      if (await this.flush()) break;
      await new Promise((r) =>
        setTimeout(
          r,
          Math.min(backoff(MIN_RETRY_DELAY_MS, this.options.maxDelayMs, ++attempt), Math.max(0, deadline - Date.now())),
        ),
      );
    }
    if (this.buffer.length > 0) {
      this.counters.dropped += this.buffer.length;
      this.options.logger?.warn('decision log upload: records not shipped at shutdown', {
        url: this.options.url,
        dropped: this.buffer.length,
      });
      this.buffer = [];
    }
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    const ok = await this.flush();
    if (ok) {
      this.retries = 0;
      this.schedule(this.periodicDelay());
    } else {
      this.retries++;
      this.schedule(backoff(MIN_RETRY_DELAY_MS, this.options.maxDelayMs, this.retries));
    }
  }

  private periodicDelay(): number {
    const { minDelayMs, maxDelayMs } = this.options;
    return minDelayMs + Math.random() * Math.max(0, maxDelayMs - minDelayMs);
  }

  private async uploadAll(): Promise<boolean> {
    const max = this.options.maxBatchRecords ?? 500;
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, max);
      try {
        await this.post(batch);
        this.counters.uploaded += batch.length;
        this.counters.last_upload_at = new Date().toISOString();
        if (this.counters.last_error)
          this.options.logger?.info?.('decision log upload recovered', { url: this.options.url });
        this.counters.last_error = null;
      } catch (err) {
        // Back to the front, in order; what does not fit any more is the oldest, dropped.
        this.buffer.unshift(...batch);
        this.trim();
        this.counters.failed_requests++;
        const message = err instanceof Error ? err.message : String(err);
        if (this.counters.last_error === null)
          this.options.logger?.warn('decision log upload failed; keeping records and retrying', {
            url: this.options.url,
            error: message,
            buffered: this.buffer.length,
          });
        this.counters.last_error = message;
        return false;
      }
    }
    return true;
  }

  private async post(batch: DecisionLogEvent[]): Promise<void> {
    const body = gzipSync(Buffer.from(JSON.stringify(batch), 'utf8'));
    const res = await fetch(this.options.url, {
      method: 'POST',
      headers: { ...(this.options.headers ?? {}), 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      body,
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
    });
    await res.body?.cancel().catch(() => undefined);
    if (res.status < 200 || res.status >= 300) throw new Error(`collector replied ${res.status} ${res.statusText}`);
  }

  private trim(): void {
    const over = this.buffer.length - this.options.maxBufferRecords;
    if (over <= 0) return;
    this.buffer.splice(0, over);
    if (this.counters.dropped === 0)
      this.options.logger?.warn('decision log buffer full: dropping the oldest records', {
        url: this.options.url,
        max: this.options.maxBufferRecords,
      });
    this.counters.dropped += over;
  }
}

/** OPA's `util.DefaultBackoff`: base × 1.6^retries, capped at max, ±20 % jitter. */
function backoff(baseMs: number, maxMs: number, retries: number): number {
  let delay = baseMs;
  for (let n = retries; delay < maxMs && n > 0; n--) delay *= 1.6;
  delay = Math.min(delay, maxMs) * (1 + 0.2 * (Math.random() * 2 - 1));
  return Math.max(baseMs, delay);
}
