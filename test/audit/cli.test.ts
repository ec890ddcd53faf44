import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  approvalAnswered,
  approvalRequested,
  openAuditStore,
  sessionClosed,
  sessionOpened,
} from '../../src/audit/index.js';
import { registerAuditCommands, type AuditCommandOptions } from '../../src/cli/audit-command.js';
import { callEvents, fill, tempDir } from './helpers/fixtures.js';
import { rawSqlite } from './helpers/tamper.js';

let tmp: ReturnType<typeof tempDir>;
let n = 0;
beforeAll(() => {
  tmp = tempDir('cli-');
});
afterAll(() => tmp.cleanup());

/** Runs `warden <args>` in-process with the audit commands only; captures output and exit code. */
async function warden(
  args: string[],
  extra: Partial<AuditCommandOptions> = {},
): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  let code = 0;
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
  const program = new Command().name('warden').exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  registerAuditCommands(program, { io, setExit: (c) => (code = Math.max(code, c)), ...extra });
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    const ce = e as { exitCode?: number; code?: string; message: string };
    if (typeof ce.exitCode === 'number') code = ce.exitCode;
    else {
      err += ce.message;
      code = 2;
    }
  }
  return { out, err, code };
}

async function sampleStore(): Promise<{ url: string; file: string }> {
  const file = join(tmp.dir, `a-${++n}.db`);
  const url = `sqlite:${file}`;
  const store = await openAuditStore(url, { checkpointEvery: 5 });
  const principal = { sub: 'alice', roles: [], claims: {} };
  const opened = '2025-01-01T11:59:00.000Z';
  const client = { name: 'claude-ai', version: '1' };
  await store.append(sessionOpened('s-1', { client, principal, started_at: opened }, opened));
  for (const e of callEvents('s-1', 'c1', 0)) await store.append(e);
  for (const e of callEvents('s-1', 'c2', 5, false)) await store.append(e);
  for (const e of callEvents('s-2', 'c3', 10)) await store.append(e);
  const asked = { call_id: 'c2', name: 'deploy', approvers: ['release-manager'], reason: 'prod' };
  await store.append(approvalRequested('s-1', asked, '2025-01-01T12:00:06Z'));
  const answer = { call_id: 'c2', outcome: 'approved', by: 'bob', via: 'admin', comment: 'ok' } as const;
  await store.append(approvalAnswered('s-1', answer, '2025-01-01T12:00:07Z'));
  await store.append(sessionClosed('s-1', { calls: 2 }, '2025-01-01T12:01:00Z'));
  await store.close();
  return { url, file };
}

