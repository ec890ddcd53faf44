import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { PolicyError } from '../common/index.js';
import { DEFAULT_BUNDLE_LIMITS, type BundleLimits } from '../config/index.js';

export type { BundleLimits };
export { DEFAULT_BUNDLE_LIMITS };

/** No limits: for what Warden itself produced from input that was already limited (opa build's output). */
export const UNLIMITED: BundleLimits = Object.freeze({
  compressedBytes: Infinity,
  uncompressedBytes: Infinity,
  files: Infinity,
});

const LIMIT_KEYS: Readonly<Record<keyof BundleLimits, string>> = {
  compressedBytes: 'policy.limits.compressedBytes',
  uncompressedBytes: 'policy.limits.uncompressedBytes',
  files: 'policy.limits.files',
};

/** How much is fed to the decompressor at once: small, so that a bomb is caught after little output. */
const SLICE_BYTES = 64 * 1024;

/**
 * The error for a bundle over one of `policy.limits`: says what was seen, which limit it crossed
 * (with its config key and value) and how to raise it.
 *
 * @example
 * ```ts
 * throw bundleTooLarge('files', limits, `bundle ${source} has more than ${limits.files} entries`);
 * ```
 */
export function bundleTooLarge(limit: keyof BundleLimits, limits: BundleLimits, what: string): PolicyError {
  const key = LIMIT_KEYS[limit];
  const value = limit === 'files' ? String(limits.files) : formatBytes(limits[limit]);
  return new PolicyError(
    'policy_bundle_too_large',
    `${what}: over ${key} (${value}), so it is refused and the rest is not read. ` +
      `Fix: if the bundle is genuine, raise ${key} in the config; otherwise find out who published it.`,
  );
}

/** `268435456 bytes (256 MiB)`. */
export function formatBytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = '';
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return unit ? `${n} bytes (${Number(value.toFixed(1))} ${unit})` : `${n} bytes`;
}

/**
 * Reads every regular file of a gzipped (or plain) tar into memory, within `limits`: the
 * compressed size, the unpacked size (the tar stream, and the sizes the entries declare) and the
 * number of entries. Everything is checked while streaming, so a gzip bomb or a flood of entries
 * is refused once it crosses a limit, not after it has been unpacked; an entry whose declared size
 * crosses the limit is refused from its header, before its content is inflated. Links,
 * directories and other non-files are counted and skipped; nothing is written to disk.
 */
export async function untar(
  bytes: Buffer,
  source: string,
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<Map<string, Buffer>> {
  if (bytes.length > limits.compressedBytes) {
    throw bundleTooLarge('compressedBytes', limits, `bundle ${source} is ${formatBytes(bytes.length)}`);
  }
  const files = new Map<string, Buffer>();
  let failure: Error | null = null;
  let entries = 0;
  let declared = 0;
  const unreadable = (err: unknown): PolicyError => {
    const why = err instanceof Error ? err.message : String(err);
    const message = `bundle ${source} is not a readable .tar.gz: ${why}`;
    return new PolicyError('policy_bundle_invalid', message, { cause: err });
  };
  const parser = new Parser({
    // Decompression is ours (streamed, counted); tar's own inflates a whole buffer at once.
    brotli: false,
    zstd: false,
    // A corrupt header or a truncated archive is an unreadable bundle (Go's archive/tar, which OPA
    // reads with, stops there too); tar would skip block after block of garbage, or load the part.
    onwarn: (code: string, message: string | Error) => {
      if (code === 'TAR_ENTRY_INVALID' || (code === 'TAR_BAD_ARCHIVE' && /truncated/i.test(String(message)))) {
        failure ??= unreadable(message instanceof Error ? message : new Error(message));
      }
    },
    onReadEntry: (entry: ReadEntry) => {
      entries++;
      declared += entry.size ?? 0;
      if (!failure && entries > limits.files) {
        const what = `bundle ${source} has at least ${entries} entries (refused at ${entry.path})`;
        failure = bundleTooLarge('files', limits, what);
      } else if (!failure && declared > limits.uncompressedBytes) {
        const entrySize = `entry ${entry.path} declares ${formatBytes(entry.size ?? 0)}`;
        const what = `bundle ${source} unpacks to at least ${formatBytes(declared)} (${entrySize})`;
        failure = bundleTooLarge('uncompressedBytes', limits, what);
      }
      const keep = !failure && (entry.type === 'File' || entry.type === 'OldFile');
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => {
        if (keep) chunks.push(c);
      });
      entry.on('end', () => {
        if (keep && !failure) files.set(entry.path.replace(/^\.?\//, ''), Buffer.concat(chunks));
      });
    },
  });
  const done = new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', (err: Error) => {
      failure ??= unreadable(err);
      reject(failure);
    });
  });
  done.catch(() => undefined);
  // After the end-of-archive blocks tar buffers whatever follows (copying it on every write):
  // stop feeding it there, as OPA's reader stops.
  let eof = false;
  parser.on('eof', () => (eof = true));

  let unpacked = 0;
  try {
    for await (const chunk of inflate(bytes)) {
      // A tar inside the gzip that is compressed again would be inflated by tar, uncounted: refuse it.
      if (unpacked === 0 && (isGzip(chunk) || chunk.subarray(0, 4).equals(ZSTD_MAGIC))) {
        throw unreadable(new Error('the archive inside is compressed again; a bundle is one gzip around one tar'));
      }
      unpacked += chunk.length;
      if (unpacked > limits.uncompressedBytes) {
        const what = `bundle ${source} unpacks to at least ${formatBytes(unpacked)}`;
        throw bundleTooLarge('uncompressedBytes', limits, what);
      }
      parser.write(chunk);
      if (failure) throw failure;
      if (eof) break;
    }
    parser.end();
    await done;
  } catch (err) {
    throw err instanceof PolicyError ? err : unreadable(err);
  }
  if (failure) throw failure;
  return files;
}

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

function isGzip(bytes: Buffer): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b;
}

// The tar stream inside `bytes`: inflated in small slices, with the stream's backpressure, so
// that the consumer sees (and can stop) each piece before the next is inflated. Not gzip: as is.
async function* inflate(bytes: Buffer): AsyncGenerator<Buffer> {
  const slices = function* (): Generator<Buffer> {
    for (let i = 0; i < bytes.length; i += SLICE_BYTES) yield bytes.subarray(i, i + SLICE_BYTES);
  };
  if (!isGzip(bytes)) {
    yield* slices();
    return;
  }
  const gunzip = createGunzip();
  // Errors reach the loop below through gunzip; leaving the loop destroys the whole pipeline.
  pipeline(Readable.from(slices()), gunzip, () => undefined);
  for await (const chunk of gunzip) yield chunk as Buffer;
}
