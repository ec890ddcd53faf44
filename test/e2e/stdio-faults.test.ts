import { afterEach, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import {
  CLI,
  POLICIES,
  SERVERS,
  eventually,
  nodeServer,
  startWarden,
  tempDir,
  textOf,
  type RunningWarden,
} from '../helpers/warden.js';

let running: RunningWarden | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const faulty = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG', extra);

describe('fail closed on every policy failure', () => {
  test.each([
    ['eval-error', 'policy_eval_error', /evaluation failed/],
    ['undefined', 'policy_undefined', /undefined for this input/],
    ['bad-shape', 'policy_bad_decision', /does not have the expected shape/],
  ])(
    '%s: the call is denied, says what broke, never reaches the server, and is logged',
    async (fixture, code, message) => {
      running = await startWarden({ mcpServers: { faulty: faulty() }, policy: { bundle: join(POLICIES, fixture) } });
      const result = await running.client.callTool({ name: 'echo', arguments: { message: 'x' } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/policy failed \(fail closed\)/);
      expect(textOf(result)).toMatch(message);
      expect(textOf(result)).toContain(`warden.${code}`);
      expect(running.executed().filter((c) => c.tool === 'echo')).toHaveLength(0);
      const logged = await eventually(() => running!.decisions()[0]);
      expect(logged['error']).toMatchObject({ code });
      expect(logged['custom']).toMatchObject({ allow: false });
    },
  );

  test('monitor mode: a policy error is logged and the call allowed', async () => {
    running = await startWarden({
      mcpServers: { faulty: faulty() },
      policy: { bundle: join(POLICIES, 'core'), mode: 'monitor' },
    });
    const result = await running.client.callTool({ name: 'echo', arguments: { message: 'forbidden' } });
    expect(textOf(result)).toBe('forbidden');
    const logged = await eventually(() => running!.decisions()[0]);
    expect(logged['result']).toMatchObject({ allow: false });
    expect(logged['custom']).toMatchObject({
      mode: 'monitor',
      allow: true,
      would_deny: [{ rule: 'core.no_forbidden_echo' }],
    });
  });
});

describe('start-up errors name the problem and the fix', () => {
  function serve(
    config: Record<string, unknown> | string,
    name = 'warden.yaml',
  ): { code: number | null; stderr: string } {
    const dir = tempDir('badcfg');
    const path = join(dir, name);
    writeFileSync(path, typeof config === 'string' ? config : YAML.stringify(config));
    const r = spawnSync(process.execPath, [CLI, 'serve', '--config', path], {
      encoding: 'utf8',
      input: '',
      timeout: 30_000,
      env: { ...process.env, CI_TOKEN: '' },
    });
    return { code: r.status, stderr: r.stderr };
  }
  const minimal = (): Record<string, unknown> => ({
    mcpServers: { faulty: { command: process.execPath, args: [join(SERVERS, 'faulty.js')] } },
    policy: { bundle: join(POLICIES, 'allow-all') },
    audit: { store: 'memory:' },
  });

  test.each<[string, Record<string, unknown> | string, RegExp]>([
    ['unknown key', { ...minimal(), polciy: {} }, /polciy: unknown key\. Fix: remove it or use one of: .*policy/],
    [
      'wrong type',
      { ...minimal(), policy: { bundle: join(POLICIES, 'allow-all'), mode: 'strict' } },
      /policy\.mode: must be one of "enforce", "monitor"/,
    ],
    [
      'neither command nor url',
      { ...minimal(), mcpServers: { crm: { args: ['x'] } } },
      /mcpServers\.crm: has neither command nor url/,
    ],
    [
      'missing bundle',
      { ...minimal(), policy: { bundle: '/nonexistent/policy' } },
      /policy\.bundle: \/nonexistent\/policy does not exist/,
    ],
    [
      'unset env var',
      {
        ...minimal(),
        mcpServers: { ci: { url: 'http://127.0.0.1:1/mcp', headers: { Authorization: 'Bearer ${CI_TOKEN}' } } },
      },
      /mcpServers\.ci\.headers\.Authorization: environment variable CI_TOKEN is not set/,
    ],
    [
      'bad store url',
      { ...minimal(), audit: { store: 'mysql://x' } },
      /audit\.store: .*use sqlite:PATH, postgres:\/\/\.\.\. or memory:/,
    ],
    ['YAML syntax', 'mcpServers: [unclosed', /is not valid YAML/],
  ])('%s', (_name, config, expected) => {
    const r = serve(config);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(expected);
  });

  test('a missing config file', () => {
    const r = spawnSync(process.execPath, [CLI, 'serve', '--config', '/nonexistent/warden.yaml'], {
      encoding: 'utf8',
      input: '',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/config file not found: \/nonexistent\/warden\.yaml\. Fix: pass --config/);
  });

  // Downstream servers start when the client initializes (with the client's capabilities): the
  // client's initialize fails with the reason, which Warden also logs before exiting.
  async function initializeError(config: Record<string, unknown>): Promise<string> {
    const err = await startWarden(config).then(
      async (w) => {
        await w.close();
        return new Error('warden started');
      },
      (e: unknown) => e as Error,
    );
    return err.message;
  }

  test('a server that cannot start: names the server and its stderr tail', async () => {
    const dir = tempDir('crashy');
    const script = join(dir, 'crashy.js');
    writeFileSync(script, "process.stderr.write('crashy: cannot open database /var/db/x\\n'); process.exit(4);\n");
    const message = await initializeError({
      ...minimal(),
      mcpServers: { crashy: { command: process.execPath, args: [script] } },
    });
    expect(message).toMatch(/downstream server "crashy" .* could not be started/);
    expect(message).toContain('crashy: cannot open database /var/db/x');
    // Once in the initialize error the client sees, once in Warden's own log on stderr.
    expect(message.split('crashy: cannot open database').length - 1).toBeGreaterThanOrEqual(2);
  });

  test('two servers offering one tool name: names both and suggests a prefix', async () => {
    const message = await initializeError({
      ...minimal(),
      mcpServers: {
        faulty: { command: process.execPath, args: [join(SERVERS, 'faulty.js')] },
        other: { command: process.execPath, args: [join(SERVERS, 'clash.js')] },
      },
    });
    expect(message).toMatch(/tool name clash: "echo" is offered by downstream servers "faulty" and "other"/);
    expect(message).toMatch(/set a prefix on one of them/);
  });

  test('a builtin the host does not supply is reported when the bundle loads', () => {
    const r = serve({ ...minimal(), policy: { bundle: join(POLICIES, 'missing-builtin') } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /builtin\(s\) that OPA's Wasm target leaves to the host and Warden does not supply: net\.lookup_ip_addr/,
    );
  });

  test('Rego that does not compile: the error carries file:line', () => {
    const dir = tempDir('badrego');
    writeFileSync(join(dir, 'p.rego'), 'package mcp\n\ndecision := {"allow": true\n');
    const r = serve({ ...minimal(), policy: { bundle: dir } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cannot compile the policy .*p\.rego:\d+/s);
  });
});

describe('downstream faults', () => {
  test('isError, a throw and a timeout each give a clear result; history records error', async () => {
    running = await startWarden({
      mcpServers: { faulty: faulty({ timeoutMs: 500 }) },
      policy: { bundle: join(POLICIES, 'allow-all') },
    });
    const c = running.client;
    const slow = await c.callTool({ name: 'sleep', arguments: { ms: 3000 } });
    expect(slow.isError).toBe(true);
    expect(textOf(slow)).toMatch(/downstream server "faulty" did not answer in time/);
    const after = await c.callTool({ name: 'echo', arguments: { message: 'after timeout' } });
    expect(textOf(after)).toBe('after timeout');
    const logged = await eventually(() =>
      running!
        .decisions()
        .find(
          (d) =>
            (d['input'] as { call: { arguments: { message?: string } } }).call.arguments.message === 'after timeout',
        ),
    );
    const history = (logged['input'] as { history: { name: string; outcome: string }[] }).history;
    expect(history.find((h) => h.name === 'sleep')!.outcome).toBe('error');
  });

  test('a server slower to start than its call timeout still starts; its slow calls still time out', async () => {
    running = await startWarden({
      mcpServers: {
        faulty: nodeServer(join(SERVERS, 'slow-start.js'), '$CALL_LOG', {
          timeoutMs: 300,
          env: { WARDEN_EXAMPLE_LOG: '$CALL_LOG', SLOW_START_MS: '1000' },
        }),
      },
      policy: { bundle: join(POLICIES, 'allow-all') },
    });
    expect(textOf(await running.client.callTool({ name: 'echo', arguments: { message: 'started' } }))).toBe('started');
    const slow = await running.client.callTool({ name: 'sleep', arguments: { ms: 2000 } });
    expect(textOf(slow)).toMatch(/did not answer in time/);
  });

  test('a crashed stdio server is restarted on the next call, the client is told, and Warden keeps serving', async () => {
    const messages: string[] = [];
    running = await startWarden({ mcpServers: { faulty: faulty() }, policy: { bundle: join(POLICIES, 'allow-all') } });
    running.client.setNotificationHandler(
      (await import('@modelcontextprotocol/sdk/types.js')).LoggingMessageNotificationSchema,
      (n) => {
        messages.push(String(n.params.data));
      },
    );
    const first = await running.client.callTool({ name: 'count', arguments: {} });
    expect((first.structuredContent as { count: number }).count).toBe(1);
    const pid = (first.structuredContent as { pid: number }).pid;

    const crashed = await running.client.callTool({ name: 'crash', arguments: {} });
    expect(crashed.isError).toBe(true);
    expect(textOf(crashed)).toMatch(/exited while handling the call; Warden will start it again on the next call/);
    await eventually(() => messages.find((m) => /downstream server "faulty" disconnected/.test(m)));

    const again = await running.client.callTool({ name: 'count', arguments: {} });
    expect(again.isError).toBeFalsy();
    expect((again.structuredContent as { count: number; pid: number }).count).toBe(1);
    expect((again.structuredContent as { pid: number }).pid).not.toBe(pid);
  });
});
