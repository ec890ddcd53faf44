import { createHash, generateKeyPairSync } from 'node:crypto';
import canonicalize from 'canonicalize';
import { describe, expect, test } from 'vitest';
import {
  callReceived,
  GENESIS_HASH,
  hashRecord,
  openAuditStore,
  sessionClosed,
  sessionOpened,
  verifyChain,
  type AuditRecord,
} from '../../src/audit/index.js';
import { MemoryBackend } from '../../src/audit/memory-backend.js';
import { storeFromBackend } from '../../src/audit/open-store.js';
import { callEvents, fill, received } from './helpers/fixtures.js';

/** A call.received whose arguments are `args` (the store's JSON handling is what these tests check). */
const echo = (callId: string, args: Record<string, unknown>, at?: string) =>
  callReceived('s', received(callId, 'echo', args, 0), at);

describe('hash', () => {
  test('is SHA-256 over the RFC 8785 canonical JSON of the six fields', () => {
    const fields = {
      seq: 1,
      at: '2025-01-01T00:00:00.000Z',
      type: 'call.received',
      session_id: 's',
      data: { z: [1, 2.5, 'é'], a: { y: null, b: true }, '10': 1e21, '€': '\u2028' },
      prev_hash: GENESIS_HASH,
    };
    const expected = createHash('sha256').update(canonicalize(fields)!, 'utf8').digest('hex');
    expect(hashRecord(fields)).toBe(expected);
  });

  test('a known vector, so third-party verifiers can check themselves (docs/audit.md)', () => {
    const h = hashRecord({
      seq: 1,
      at: '2025-01-01T00:00:00.000Z',
      type: 'session.opened',
      session_id: 's-1',
      data: { principal: 'alice' },
      prev_hash: GENESIS_HASH,
    });
    expect(h).toBe(
      createHash('sha256')
        .update(
          '{"at":"2025-01-01T00:00:00.000Z","data":{"principal":"alice"},"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","seq":1,"session_id":"s-1","type":"session.opened"}',
        )
        .digest('hex'),
    );
  });
});

describe('memory store', () => {
  test('chains records from genesis and verifies', async () => {
    const store = await openAuditStore('memory:');
    const principal = { sub: 'al', roles: [], claims: {} };
    const started = '2025-01-01T00:00:00.000Z';
    const client = { name: 'c', version: '1' };
    const first = await store.append(sessionOpened('s', { client, principal, started_at: started }));
    expect(first.seq).toBe(1);
    expect(first.prev_hash).toBe(GENESIS_HASH);
    for (const e of callEvents('s', 'c1', 1)) await store.append(e);
    const head = await store.head();
    expect(head?.seq).toBe(5);
    const all = await store.read({});
    expect(all.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 1; i < all.length; i++) expect(all[i]!.prev_hash).toBe(all[i - 1]!.hash);
    expect(await verifyChain(store)).toMatchObject({ ok: true, count: 5, first_seq: 1, last_seq: 5 });
    expect(await verifyChain(all)).toMatchObject({ ok: true, count: 5 });
    await store.close();
    const closed = store.append(sessionClosed('s', { calls: 1 }));
    await expect(closed).rejects.toMatchObject({ code: 'audit_store_unavailable' });
  });

  test('appends in one tick share a transaction and keep call order', async () => {
    const backend = new MemoryBackend();
    let commits = 0;
    const commit = backend.commit.bind(backend);
    backend.commit = (build) => ((commits += 1), commit(build));
    const store = storeFromBackend(backend);
    const records = await Promise.all(Array.from({ length: 50 }, (_, i) => store.append(echo(`c${i}`, { i }))));
    expect(records.map((r) => r.data['call_id'])).toEqual(Array.from({ length: 50 }, (_, i) => `c${i}`));
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(commits).toBe(1);
  });

  test('appendAll keeps its events in one transaction, even across the batch limit', async () => {
    const backend = new MemoryBackend();
    const batches: number[] = [];
    const commit = backend.commit.bind(backend);
    backend.commit = (build) =>
      commit((head) => {
        const batch = build(head);
        batches.push(batch.rows.length);
        return batch;
      });
    const store = storeFromBackend(backend, { maxBatch: 4 });
    const singles = [0, 1, 2].map((i) => store.append(echo(`c${i}`, { i })));
    const group = store.appendAll([3, 4, 5].map((i) => echo(`c${i}`, { i })));
    const after = store.append(echo('c6', { i: 6 }));
    const records = [...(await Promise.all(singles)), ...(await group), await after];
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(records.map((r) => r.data['call_id'])).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    // The group (c3..c5) straddles maxBatch 4: its batch grows to 6 rather than split it.
    expect(batches).toEqual([6, 1]);
    expect(await verifyChain(store)).toMatchObject({ ok: true, count: 7 });
  });

  test('appendAll stores all of its events or none', async () => {
    const backend = new MemoryBackend();
    const commit = backend.commit.bind(backend);
    let fail = true;
    backend.commit = (build) => (fail ? Promise.reject(new Error('disk full')) : commit(build));
    const store = storeFromBackend(backend);
    const failed = store.appendAll([echo('c1', {}), echo('c2', {})]);
    await expect(failed).rejects.toMatchObject({ code: 'audit_store_unavailable' });
    await expect(store.appendAll([echo('c3', {}), echo('c4', { n: 10n })])).rejects.toMatchObject({
      code: 'audit_event_invalid',
    });
    fail = false;
    await store.appendAll([echo('c5', {})]);
    expect((await store.read({})).map((r) => r.data['call_id'])).toEqual(['c5']);
  });

  test('data is stored as plain JSON: Dates become strings, undefined vanishes, lone surrogates are replaced', async () => {
    const store = await openAuditStore('memory:');
    const odd = { when: new Date('2025-01-01T00:00:00Z'), gone: undefined, list: [undefined, 1], bad: 'x\uD800y' };
    const r = await store.append(echo('c1', odd, '2025-01-01T13:00:00+01:00'));
    expect(r.at).toBe('2025-01-01T12:00:00.000Z');
    expect(r.data['arguments']).toEqual({ when: '2025-01-01T00:00:00.000Z', list: [null, 1], bad: 'x\uFFFDy' });
    expect((await store.read({}))[0]).toEqual(r);
    expect(await verifyChain(store)).toMatchObject({ ok: true });
    await expect(store.append(echo('c2', { n: 10n }))).rejects.toMatchObject({ code: 'audit_event_invalid' });
    await expect(store.append(echo('c3', {}, 'yesterday'))).rejects.toMatchObject({ code: 'audit_event_invalid' });
  });

  test('read filters by seq, session, time window and limit', async () => {
    const store = await openAuditStore('memory:');
    for (let i = 0; i < 3; i++)
      for (const e of callEvents(i % 2 ? 'odd' : 'even', `c${i}`, i * 10)) await store.append(e);
    expect((await store.read({ session: 'odd' })).every((r) => r.session_id === 'odd')).toBe(true);
    expect((await store.read({ sinceSeq: 10 })).map((r) => r.seq)).toEqual([11, 12]);
    expect((await store.read({ limit: 2 })).map((r) => r.seq)).toEqual([1, 2]);
    const t = '2025-01-01T12:00:10.000Z';
    const windowed = await store.read({ since: t, until: '2025-01-01T12:00:20.000Z' });
    expect(windowed.length).toBeGreaterThan(0);
    expect(windowed.every((r) => r.at >= t && r.at < '2025-01-01T12:00:20.000Z')).toBe(true);
  });
});

