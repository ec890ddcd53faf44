import { afterEach, describe, expect, test } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import YAML from 'yaml';
import {
  CLI,
  EXAMPLES,
  FIXTURES,
  WARDEN_NODE,
  eventually,
  readJsonl,
  tempDir,
  textOf,
  wardenEnv,
} from '../helpers/warden.js';

const CLIENTS = join(FIXTURES, 'clients');

/** Runs the built CLI in `cwd` with pipes (not a terminal), HOME pointing at an empty directory. */
async function warden(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = join(cwd, '.home');
  mkdirSync(home, { recursive: true });
  try {
    const r = await promisify(execFile)(WARDEN_NODE, [CLI, ...args], {
      cwd,
      env: wardenEnv({ HOME: home, ...env }),
      timeout: 30_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function backups(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.bak'));
}

// Real-shaped configs of the three clients (test/fixtures/clients), each copied to a temp dir.
const CASES = {
  'Claude Desktop': {
    copy: (dir: string) => cpSync(join(CLIENTS, 'claude_desktop_config.json'), join(dir, 'claude_desktop_config.json')),
    file: 'claude_desktop_config.json',
    args: ['--from', 'claude_desktop_config.json'],
    fronted: ['filesystem', 'github', 'postgres'],
    kept: [] as string[],
    secrets: { GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_exampleexampleexampleexample0000' } as Record<string, string>,
    check: (servers: Record<string, Record<string, unknown>>) => {
      expect(servers['github']!['env']).toEqual({ GITHUB_PERSONAL_ACCESS_TOKEN: '${GITHUB_PERSONAL_ACCESS_TOKEN:-}' });
      expect(servers['postgres']!['env']).toEqual({ PGSSLMODE: 'disable', LOG_LEVEL: 'debug' }); // not secrets: copied
      expect(servers['filesystem']!['cwd']).toBeUndefined();
    },
  },
  Cursor: {
    copy: (dir: string) => cpSync(join(CLIENTS, 'cursor'), dir, { recursive: true }),
    file: '.cursor/mcp.json',
    args: [] as string[], // found in its usual place: .cursor/mcp.json of the current folder
    fronted: ['playwright', 'linear', 'userjot', 'docs'],
    kept: ['legacy-sse'],
    secrets: { LINEAR_AUTHORIZATION: 'lin_api_exampleexampleexample0000' } as Record<string, string>,
    check: (servers: Record<string, Record<string, unknown>>, dir: string, launch: Record<string, unknown>) => {
      expect(servers['linear']).toEqual({
        url: 'https://mcp.linear.app/mcp',
        headers: { Authorization: 'Bearer ${LINEAR_AUTHORIZATION:-}' },
      });
      expect(servers['userjot']!['headers']).toEqual({ Authorization: 'Bearer ${USERJOT_API_TOKEN:-}' });
      expect(servers['docs']).toMatchObject({
        args: ['${workspaceFolder:-}/tools/docs-server.js'],
        env: { DOCS_API_KEY: '${DOCS_API_KEY:-}', DOCS_MODE: 'local' },
        cwd: dir,
      });
      // Cursor keeps resolving its own placeholders, and hands the results to Warden.
      expect(launch['env']).toMatchObject({
        USERJOT_API_TOKEN: '${env:USERJOT_API_TOKEN}',
        workspaceFolder: '${workspaceFolder}',
        DOCS_API_KEY: '${env:DOCS_API_KEY}',
      });
    },
  },
  'VS Code': {
    copy: (dir: string) => cpSync(join(CLIENTS, 'vscode'), dir, { recursive: true }),
    file: '.vscode/mcp.json',
    args: ['--from', '.vscode/mcp.json'],
    fronted: ['perplexity', 'fetch', 'github'],
    kept: ['events'],
    secrets: { GITHUB_X_API_KEY: 'example-example-example-key' } as Record<string, string>,
    check: (
      servers: Record<string, Record<string, unknown>>,
      _dir: string,
      launch: Record<string, unknown>,
      client: Record<string, unknown>,
    ) => {
      expect(servers['perplexity']!['env']).toEqual({ PERPLEXITY_API_KEY: '${PERPLEXITY_KEY:-}' });
      expect(servers['fetch']!['env']).toEqual({
        FETCH_USER_AGENT: '${FETCH_USER_AGENT:-}',
        FETCH_PROXY: '${FETCH_PROXY:-}',
      });
      expect(launch).toMatchObject({
        type: 'stdio',
        envFile: '${workspaceFolder}/.env',
        env: { PERPLEXITY_KEY: '${input:perplexity-key}' },
      });
      expect(client['inputs']).toEqual([
        { type: 'promptString', id: 'perplexity-key', description: 'Perplexity API Key', password: true },
      ]);
    },
  },
};

describe('warden init on real-shaped client configs', () => {
  test.each(Object.entries(CASES))(
    '%s: warden.yaml fronts the servers in monitor mode; --apply rewrites the client, and again changes nothing',
    async (_name, c) => {
      const dir = tempDir('init');
      c.copy(dir);
      const original = readFileSync(join(dir, c.file), 'utf8');

      const preview = await warden(['init', ...c.args], dir);
      expect(preview.code, preview.stderr).toBe(0);
      expect(preview.stderr).toBe(''); // not a terminal: no progress, no noise
      expect(readFileSync(join(dir, c.file), 'utf8')).toBe(original); // without --apply the client is untouched
      const yamlText = readFileSync(join(dir, 'warden.yaml'), 'utf8');
      const config = YAML.parse(yamlText) as {
        mcpServers: Record<string, Record<string, unknown>>;
        policy: Record<string, unknown>;
        identity: Record<string, unknown>;
        audit: Record<string, unknown>;
        decisionLogs: Record<string, unknown>;
      };
      expect(Object.keys(config.mcpServers)).toEqual(c.fronted);
      expect(config.policy).toEqual({ bundle: 'builtin:shipped', mode: 'monitor' });
      // The local user holds the role the shipped access.yaml asks of a deploy.
      expect(config.identity).toEqual({ roles: ['developer'] });
      expect(config.audit).toEqual({ store: 'sqlite:./data/audit.db' });
      expect(config.decisionLogs).toEqual({ file: './data/decisions.jsonl' });
      // How to open the dashboard:
      expect(yamlText).toContain(`npx -y mcp-warden serve --config ${join(dir, 'warden.yaml')} --http 8780`);
      for (const value of Object.values(c.secrets)) {
        expect(yamlText).not.toContain(value);
        expect(preview.stdout).not.toContain(value); // the printed diff masks them
      }

      const applied = await warden(['init', ...c.args, '--apply'], dir);
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stdout).toContain(`${join(dir, 'warden.yaml')} is up to date`);
      expect(applied.stdout).toMatch(/^--- a\/.*\n\+\+\+ b\//m);
      const rewritten = readFileSync(join(dir, c.file), 'utf8');
      const key = c.file.includes('.vscode') ? 'servers' : 'mcpServers';
      const client = (await import('../../dist/cli/jsonc.js')).parseJsonc(rewritten).value as Record<
        string,
        Record<string, Record<string, unknown>>
      >;
      expect(Object.keys(client[key]!)).toEqual(['warden', ...c.kept]);
      const launch = client[key]!['warden']!;
      expect(launch['command']).toBe('npx');
      expect(launch['args']).toEqual(['-y', 'mcp-warden', 'serve', '--config', join(dir, 'warden.yaml')]);
      expect(launch['env']).toMatchObject(c.secrets); // the secrets stay in the client's file, where they were
      c.check(config.mcpServers, dir, launch, client as Record<string, unknown>);
      const dirOfClient = join(dir, c.file, '..');
      expect(backups(dirOfClient)).toHaveLength(1);
      expect(readFileSync(join(dirOfClient, backups(dirOfClient)[0]!), 'utf8')).toBe(original);
      // Comments outside the servers object stay.
      if (c.file.includes('.vscode')) expect(rewritten).toContain('// Servers for this workspace');

      const again = await warden(['init', ...c.args, '--apply'], dir);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('already launches Warden');
      expect(readFileSync(join(dir, c.file), 'utf8')).toBe(rewritten);
      expect(readFileSync(join(dir, 'warden.yaml'), 'utf8')).toBe(yamlText);
      expect(backups(dirOfClient)).toHaveLength(1);
    },
  );

  test.each<[string, string, RegExp]>([
    [
      'not JSON',
      '{\n  "mcpServers": {\n    "a": { "command": "x" }\n    "b": {}\n  }\n}\n',
      /is not valid JSON: line 4, column 5: expected ',' or '}' after the value of "a".*Fix: correct it there/,
    ],
    ['no servers', '{ "mcpServers": {} }', /lists no MCP servers under "mcpServers".*Fix: add your servers/],
    [
      'unknown shape',
      '{ "tools": [] }',
      /has neither "mcpServers" nor "servers".*Fix: pass --from with a Claude Desktop claude_desktop_config\.json/,
    ],
    [
      'only SSE servers',
      '{ "servers": { "e": { "type": "sse", "url": "http://127.0.0.1:1/sse" } } }',
      /no server Warden can front \(e: it uses the SSE transport.*Fix:/,
    ],
  ])('%s: the error names the file and the fix, and nothing is written', async (_name, text, message) => {
    const dir = tempDir('init-bad');
    writeFileSync(join(dir, 'mcp.json'), text);
    const r = await warden(['init', '--from', 'mcp.json', '--apply'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(join(dir, 'mcp.json'));
    expect(r.stderr).toMatch(message);
    expect(readdirSync(dir).sort()).toEqual(['.home', 'mcp.json']);
  });

  test('nothing found, or several configs found: says where it looked and how to pick one', async () => {
    const dir = tempDir('init-find');
    const none = await warden(['init'], dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(join(dir, '.cursor', 'mcp.json'));
    expect(none.stderr).toContain(join(dir, '.home', '.config', 'Claude', 'claude_desktop_config.json'));
    expect(none.stderr).toMatch(/Fix: pass --from/);
    cpSync(join(CLIENTS, 'cursor'), dir, { recursive: true });
    cpSync(join(CLIENTS, 'vscode'), dir, { recursive: true });
    const two = await warden(['init'], dir);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(
      new RegExp(
        'found several MCP client configs: .*\\.cursor/mcp\\.json \\(Cursor\\), ' +
          '.*\\.vscode/mcp\\.json \\(VS Code\\)\\. Fix: pick one with --from',
      ),
    );
  });

  test('an existing warden.yaml that differs is not overwritten without --force (then a backup is kept)', async () => {
    const dir = tempDir('init-force');
    cpSync(join(CLIENTS, 'claude_desktop_config.json'), join(dir, 'claude_desktop_config.json'));
    writeFileSync(join(dir, 'warden.yaml'), '# mine\n');
    const refused = await warden(['init', '--from', 'claude_desktop_config.json'], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/warden\.yaml already exists and differs .*Fix: pass --force/);
    expect(readFileSync(join(dir, 'warden.yaml'), 'utf8')).toBe('# mine\n');
    const forced = await warden(['init', '--from', 'claude_desktop_config.json', '--force'], dir);
    expect(forced.code, forced.stderr).toBe(0);
    expect(backups(dir).map((f) => readFileSync(join(dir, f), 'utf8'))).toEqual(['# mine\n']);
  });
});

// From a Claude Desktop config to a governed session: init in monitor mode, the client's launch
// entry started as Claude Desktop would start it, a call the shipped policy would deny, then
// `warden policy enforce` and the same call denied.
describe('warden init → serve (monitor) → policy enforce', () => {
  let client: Client | undefined;
  afterEach(async () => {
    await client?.close();
    client = undefined;
  });

  /** Starts the client config's Warden entry as the client would (through node instead of npx: no registry here). */
  async function launch(clientConfig: string, cwd: string): Promise<{ client: Client; stderr: () => string }> {
    const entry = (
      JSON.parse(readFileSync(clientConfig, 'utf8')) as {
        mcpServers: { warden: { args: string[]; env?: Record<string, string> } };
      }
    ).mcpServers.warden;
    expect(entry.args.slice(0, 3)).toEqual(['-y', 'mcp-warden', 'serve']);
    const transport = new StdioClientTransport({
      command: WARDEN_NODE,
      args: [CLI, ...entry.args.slice(2)],
      env: wardenEnv({ HOME: cwd, ...entry.env }),
      cwd,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const c = new Client({ name: 'claude-ai', version: '0.9.0' });
    await c.connect(transport).catch((err: unknown) => {
      throw new Error(`warden did not start: ${String(err)}\n${stderr}`);
    });
    return { client: c, stderr: () => stderr };
  }

  test('monitor lets a would-deny call through and logs it; after enforce the same call is denied', async () => {
    const dir = tempDir('init-flow');
    const calls = join(dir, 'calls.jsonl');
    const claude = join(dir, 'claude_desktop_config.json');
    writeFileSync(
      claude,
      JSON.stringify(
        {
          mcpServers: {
            ci: {
              command: process.execPath,
              args: [join(EXAMPLES, 'ci.js')],
              env: { WARDEN_EXAMPLE_LOG: calls, CI_API_TOKEN: 'tok_0123456789abcdef' },
            },
          },
        },
        null,
        2,
      ),
    );
    const init = await warden(['init', '--from', claude, '--apply'], dir);
    expect(init.code, init.stderr).toBe(0);
    const config = join(dir, 'warden.yaml');
    expect(YAML.parse(readFileSync(config, 'utf8')).mcpServers.ci.env).toEqual({
      WARDEN_EXAMPLE_LOG: calls,
      CI_API_TOKEN: '${CI_API_TOKEN:-}',
    });

    const monitored = await launch(claude, dir);
    client = monitored.client;
    const deploy = { name: 'deploy_to_production', arguments: { service: 'billing-api', version: '2.4.0' } };
    const allowed = await client.callTool(deploy);
    expect(allowed.isError, textOf(allowed)).toBeFalsy();
    expect(readJsonl(calls).map((c) => c['tool'])).toEqual(['deploy_to_production']); // it reached the server
    const logged = await eventually(() =>
      readJsonl(join(dir, 'data/decisions.jsonl')).find(
        (d) => (d['input'] as { call: { tool: string } }).call.tool === 'deploy_to_production',
      ),
    );
    const stepOrder = expect.arrayContaining([
      expect.objectContaining({
        rule: 'workflow.step_order',
        message: expect.stringMatching(/^run_tests must succeed/),
      }),
    ]);
    expect(logged['result']).toMatchObject({ allow: false, reasons: stepOrder });
    expect(logged['custom']).toMatchObject({ mode: 'monitor', allow: true, would_deny: stepOrder });
    await client.close();
    client = undefined;

    // The dashboard, as init says to start it: by hand, without the client's secrets, on the same trail.
    const dash = spawn(process.execPath, [CLI, 'serve', '--config', config, '--http', '0'], {
      cwd: dir,
      env: { PATH: process.env['PATH'] ?? '', HOME: dir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let log = '';
      dash.stderr.on('data', (c: Buffer) => (log += c.toString('utf8')));
      const port = await eventually(() => /"warden serving on http".*"port":(\d+)/.exec(log)?.[1], 30_000).catch(() => {
        throw new Error(`the dashboard did not start:\n${log}`);
      });
      const decisions = (await (await fetch(`http://127.0.0.1:${port}/admin/decisions`)).json()) as {
        decisions: { name: string; monitored: { rule: string }[] }[];
      };
      expect(decisions.decisions.find((d) => d.name === 'deploy_to_production')?.monitored).toEqual(stepOrder);
    } finally {
      dash.kill('SIGTERM');
    }

    const before = readFileSync(config, 'utf8');
    const enforce = await warden(['policy', 'enforce', '--config', config], dir);
    expect(enforce.code, enforce.stderr).toBe(0);
    expect(enforce.stdout).toContain(`${config}: policy.mode monitor → enforce`);
    const after = readFileSync(config, 'utf8');
    // One word changed, every comment kept:
    expect(after).toBe(before.replace(/^ {2}mode: monitor #/m, '  mode: enforce #'));
    expect((await warden(['policy', 'enforce', '--config', config], dir)).stdout).toContain(
      'already enforce; nothing changed',
    );

    const enforced = await launch(claude, dir);
    client = enforced.client;
    const denied = await client.callTool(deploy);
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toMatch(
      /run_tests must succeed for service=billing-api before deploy_to_production .*\[workflow\.step_order\]/,
    );
    expect(readJsonl(calls)).toHaveLength(1); // the denied call never reached the server
  });
});
