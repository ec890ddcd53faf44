import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, POLICIES, SERVERS, nodeServer, startWarden, tempDir, textOf } from '../helpers/warden.js';

describe('audit.retention', () => {
  test('old records move to an archive at start, and verify accepts archive plus live store', async () => {
    const data = tempDir('retention');
    const store = `sqlite:${join(data, 'audit.db')}`;
    const base = { mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') }, policy: { bundle: join(POLICIES, 'allow-all') } };

    const first = await startWarden({ ...base, audit: { store } });
    for (let i = 0; i < 3; i++) expect(textOf(await first.client.callTool({ name: 'echo', arguments: { message: `old ${i}` } }))).toBe(`old ${i}`);
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

    const verify = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--store', store, '--archive-dir', archiveDir], { encoding: 'utf8' });
    expect(verify.status, verify.stderr).toBe(0);
    // With the archive, the whole chain from the first record verifies.
    const whole = /^ok: (\d+) records verified \(seq 1\.\.(\d+)\)/.exec(verify.stdout);
    expect(whole, verify.stdout).not.toBeNull();
    expect(Number(whole![1])).toBe(Number(whole![2]));
    // The live store alone verifies from where the archive ends (its recorded base).
    const alone = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--store', store], { encoding: 'utf8' });
    const live = /^ok: (\d+) records verified \(seq (\d+)\.\.(\d+)\)/.exec(alone.stdout);
    expect(live, alone.stdout + alone.stderr).not.toBeNull();
    expect(Number(live![2])).toBe(Number(/audit-1-(\d+)\.jsonl/.exec(archives[0]!)![1]) + 1);
    expect(Number(live![3])).toBe(Number(whole![2]));
  });

  test('a retention without maxAgeDays, or without archiveDir on PostgreSQL, is refused at start', async () => {
    const { parseConfig } = await import('../../src/config/index.js');
    const cfg = (audit: string): string => `mcpServers: { a: { command: x } }\npolicy: { bundle: ${join(POLICIES, 'allow-all')} }\naudit: ${audit}\n`;
    expect(() => parseConfig(cfg('{ retention: { archiveDir: /tmp/a } }'), '/tmp/w.yaml', {})).toThrow(/audit\.retention\.maxAgeDays: required key is missing/);
    expect(() => parseConfig(cfg('{ store: "postgres://db/warden", retention: { maxAgeDays: 30 } }'), '/tmp/w.yaml', {})).toThrow(/audit\.retention\.archiveDir: required with a postgres store/);
  });
});
