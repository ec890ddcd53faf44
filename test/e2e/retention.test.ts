import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, POLICIES, SERVERS, nodeServer, startWarden, tempDir, textOf } from '../helpers/warden.js';

const UTF8 = { encoding: 'utf8' } as const;

describe('audit.retention', () => {
  test('old records move to an archive at start, and verify accepts archive plus live store', async () => {
    const data = tempDir('retention');
    const store = `sqlite:${join(data, 'audit.db')}`;
    const base = {
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'allow-all') },
    };

    const first = await startWarden({ ...base, audit: { store } });
    for (let i = 0; i < 3; i++)
      expect(textOf(await first.client.callTool({ name: 'echo', arguments: { message: `old ${i}` } }))).toBe(
        `old ${i}`,
      );
    await first.close();
    await new Promise((r) => setTimeout(r, 1500));

    // 0.00001 days is under a second: everything the first run wrote is old by now.
    const second = await startWarden({ ...base, audit: { store, retention: { maxAgeDays: 0.00001 } } });
    expect(textOf(await second.client.callTool({ name: 'echo', arguments: { message: 'new' } }))).toBe('new');
    await second.close();

    const archiveDir = join(data, 'archive');
    expect(existsSync(archiveDir)).toBe(true);
    const archives = readdirSync(archiveDir);
    expect(archives).toHaveLength(1);
    expect(archives[0]).toMatch(/^audit-1-\d+\.jsonl$/);

    const verify = spawnSync(
      process.execPath,
      [CLI, 'audit', 'verify', '--store', store, '--archive-dir', archiveDir],
      { encoding: 'utf8' },
    );
    expect(verify.status, verify.stderr).toBe(0);
    // With the archive, the whole chain from the first record verifies.
    const whole = /^ok: (\d+) records verified \(seq 1\.\.(\d+)\)/.exec(verify.stdout);
    expect(whole, verify.stdout).not.toBeNull();
    expect(Number(whole![1])).toBe(Number(whole![2]));
    // The live store alone cannot tell retention from someone deleting its first records: it names the fix.
    const to = Number(/audit-1-(\d+)\.jsonl/.exec(archives[0]!)![1]);
    const alone = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--store', store], { encoding: 'utf8' });
    expect(alone.status).toBe(1);
    expect(alone.stderr).toContain(`FAILED: record 1 deleted: records 1..${to} are not in the store: `);
    expect(alone.stderr).toContain(`its base was moved to seq ${to},`);
    expect(alone.stderr).toContain('--archive-dir DIR');
    // With --config, verify finds the archives where retention wrote them.
    const configured = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--config', second.configPath], UTF8);
    expect(configured.status, configured.stderr).toBe(0);
    expect(configured.stdout).toContain(`ok: ${whole![1]} records verified (seq 1..${whole![2]})`);
  });

  test('with audit.signingKey, the live store alone proves its moved base to --public-key', async () => {
    const data = tempDir('retention-signed');
    const store = `sqlite:${join(data, 'audit.db')}`;
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signingKey = join(data, 'audit.pem');
    const pub = join(data, 'audit.pub');
    writeFileSync(signingKey, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const base = {
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'allow-all') },
    };

    const first = await startWarden({ ...base, audit: { store, signingKey } });
    expect(textOf(await first.client.callTool({ name: 'echo', arguments: { message: 'old' } }))).toBe('old');
    await first.close();
    await new Promise((r) => setTimeout(r, 1500));
    const second = await startWarden({ ...base, audit: { store, signingKey, retention: { maxAgeDays: 0.00001 } } });
    expect(textOf(await second.client.callTool({ name: 'echo', arguments: { message: 'new' } }))).toBe('new');
    await second.close();

    const [archive] = readdirSync(join(data, 'archive'));
    const to = Number(/^audit-1-(\d+)\.jsonl$/.exec(archive!)![1]);
    const verify = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--store', store, '--public-key', pub], UTF8);
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`^ok: \\d+ records verified \\(seq ${to + 1}\\.\\.\\d+\\), `));
    expect(verify.stdout).toMatch(new RegExp(`; base seq ${to} attested by a signed base checkpoint\n$`));
  });

  test('a retention without maxAgeDays, or without archiveDir on PostgreSQL, is refused at start', async () => {
    const { parseConfig } = await import('../../src/config/index.js');
    const cfg = (audit: string): string =>
      `mcpServers: { a: { command: x } }\npolicy: { bundle: ${join(POLICIES, 'allow-all')} }\naudit: ${audit}\n`;
    expect(() => parseConfig(cfg('{ retention: { archiveDir: /tmp/a } }'), '/tmp/w.yaml', {})).toThrow(
      /audit\.retention\.maxAgeDays: required key is missing/,
    );
    expect(() =>
      parseConfig(cfg('{ store: "postgres://db/warden", retention: { maxAgeDays: 30 } }'), '/tmp/w.yaml', {}),
    ).toThrow(/audit\.retention\.archiveDir: required with a postgres store/);
  });
});