describe('warden audit verify', () => {
  test('exit 0 with a count on an untouched store', async () => {
    const { url } = await sampleStore();
    const r = await warden(['audit', 'verify', '--store', url]);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^ok: 14 records verified \(seq 1\.\.14\), 3 checkpoints\n$/);
  });

  test('exit 1 naming the first bad record and its problem', async () => {
    const { url, file } = await sampleStore();
    const db = rawSqlite(file);
    await db.run(`UPDATE audit_events SET data = replace(data, '"allow":false', '"allow":true') WHERE seq = 7`);
    await db.close();
    const r = await warden(['audit', 'verify', '--store', url]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^FAILED: record 7 altered: /);
    const json = await warden(['audit', 'verify', '--store', url, '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, seq: 7, problem: 'altered' });
  });

  test('signed checkpoints with --public-key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const file = join(tmp.dir, `signed-${++n}.db`);
    const store = await openAuditStore(`sqlite:${file}`, { signingKey: privateKey, checkpointEvery: 2 });
    await fill(store, 5);
    await store.close();
    const pub = join(tmp.dir, 'key.pub');
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const r = await warden(['audit', 'verify', '--store', `sqlite:${file}`, '--public-key', pub]);
    expect(r.out).toContain('3 checkpoints, 3 signed');
  });

  test('a missing store file is an error (2), not an empty chain', async () => {
    const r = await warden(['audit', 'verify', '--store', `sqlite:${join(tmp.dir, 'typo.db')}`]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('cannot read the SQLite audit store');
  });

  test('no store: says how to give one; --config goes through resolveStore', async () => {
    expect((await warden(['audit', 'verify'])).err).toContain('pass --store');
    const { url } = await sampleStore();
    const seen: unknown[] = [];
    const r = await warden(['audit', 'verify', '--config', 'warden.yaml'], {
      resolveStore: (opts) => (seen.push(opts.config), url),
    });
    expect(seen).toEqual(['warden.yaml']);
    expect(r.out).toContain('ok: 14 records');
  });

  test('archive, then verify with --archive-dir', async () => {
    const { url } = await sampleStore();
    const dir = join(tmp.dir, `arch-${++n}`);
    const a = await warden(['audit', 'archive', '--store', url, '--dir', dir, '--before-seq', '6']);
    expect(a.out).toMatch(/archived records 1\.\.5 \(5\) to .*audit-1-5\.jsonl/);
    expect((await warden(['audit', 'verify', '--store', url, '--archive-dir', dir])).out).toContain(
      'ok: 14 records verified',
    );
    // The store alone cannot tell retention from someone deleting its first records (no signing key here).
    const alone = await warden(['audit', 'verify', '--store', url]);
    expect(alone.code).toBe(1);
    expect(alone.err).toMatch(/^FAILED: record 1 deleted: records 1\.\.5 are not in the store: its base was moved/);
    expect(alone.err).toContain('--archive-dir DIR');
  });
});

describe('warden audit export', () => {
  test('jsonl, filtered by session and time', async () => {
    const { url } = await sampleStore();
    const r = await warden([
      'audit',
      'export',
      '--store',
      url,
      '--session',
      's-1',
      '--since',
      '2025-01-01T12:00:00Z',
      '--until',
      '2025-01-01T12:00:06Z',
    ]);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; session_id: string; at: string });
    expect(lines.map((l) => l.seq)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(lines.every((l) => l.session_id === 's-1')).toBe(true);
  });

  test('csv with a header and quoted JSON', async () => {
    const { url } = await sampleStore();
    const r = await warden(['audit', 'export', '--store', url, '--format', 'csv', '--session', 's-2']);
    const rows = r.out.split('\r\n').filter(Boolean);
    expect(rows[0]).toBe('seq,at,type,session_id,call_id,data,prev_hash,hash');
    expect(rows).toHaveLength(5);
    expect(rows[1]).toMatch(/^8,2025-01-01T12:00:10\.000Z,call\.received,s-2,c3,/);
    expect(rows[1]).toContain(',"{""annotations"":{},""arguments"":');
  });

  test('a bad format or time is a usage error', async () => {
    const { url } = await sampleStore();
    expect((await warden(['audit', 'export', '--store', url, '--format', 'xml'])).code).not.toBe(0);
    const r = await warden(['audit', 'export', '--store', url, '--since', 'last tuesday']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('not a time');
  });
});

describe('warden audit report', () => {
  test('text trace of one session', async () => {
    const { url } = await sampleStore();
    const r = await warden(['audit', 'report', '--store', url, '--session', 's-1']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('session s-1');
    expect(r.out).toMatch(/#1 ci\/deploy {2}call c1/);
    expect(r.out).toMatch(/decided .* ALLOW \(enforce\)/);
    expect(r.out).toMatch(/completed .* success {2}298 ms/);
    expect(r.out).toMatch(/#2 ci\/deploy {2}call c2/);
    expect(r.out).toMatch(/DENY \(enforce\)/);
    expect(r.out).toContain('reason: deploy.tests_first: run_tests must succeed before deploy');
    expect(r.out).toContain('approval   2025-01-01 12:00:07.000  granted by bob: ok');
    expect(r.out).toContain('2 calls: 1 allowed, 1 denied; 1 succeeded, 0 failed');
    expect(r.out).not.toContain('c3');
  });

  test('json trace', async () => {
    const { url } = await sampleStore();
    const r = await warden(['audit', 'report', '--store', url, '--session', 's-1', '--format', 'json']);
    const report = JSON.parse(r.out);
    expect(report.opened.principal).toEqual({ sub: 'alice', roles: [], claims: {} });
    expect(report.calls).toHaveLength(2);
    expect(report.calls[0]).toMatchObject({
      call_id: 'c1',
      server: 'ci',
      tool: 'deploy',
      decision: { allow: true },
      completed: { outcome: 'success', duration_ms: 298 },
    });
    expect(report.calls[1]).toMatchObject({
      call_id: 'c2',
      decision: { allow: false, reasons: [{ rule: 'deploy.tests_first' }] },
      completed: null,
    });
    expect(report.calls[1].approvals.map((a: { type: string }) => a.type)).toEqual(['requested', 'granted']);
  });

  test('an unknown session is an error', async () => {
    const { url } = await sampleStore();
    const r = await warden(['audit', 'report', '--store', url, '--session', 'nope']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('no audit records for session "nope"');
  });
});

describe('warden audit tail', () => {
  test('prints recent records, then follows new ones until stopped', async () => {
    const { url } = await sampleStore();
    const stop = new AbortController();
    let out = '';
    const io = { out: (t: string) => void (out += t), err: () => {} };
    const program = new Command().exitOverride();
    registerAuditCommands(program, { io, signal: stop.signal });
    const running = program.parseAsync(['audit', 'tail', '--store', url, '-n', '2', '--interval', '20'], {
      from: 'user',
    });
    await waitFor(() => out.includes('session.closed'));
    expect(out.trim().split('\n')).toHaveLength(2);
    const writer = await openAuditStore(url);
    const zed = { sub: 'zed', roles: [], claims: {} };
    const started = new Date().toISOString();
    const client = { name: 'c', version: '1' };
    await writer.append(sessionOpened('s-9', { client, principal: zed, started_at: started }));
    await waitFor(() => out.includes('s-9'));
    await writer.close();
    stop.abort();
    await running;
    const line = out.split('\n').find((l) => l.includes('s-9'));
    expect(line).toMatch(/^ {4}15 {2}\S+ \S+ {2}session\.opened +s-9 {2}client \S+ principal \S+$/);
    expect(line).toContain('client {"name":"c","version":"1"} principal {"claims":{},"roles":[],"sub":"zed"}');
  });

  test('--from-start --format jsonl prints everything', async () => {
    const { url } = await sampleStore();
    const stop = new AbortController();
    let out = '';
    const program = new Command().exitOverride();
    registerAuditCommands(program, { io: { out: (t) => void (out += t), err: () => {} }, signal: stop.signal });
    const running = program.parseAsync(
      ['audit', 'tail', '--store', url, '--from-start', '--format', 'jsonl', '--interval', '20'],
      { from: 'user' },
    );
    await waitFor(() => out.split('\n').length > 14);
    stop.abort();
    await running;
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).seq),
    ).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
