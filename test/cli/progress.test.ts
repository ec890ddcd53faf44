import { beforeAll, describe, expect, test } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, EXAMPLES, POLICIES, ROOT, nodeServer, startWarden } from '../helpers/warden.js';

const run = promisify(execFile);

// Long CLI work shows progress on stderr only when stderr is a terminal (src/cli/progress.ts).
// Piped, as in CI or `| jq`, stdout carries only the result and stderr stays empty.
describe('progress of replay, audit verify and audit export', () => {
  let store: string;

  beforeAll(async () => {
    const w = await startWarden({
      mcpServers: { ci: nodeServer(join(EXAMPLES, 'ci.js'), '$CALL_LOG') },
      policy: { bundle: join(ROOT, 'policy') },
    });
    try {
      for (const service of ['api', 'web', 'db'])
        await w.client.callTool({ name: 'run_tests', arguments: { service } });
    } finally {
      await w.close();
    }
    store = `sqlite:${join(w.dir, 'audit.db')}`;
  });

  test.each<[string, () => string[], (stdout: string) => void]>([
    [
      'audit verify --json',
      () => ['audit', 'verify', '--store', store, '--json'],
      (out) => expect(JSON.parse(out)).toMatchObject({ ok: true }),
    ],
    [
      'audit export',
      () => ['audit', 'export', '--store', store],
      (out) =>
        expect(
          out
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l).seq)[0],
        ).toBe(1),
    ],
    [
      'audit export --format csv',
      () => ['audit', 'export', '--store', store, '--format', 'csv'],
      (out) => expect(out.split('\n')[0]).toMatch(/^seq,/),
    ],
    [
      'replay --format json',
      () => ['replay', '--store', store, '--bundle', join(POLICIES, 'allow-all'), '--format', 'json'],
      (out) => expect(JSON.parse(out)).toMatchObject({ decisions: 3 }),
    ],
  ])('%s, piped: the result on stdout, nothing on stderr', async (_name, args, check) => {
    const r = await run(process.execPath, [CLI, ...args()], { env: { ...process.env, TERM: 'xterm' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(/\x1b\[/);
    check(r.stdout);
  });

  test('on a terminal (script(1) gives it one), audit verify draws a bar on stderr and clears it', () => {
    const cmd = [process.execPath, CLI, 'audit', 'verify', '--store', store].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, TERM: 'xterm' },
    });
    expect(r.stdout).toMatch(/verify \[.*\] \d+% \| \d+\/\d+ records/);
    expect(r.stdout).toMatch(/ok: \d+ records verified/);
    const off = spawnSync('script', ['-qfec', `${cmd} --no-progress`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, TERM: 'xterm' },
    });
    expect(off.stdout).not.toMatch(/verify \[/);
  });
});
