import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import YAML from 'yaml';
import { ROOT, eventually, readJsonl, textOf } from '../helpers/warden.js';

// The package as users get it: `npm pack`, then `npm install <tarball>` into an empty directory
// outside the clone, run from there with a PATH that has no opa (and none of the clone's bins).
//
// One liberty: the install runs with --ignore-scripts, and better-sqlite3's native addon comes from
// scripts/sqlite-native.sh (the same better-sqlite3 version built for this Node, cached outside the
// clone). Its own install script compiles SQLite from source here (no prebuilt download), which
// takes minutes on 2 cores; everything else is npm's ordinary install, from its cache.
const run = promisify(execFile);

describe('the npm package, installed from its tarball', () => {
  let work: string;
  let app: string;
  let tarball: string;
  let env: NodeJS.ProcessEnv;
  let pkg: { version: string };

  beforeAll(async () => {
    pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    work = mkdtempSync(join(tmpdir(), 'warden-pack-'));
    app = join(work, 'app');
    // The pre-built shipped policy must be current (it is cheap when it is); pack skips prepack's full rebuild.
    execFileSync(process.execPath, [join(ROOT, 'scripts/build-shipped-policy.mjs'), '--require'], {
      cwd: ROOT,
      stdio: 'pipe',
    });
    const packed = JSON.parse(
      (await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT })).stdout,
    ) as { filename: string }[];
    tarball = join(work, packed[0]!.filename);
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
    await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', tarball],
      { cwd: app, timeout: 150_000 },
    );
    const sqlite = execFileSync('bash', [join(ROOT, 'scripts/sqlite-native.sh'), process.execPath], {
      encoding: 'utf8',
    }).trim();
    const addon = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
    execFileSync('mkdir', ['-p', dirname(join(app, addon))]);
    copyFileSync(join(sqlite, addon), join(app, addon));
    // No opa anywhere on PATH, nothing of the clone's: node and npm only.
    const path = (process.env['PATH'] ?? '')
      .split(delimiter)
      .filter((d) => d && !d.startsWith(ROOT) && !isExecutable(join(d, 'opa')));
    env = {
      PATH: [dirname(process.execPath), ...path].join(delimiter),
      HOME: process.env['HOME'] ?? '',
      npm_config_prefer_offline: 'true',
      npm_config_update_notifier: 'false',
    };
  }, 240_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the tarball holds what run time needs: dist, pre-built policy, policy/, schema, dashboard, both bins', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    for (const f of [
      'dist/cli/main.js',
      'dist/policy/shipped.tar.gz',
      'dist/policy/shipped.json',
      'dist/http/dashboard/client.js',
      'policy/mcp/decision.rego',
      'schema/warden.schema.json',
      'examples/servers/ci.js',
    ]) {
      expect(files, f).toContain(`package/${f}`);
    }
    expect(files.filter((f) => f.startsWith('package/src/') || f.startsWith('package/test/'))).toEqual([]);
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/mcp-warden/package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(installed.bin).toEqual({ warden: 'dist/cli/main.js', 'mcp-warden': 'dist/cli/main.js' });
    expect(() => execFileSync('sh', ['-c', 'command -v opa'], { env })).toThrow(); // the test's premise
  });

  test('npx mcp-warden --version', async () => {
    const { stdout } = await run('npx', ['mcp-warden', '--version'], { cwd: app, env, timeout: 60_000 });
    expect(stdout.trim()).toBe(pkg.version);
  });

  test('init on a Claude Desktop config; its Claude-Desktop-shaped launch (npx -y mcp-warden) serves', async () => {
    const ci = join(app, 'node_modules/mcp-warden/examples/servers/ci.js');
    const calls = join(work, 'calls.jsonl');
    const claude = join(work, 'claude_desktop_config.json');
    writeFileSync(
      claude,
      JSON.stringify(
        { mcpServers: { ci: { command: 'node', args: [ci], env: { WARDEN_EXAMPLE_LOG: calls } } } },
        null,
        2,
      ),
    );
    const init = await run('npx', ['warden', 'init', '--from', claude, '--apply'], { cwd: app, env, timeout: 60_000 });
    expect(init.stderr).toBe('');
    const config = join(app, 'warden.yaml');
    expect(YAML.parse(readFileSync(config, 'utf8')).policy).toEqual({ bundle: 'builtin:shipped', mode: 'monitor' });
    const entry = (
      JSON.parse(readFileSync(claude, 'utf8')) as {
        mcpServers: Record<string, { command: string; args: string[]; env?: Record<string, string> }>;
      }
    ).mcpServers['warden']!;
    expect(entry).toEqual({ command: 'npx', args: ['-y', 'mcp-warden', 'serve', '--config', config] });

    // As Claude Desktop starts it: the entry's command and args, with the installed package resolvable from cwd.
    const transport = new StdioClientTransport({
      command: entry.command,
      args: entry.args,
      env: env as Record<string, string>,
      cwd: app,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const client = new Client({ name: 'claude-ai', version: '0.9.0' });
    try {
      await client.connect(transport).catch((err: unknown) => {
        throw new Error(`warden did not start: ${String(err)}\n${stderr}`);
      });
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('run_tests');
      const result = await client.callTool({ name: 'run_tests', arguments: { service: 'billing-api' } });
      expect(result.isError, textOf(result)).toBeFalsy();
      expect(readJsonl(calls).map((c) => c['tool'])).toEqual(['run_tests']);
      const decision = await eventually(() => readJsonl(join(app, 'data/decisions.jsonl'))[0]);
      const shipped = JSON.parse(
        readFileSync(join(app, 'node_modules/mcp-warden/dist/policy/shipped.json'), 'utf8'),
      ) as { revision: string };
      // The pre-built shipped policy decided:
      expect(decision['bundles']).toEqual({ policy: { revision: shipped.revision } });
      expect(decision['result']).toMatchObject({ allow: true });
    } finally {
      await client.close();
    }
    expect(stderr).not.toMatch(/opa/i);
  });

  test('warden serve on the shipped policy answers a real SDK client and denies what the policy forbids', async () => {
    const dir = mkdtempSync(join(work, 'serve-'));
    const calls = join(dir, 'calls.jsonl');
    const ci = join(app, 'node_modules/mcp-warden/examples/servers/ci.js');
    const config = join(dir, 'warden.yaml');
    writeFileSync(
      config,
      YAML.stringify({
        mcpServers: { ci: { command: 'node', args: [ci], env: { WARDEN_EXAMPLE_LOG: calls } } },
        policy: { bundle: 'builtin:shipped' },
        audit: { store: 'sqlite:./audit.db' },
      }),
    );
    const transport = new StdioClientTransport({
      command: join(app, 'node_modules/.bin/warden'),
      args: ['serve', '--config', config],
      env: env as Record<string, string>,
      cwd: dir,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const client = new Client({ name: 'sdk', version: '1.0.0' });
    try {
      await client.connect(transport).catch((err: unknown) => {
        throw new Error(`warden did not start: ${String(err)}\n${stderr}`);
      });
      const denied = await client.callTool({
        name: 'deploy_to_production',
        arguments: { service: 'api', version: '1.0.0' },
      });
      expect(denied.isError).toBe(true);
      expect(textOf(denied)).toContain('[workflow.step_order]');
      const tests = await client.callTool({ name: 'run_tests', arguments: { service: 'api' } });
      expect(tests.isError, textOf(tests)).toBeFalsy();
      expect(readJsonl(calls).map((c) => c['tool'])).toEqual(['run_tests']);
    } finally {
      await client.close();
    }
    const verify = await run(join(app, 'node_modules/.bin/warden'), ['audit', 'verify', '--config', config, '--json'], {
      cwd: dir,
      env,
    });
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
  });
});

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
