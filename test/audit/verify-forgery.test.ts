import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openAuditStore } from '../../src/audit/index.js';
import { CLI } from '../helpers/warden.js';
import { fill, tempDir } from './helpers/fixtures.js';
import { startPostgres, type TestPostgres } from './helpers/pg.js';
import {
  appendForged,
  dropFirst,
  duplicateKey,
  rawPostgres,
  rawSqlite,
  rewriteAndRechain,
  type RawDb,
} from './helpers/tamper.js';

// The forgeries of issue 11, break 4, against the real `warden audit verify` (dist/cli/main.js) on
// SQLite and on a real PostgreSQL (scripts/pg-test-server.sh, never skipped).

let server: TestPostgres;
let tmp: ReturnType<typeof tempDir>;
let n = 0;
const keys = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
let pub: string;
let priv: string;
let otherPub: string;

beforeAll(async () => {
  tmp = tempDir('forgery-');
  pub = join(tmp.dir, 'audit.pub');
  priv = join(tmp.dir, 'audit.pem');
  otherPub = join(tmp.dir, 'other.pub');
  writeFileSync(pub, keys.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(priv, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(otherPub, other.publicKey.export({ type: 'spki', format: 'pem' }));
  server = await startPostgres({ fast: true });
}, 600_000);
afterAll(async () => {
  await server?.stop();
  tmp?.cleanup();
});

interface Target {
  url: string;
  raw(): Promise<RawDb>;
}

const BACKENDS: { name: string; fresh(): Promise<Target> }[] = [
  {
    name: 'sqlite',
    async fresh() {
      const file = join(tmp.dir, `audit-${++n}.db`);
      return { url: `sqlite:${file}`, raw: async () => rawSqlite(file) };
    },
  },
  {
    name: 'postgres',
    async fresh() {
      const url = await server.createDatabase(`forgery_${process.pid}_${++n}`);
      return { url, raw: () => rawPostgres(url) };
    },
  },
];

/** Runs the built CLI as a child process: `warden audit <args>`. */
function warden(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'audit', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** 25 records, a checkpoint every 10 and one at close: checkpoints 10, 20 and 25. */
async function chain(target: Target, options: { signed: boolean; close?: boolean } = { signed: true }): Promise<void> {
  const signing = options.signed ? { signingKey: keys.privateKey } : {};
  const store = await openAuditStore(target.url, { checkpointEvery: 10, ...signing });
  await fill(store, 25);
  if (options.close === false) {
    // Leave it as a running Warden would: no closing checkpoint (the process is killed).
    await (store as unknown as { backend: { close(): Promise<void> } }).backend.close();
  } else {
    await store.close();
  }
}

async function tamper(target: Target, apply: (db: RawDb) => Promise<void>): Promise<void> {
  const db = await target.raw();
  try {
    await apply(db);
  } finally {
    await db.close();
  }
}

const verify = (target: Target, ...more: string[]): ReturnType<typeof warden> =>
  warden(['verify', '--store', target.url, ...more]);
const signed = (target: Target, ...more: string[]): ReturnType<typeof warden> =>
  verify(target, '--public-key', pub, '--checkpoint-every', '10', ...more);

/** Asserts exit 1 and a FAILED line for record `seq` with `problem` whose detail matches every pattern. */
function failed(r: { code: number | null; err: string }, seq: number, problem: string, ...detail: RegExp[]): void {
  expect(r.code, r.err).toBe(1);
  expect(r.err.startsWith(`FAILED: record ${seq} ${problem}: `), r.err).toBe(true);
  for (const d of detail) expect(r.err).toMatch(d);
}

const signWith = (): string[] => ['--signing-key', priv];

describe.each(BACKENDS)('warden audit verify on $name', (backend) => {
  describe('forgeries it refuses', () => {
    test('records appended after the last signed checkpoint', async () => {
      const target = await backend.fresh();
      await chain(target);
      await tamper(target, (db) => appendForged(db, 15));
      // Without a key the appended records are consistent with the chain: that is all it can say.
      expect((await verify(target)).code).toBe(0);
      failed(
        await signed(target),
        26,
        'unsigned',
        /: records 26\.\.40 \(15\) follow the last signed checkpoint \(seq 25\); /,
        /a signing writer leaves at most 9 \(checkpointEvery 10\)/,
        /--checkpoint-every N/,
      );
    });

    test('a record rewritten, the chain recomputed and every checkpoint deleted ("0 signed")', async () => {
      const target = await backend.fresh();
      await chain(target);
      await tamper(target, async (db) => {
        await rewriteAndRechain(db, 5);
        await db.run('DELETE FROM audit_checkpoints');
      });
      const none = /: no signed checkpoint covers records 1\.\.25: there is no checkpoint at all/;
      failed(await signed(target), 1, 'unsigned', none, /set audit\.signingKey/);
      // Also with the default tolerance: 25 records and no signature at all is never accepted.
      failed(await verify(target, '--public-key', pub), 1, 'unsigned', none);
    });

    test('a stored record whose text holds a duplicate JSON key', async () => {
      const target = await backend.fresh();
      await chain(target);
      await tamper(target, duplicateKey);
      if (backend.name === 'sqlite') {
        // The premise: SQL readers see the forged value while the record still hashes as written.
        const db = await target.raw();
        const sql = `SELECT json_extract(data, '$.tool') AS tool FROM audit_events WHERE seq = 5`;
        const [row] = await db.all(sql);
        await db.close();
        expect(row!.tool).toBe('mallory');
      }
      const dup = /: record 5's stored data is not its canonical JSON text \(RFC 8785\): the key "tool" appears/;
      failed(await verify(target), 5, 'altered', dup);
      failed(await signed(target), 5, 'altered', dup);
    });

    test('the first records deleted and the base moved', async () => {
      const target = await backend.fresh();
      await chain(target);
      await tamper(target, (db) => dropFirst(db, 10));
      const gone = /: records 1\.\.10 are not in the store: its base was moved to seq 10/;
      failed(await verify(target), 1, 'deleted', gone, /give the archives that hold them \(--archive-dir DIR/);
      failed(await signed(target), 1, 'deleted', gone, /no base checkpoint attests it/);
    });

    test('the base moved and an unsigned base checkpoint written for it', async () => {
      const target = await backend.fresh();
      await chain(target);
      await tamper(target, async (db) => {
        const [r] = await db.all('SELECT hash FROM audit_events WHERE seq = 10');
        await dropFirst(db, 10);
        const values = [10, r!.hash, '2025-01-01T00:00:00.000Z'];
        await db.run('INSERT INTO audit_bases (seq, hash, at) VALUES ($1, $2, $3)', values);
      });
      failed(await signed(target), 1, 'deleted', /its base checkpoint is not signed/);
    });

    test('the base moved onto a genuine signed checkpoint, passed off as a base checkpoint', async () => {
      const target = await backend.fresh();
      await chain(target);
      await tamper(target, async (db) => {
        const columns = 'seq, hash, at, key_id, signature';
        await db.run(`INSERT INTO audit_bases (${columns}) SELECT ${columns} FROM audit_checkpoints WHERE seq = 10`);
        await dropFirst(db, 10);
      });
      failed(await signed(target), 10, 'altered', /: base checkpoint at seq 10 has an invalid signature/);
    });
  });

  describe('legitimate chains keep verifying', () => {
    test('signed, closed: every checkpoint signed, the head covered', async () => {
      const target = await backend.fresh();
      await chain(target);
      const r = await signed(target, '--json');
      expect(r.code, r.err).toBe(0);
      const result = JSON.parse(r.out);
      expect(result).toMatchObject({ ok: true, count: 25, checkpoints: 3, signed_checkpoints: 3, signed_through: 25 });
      const line = (await verify(target, '--public-key', pub)).out;
      expect(line).toBe('ok: 25 records verified (seq 1..25), 3 checkpoints, 3 signed\n');
      const another = /checkpoint at seq 10 was signed by another key \([0-9a-f]{16}\)/;
      failed(await verify(target, '--public-key', otherPub), 10, 'altered', another);
    });

    test('signed, still being written: the records after the last checkpoint are named', async () => {
      const target = await backend.fresh();
      await chain(target, { signed: true, close: false });
      const r = await signed(target);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe(
        'ok: 25 records verified (seq 1..25), 2 checkpoints, 2 signed; ' +
          'records 21..25 are not covered by a signed checkpoint yet (the next one covers them)\n',
      );
    });

    test('unsigned: verifies without a key; with one, names the unsigned checkpoint', async () => {
      const target = await backend.fresh();
      await chain(target, { signed: false });
      const plain = await verify(target);
      expect(plain).toMatchObject({ code: 0, out: 'ok: 25 records verified (seq 1..25), 3 checkpoints\n' });
      failed(await signed(target), 10, 'altered', /checkpoint at seq 10 is not signed: .* had no audit\.signingKey/);
    });

    test('archived with a signing key: the store alone proves its base, with its archive the whole chain', async () => {
      const target = await backend.fresh();
      await chain(target);
      const dir = join(tmp.dir, `archive-${++n}`);
      const a = await warden(['archive', '--store', target.url, '--dir', dir, '--before-seq', '13', ...signWith()]);
      expect(a.out, a.err).toContain('archived records 1..12 (12)');
      const alone = await signed(target);
      expect(alone.code, alone.err).toBe(0);
      expect(alone.out).toBe(
        'ok: 13 records verified (seq 13..25), 2 checkpoints, 2 signed; ' +
          'base seq 12 attested by a signed base checkpoint\n',
      );
      const whole = JSON.parse((await signed(target, '--archive-dir', dir, '--json')).out);
      expect(whole).toMatchObject({ ok: true, count: 25, first_seq: 1, checkpoints: 3, signed_checkpoints: 3 });
      expect(whole.base).toEqual({ seq: 0, attested_by: 'genesis' });
      // Without the key the signature cannot be checked, so the store alone is not trusted.
      failed(await verify(target), 1, 'deleted', /or check its signed base checkpoint with --public-key/);
      const withArchive = await verify(target, '--archive-dir', dir);
      expect(withArchive.out).toBe('ok: 25 records verified (seq 1..25), 3 checkpoints, 1 archive file(s)\n');
    });

    test('archived by the previous version (no base checkpoint table): verifies with its archive', async () => {
      const target = await backend.fresh();
      await chain(target, { signed: false });
      const dir = join(tmp.dir, `archive-${++n}`);
      const a = await warden(['archive', '--store', target.url, '--dir', dir, '--before-seq', '11']);
      expect(a.out, a.err).toContain('archived records 1..10');
      await tamper(target, (db) => db.run('DROP TABLE audit_bases'));
      const withArchive = await verify(target, '--archive-dir', dir);
      expect(withArchive.out).toBe('ok: 25 records verified (seq 1..25), 3 checkpoints, 1 archive file(s)\n');
      failed(await verify(target), 1, 'deleted', /: records 1\.\.10 are not in the store/);
    });
  });
});

describe('archive files are held to the form Warden writes', () => {
  test('a duplicate key in an archive line is refused; the untouched archive verifies', async () => {
    const target = await BACKENDS[0]!.fresh();
    await chain(target);
    const dir = join(tmp.dir, `archive-${++n}`);
    await warden(['archive', '--store', target.url, '--dir', dir, '--before-seq', '11', ...signWith()]);
    const file = join(dir, 'audit-1-10.jsonl');
    expect((await signed(target, '--archive', file)).code).toBe(0);
    const lines = readFileSync(file, 'utf8').split('\n');
    // Record 4 gets a second "tool" member ahead of the real one: jq and JSON.parse read "run_tests".
    lines[4] = lines[4]!.replace('"data":{', '"data":{"tool":"mallory",');
    writeFileSync(file, lines.join('\n'));
    const twice = /: record 4's archive line is not in the form Warden writes: the key "tool" appears twice/;
    failed(await signed(target, '--archive', file), 4, 'altered', twice);
  });
});
