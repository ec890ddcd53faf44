import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openAuditStore, sessionClosed, verifyChain } from '../../src/audit/index.js';
import { collect, forkAppender, transpileAudit } from './helpers/children.js';
import { tempDir } from './helpers/fixtures.js';

let tmp: ReturnType<typeof tempDir>;
let built: ReturnType<typeof transpileAudit>;
beforeAll(() => {
  tmp = tempDir('kill9-');
  built = transpileAudit();
});
afterAll(() => {
  built.cleanup();
  tmp.cleanup();
});

test('kill -9 mid-stream: every acknowledged append is there after reopen, and the chain verifies', async () => {
  const file = join(tmp.dir, 'audit.db');
  const child = forkAppender(built.module, {
    url: `sqlite:${file}`,
    count: 100_000,
    session: 'k',
    checkpointEvery: 50,
  });
  let killedAt = -1;
  const run = collect(child, (_seq, acks) => {
    // Kill while appends are in flight, at an arbitrary point past a few checkpoints.
    if (acks.length === 237 && killedAt < 0) {
      killedAt = acks.length;
      child.kill('SIGKILL');
    }
  });
  const code = await run.exited;
  expect(code, run.stderr()).toBeNull(); // died of the signal, not by itself
  expect(child.signalCode).toBe('SIGKILL');
  const acked = run.acks;
  expect(acked.length).toBeGreaterThanOrEqual(237);

  const store = await openAuditStore(`sqlite:${file}`);
  try {
    const stored = await store.read({});
    const present = new Set(stored.map((r) => r.seq));
    expect(acked.filter((seq) => !present.has(seq))).toEqual([]);
    // Records are contiguous from 1 (one transaction per append batch: all or nothing).
    expect(stored.map((r) => r.seq)).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
    expect(await verifyChain(store)).toMatchObject({ ok: true, count: stored.length });
    // The store keeps working after the crash.
    const next = await store.append(sessionClosed('k', { calls: 0 }));
    expect(next.seq).toBe(stored.length + 1);
  } finally {
    await store.close();
  }
});
