import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { DEFAULT_BUNDLE_LIMITS, bundleTooLarge, formatBytes, type BundleLimits } from '../policy/index.js';

/** How much is read at once. */
const SLICE_BYTES = 64 * 1024;

/**
 * Reads a bundle file of at most `compressedBytes`, refusing a bigger one from its size before
 * reading it (and stopping at the limit if it grows meanwhile).
 */
export function readBundleBytes(file: string, limits: BundleLimits = DEFAULT_BUNDLE_LIMITS): Buffer {
  const read = readAtMost(file, limits.compressedBytes);
  if (read.bytes) return read.bytes;
  const seen = `${read.grew ? 'more than ' : ''}${formatBytes(read.size)}`;
  throw bundleTooLarge('compressedBytes', limits, `bundle ${file} is ${seen}`);
}

/**
 * A file's bytes if there are at most `max` of them; otherwise its size (from `fstat`, before
 * anything is read, or what was read when it grew past `max` while being read).
 */
export function readAtMost(
  file: string,
  max: number,
): { bytes: Buffer; size: number; grew?: never } | { bytes?: never; size: number; grew: boolean } {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > max) return { size, grew: false };
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.max(SLICE_BYTES, Math.min(size - total, 16 * 1024 * 1024)));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > max) return { size: total, grew: true };
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    }
    return { bytes: Buffer.concat(chunks, total), size: total };
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a bundle service's response body, at most `compressedBytes` of it: a `Content-Length`
 * over the limit is refused before anything is read, and the download stops as soon as the bytes
 * received cross it.
 */
export async function readBundleResponse(
  res: Response,
  source: string,
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<Buffer> {
  const announced = Number(res.headers.get('content-length') ?? NaN);
  if (announced > limits.compressedBytes) {
    await res.body?.cancel().catch(() => undefined);
    const what = `bundle ${source}: the response announces ${formatBytes(announced)} (Content-Length)`;
    throw bundleTooLarge('compressedBytes', limits, what);
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  // Leaving the loop early cancels the stream, which closes the connection: the rest never arrives.
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > limits.compressedBytes) {
      throw bundleTooLarge('compressedBytes', limits, `bundle ${source}: the download passed ${formatBytes(total)}`);
    }
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  return Buffer.concat(chunks, total);
}