describe('verifyChain on a list of records', () => {
  async function chain(n: number): Promise<AuditRecord[]> {
    const store = await openAuditStore('memory:');
    await fill(store, n);
    return store.read({});
  }

  test('an empty list verifies', async () => {
    expect(await verifyChain([])).toEqual({
      ok: true,
      count: 0,
      first_seq: null,
      last_seq: null,
      checkpoints: 0,
      signed_checkpoints: 0,
      signed_through: null,
      base: { seq: 0, attested_by: 'genesis' },
    });
  });

  test.each([
    [
      'altered',
      (rs: AuditRecord[]) => ((rs[3]!.data as Record<string, unknown>).principal = 'mallory'),
      { seq: 4, problem: 'altered' },
    ],
    ['deleted', (rs: AuditRecord[]) => rs.splice(3, 1), { seq: 4, problem: 'deleted' }],
    [
      'reordered (lines swapped)',
      (rs: AuditRecord[]) => rs.splice(3, 2, rs[4]!, rs[3]!),
      { seq: 4, problem: 'reordered' },
    ],
    ['duplicated', (rs: AuditRecord[]) => rs.splice(4, 0, rs[3]!), { seq: 4, problem: 'inserted' }],
    [
      'malformed',
      (rs: AuditRecord[]) => ((rs[2] as unknown as Record<string, unknown>).hash = 'nope'),
      { seq: 3, problem: 'altered' },
    ],
  ])('%s', async (_name, tamper, expected) => {
    const records = await chain(8);
    tamper(records);
    expect(await verifyChain(records)).toMatchObject({ ok: false, ...expected });
  });

  test('a truncated list is caught by a checkpoint beyond its end', async () => {
    const store = await openAuditStore('memory:', { checkpointEvery: 5 });
    await fill(store, 10);
    const checkpoints = await store.checkpoints();
    const records = (await store.read({})).slice(0, 7);
    expect(await verifyChain(records, { checkpoints })).toMatchObject({ ok: false, seq: 8, problem: 'truncated' });
  });
});

describe('checkpoints', () => {
  test('every N records and on close; signed ones verify with the public key only', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const backend = new MemoryBackend();
    const store = storeFromBackend(backend, {
      checkpointEvery: 4,
      signingKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    });
    await fill(store, 10);
    await store.close();
    expect(backend.checkpointRows.map((c) => c.seq)).toEqual([4, 8, 10]);
    expect(backend.checkpointRows.every((c) => typeof c.signature === 'string' && c.key_id?.length === 16)).toBe(true);
    const reopened = storeFromBackend(backend);
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(await verifyChain(reopened, { publicKey: pem })).toMatchObject({
      ok: true,
      count: 10,
      checkpoints: 3,
      signed_checkpoints: 3,
    });

    // A forged checkpoint (an attacker without the key) is named.
    backend.checkpointRows[1]!.at = '2030-01-01T00:00:00.000Z';
    expect(await verifyChain(reopened, { publicKey: pem })).toMatchObject({ ok: false, seq: 8, problem: 'altered' });
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(await verifyChain(reopened, { publicKey: other })).toMatchObject({ ok: false, seq: 4, problem: 'altered' });
  });

  test('a non-Ed25519 signing key is refused with a fix', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await expect(openAuditStore('memory:', { signingKey: privateKey })).rejects.toMatchObject({
      code: 'audit_signing_key_invalid',
    });
  });
});
