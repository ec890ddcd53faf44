import { afterEach, describe, expect, test } from 'vitest';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openAuditStore } from '../../src/audit/index.js';
import { type PolicyStatus } from '../../src/policy/index.js';
import { findOpa } from '../../src/bundles/index.js';
import {
  CLI,
  SERVERS,
  eventually,
  nodeServer,
  startWarden,
  tempDir,
  textOf,
  type RunningWarden,
} from '../helpers/warden.js';
import {
  BundleServer,
  copyFixture,
  decisionRego,
  keyPair,
  opaBuild,
  policyDir,
  until,
  writeTree,
} from '../policy/bundle-helpers.js';

const run = promisify(execFile);
const warden = (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
  run(process.execPath, [CLI, ...args], { env: { ...process.env }, timeout: 30_000 });

let running: RunningWarden | null = null;
const servers: BundleServer[] = [];
afterEach(async () => {
  await running?.close();
  running = null;
  for (const s of servers.splice(0)) await s.stop();
});

const faulty = (): Record<string, unknown> => nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG');
const decisions = (
  w: RunningWarden,
): {
  decision_id: string;
  bundles: Record<string, { revision: string }>;
  result: { marker?: string; allow?: boolean };
  input: { call: { name: string } };
}[] => w.decisions() as never;

describe('hot swap through the running proxy', () => {
  test('a continuous stream of calls: none fails, each decision is wholly the old or the new revision, in the log and the audit trail', async () => {
    const dir = policyDir('e2e-swap', { marker: 'v1' });
    running = await startWarden({ mcpServers: { faulty: faulty() }, policy: { bundle: dir, watch: true } });
    const w = running;
    const results: { ok: boolean; text: string }[] = [];
    let stop = false;
    const stream = async (lane: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const r = await w.client.callTool({ name: 'echo', arguments: { message: `lane ${lane} call ${i}` } });
        results.push({ ok: !r.isError, text: textOf(r) });
      }
    };
    const lanes = [0, 1, 2, 3].map(stream);
    await until(() => results.length >= 40, 10_000, 'calls before the swap');
    const status0 = JSON.parse(readFileSync(join(w.dir, 'policy-status.json'), 'utf8')) as PolicyStatus;
    const r1 = status0.active!.revision;
    writeFileSync(join(dir, 'mcp/decision.rego'), decisionRego({ marker: 'v2' }));
    await until(
      () => decisions(w).some((d) => d.bundles['policy']?.revision !== r1),
      10_000,
      'first decision by the new revision',
    );
    const atSwap = results.length;
    await until(() => results.length >= atSwap + 40, 10_000, 'calls after the swap');
    stop = true;
    await Promise.all(lanes);

    expect(results.filter((r) => !r.ok)).toEqual([]);
    const logged = await eventually(() => (decisions(w).length === results.length ? decisions(w) : undefined), 10_000);
    const r2 = JSON.parse(readFileSync(join(w.dir, 'policy-status.json'), 'utf8')).active.revision as string;
    expect(r2).not.toBe(r1);
    // Each record names exactly one revision, and its result is that revision's: never a mix.
    for (const d of logged) {
      expect(Object.keys(d.bundles)).toEqual(['policy']);
      const rev = d.bundles['policy']!.revision;
      expect([r1, r2]).toContain(rev);
      expect(d.result.marker).toBe(rev === r1 ? 'v1' : 'v2');
    }
    expect(new Set(logged.map((d) => d.bundles['policy']!.revision))).toEqual(new Set([r1, r2]));
    expect(w.stderr()).toMatch(/"message":"policy activated".*"previous_revision":"sha256:[0-9a-f]{12}"/);

    await w.close();
    running = null;
    const store = await openAuditStore(`sqlite:${join(w.dir, 'audit.db')}`, { readOnly: true });
    try {
      const decided = (await store.read({})).filter((r) => r.type === 'call.decided');
      const byId = new Map(logged.map((d) => [d.decision_id, d.bundles['policy']!.revision]));
      expect(decided).toHaveLength(logged.length);
      for (const r of decided) expect(r.data['revision']).toBe(byId.get(String(r.data['decision_id'])));
    } finally {
      await store.close();
    }
  });

  test('a refused bundle leaves the active one; warden policy status shows the error with file:line; rollback through the CLI', async () => {
    const dir = policyDir('e2e-cli', { marker: 'v1', deny: 'count' });
    running = await startWarden({ mcpServers: { faulty: faulty() }, policy: { bundle: dir, watch: true } });
    const w = running;
    const statusOf = async (): Promise<PolicyStatus> =>
      JSON.parse((await warden('policy', 'status', '--config', w.configPath, '--json')).stdout) as PolicyStatus;
    const v1 = (await statusOf()).active!.revision;

    writeFileSync(join(dir, 'mcp/decision.rego'), decisionRego({ marker: 'v2', deny: 'echo' }));
    const v2 = await eventually(() => {
      const s = JSON.parse(readFileSync(join(w.dir, 'policy-status.json'), 'utf8')) as PolicyStatus;
      return s.active!.revision !== v1 ? s.active!.revision : undefined;
    }, 10_000);
    expect((await w.client.callTool({ name: 'echo', arguments: { message: 'hi' } })).isError).toBe(true);

    writeFileSync(join(dir, 'mcp/decision.rego'), 'package mcp\n\ndecision := {\n');
    await eventually(
      () => (JSON.parse(readFileSync(join(w.dir, 'policy-status.json'), 'utf8')) as PolicyStatus).last_error,
      10_000,
    );
    const human = (await warden('policy', 'status', '--config', w.configPath)).stdout;
    expect(human).toContain(`active:   ${v2}`);
    expect(human).toMatch(
      new RegExp(
        `last error: .* bundle policy: policy_compile_failed at ${join(dir, 'mcp/decision.rego').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+`,
      ),
    );
    expect(human).toMatch(/refused\s+policy policy_compile_failed/);
    expect(w.stderr()).toMatch(/policy bundle refused; the active policy stays/);
    expect((await w.client.callTool({ name: 'echo', arguments: { message: 'still v2' } })).isError).toBe(true);

    const rolled = await warden('policy', 'rollback', '--config', w.configPath);
    expect(rolled.stdout).toContain(`ok: rolled back from ${v2} to ${v1}`);
    const echo = await w.client.callTool({ name: 'echo', arguments: { message: 'back on v1' } });
    expect(textOf(echo)).toBe('back on v1');
    const last = decisions(w).at(-1)!;
    expect(last.bundles['policy']!.revision).toBe(v1);
    expect((await statusOf()).active).toMatchObject({ revision: v1, reason: 'rollback' });
    // Nothing older to go back to: says so, exit 1.
    const again = spawnSync(process.execPath, [CLI, 'policy', 'rollback', '--config', w.configPath], {
      encoding: 'utf8',
    });
    expect(again.status).toBe(1);
    expect(again.stdout).toMatch(/failed: there is no previous revision/);
  });
});

describe('bundle service, several bundles, signatures: end to end', () => {
  test('base policy from a bundle service + team data from a directory; the decision log lists both revisions', async () => {
    const server = new BundleServer('/bundles/base');
    servers.push(server);
    await server.start();
    server.publish(
      readFileSync(opaBuild(copyFixture('base'), join(tempDir('base-out'), 'base.tar.gz'), { revision: 'base-7' })),
    );
    const team = copyFixture('team-payments');
    running = await startWarden({
      mcpServers: { faulty: faulty() },
      identity: { sub: 'pat', claims: { team: 'payments' } },
      policy: {
        services: {
          platform: { url: `http://127.0.0.1:${server.port}`, credentials: { bearer: { token: 'sekrit' } } },
        },
        bundles: {
          base: {
            service: 'platform',
            resource: 'bundles/base',
            polling: { min_delay_seconds: 0.1, max_delay_seconds: 0.2 },
          },
          team: { path: team, watch: true },
        },
      },
    });
    const w = running;
    await w.client.callTool({ name: 'echo', arguments: { message: 'x' } });
    const first = await eventually(() => decisions(w)[0]);
    expect(Object.keys(first.bundles).sort()).toEqual(['base', 'team']);
    expect(first.bundles['base']!.revision).toBe('base-7');
    expect(server.requests[0]!.auth).toBe('Bearer sekrit');

    server.publish(
      readFileSync(opaBuild(copyFixture('base'), join(tempDir('base-out'), 'base.tar.gz'), { revision: 'base-8' })),
    );
    await eventually(
      () =>
        (JSON.parse(readFileSync(join(w.dir, 'policy-status.json'), 'utf8')) as PolicyStatus).active!.bundles['base']!
          .revision === 'base-8',
      10_000,
    );
    await w.client.callTool({ name: 'echo', arguments: { message: 'y' } });
    const second = await eventually(() => decisions(w)[1]);
    expect(second.bundles['base']!.revision).toBe('base-8');
    expect(second.bundles['team']!.revision).toBe(first.bundles['team']!.revision);
  });

  test('verification configured: a signed bundle starts; an unsigned one is refused at start with the reason', async () => {
    const dir = tempDir('e2e-signed');
    const keys = keyPair(dir, 'EdDSA');
    const src = policyDir('e2e-signed-src', { marker: 'signed' });
    const signed = opaBuild(src, join(dir, 'signed.tar.gz'), {
      signingKey: keys.privateKey,
      alg: 'EdDSA',
      revision: 'signed-1',
    });
    const verification = { keys: { default: { algorithm: 'EdDSA', key_file: keys.publicKey } } };
    running = await startWarden({ mcpServers: { faulty: faulty() }, policy: { bundle: signed, verification } });
    expect(textOf(await running.client.callTool({ name: 'echo', arguments: { message: 'signed ok' } }))).toBe(
      'signed ok',
    );
    await running.close();
    running = null;

    const unsigned = opaBuild(src, join(dir, 'unsigned.tar.gz'));
    const cfg = join(dir, 'warden.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        mcpServers: { faulty: { command: process.execPath, args: [join(SERVERS, 'faulty.js')] } },
        policy: { bundle: unsigned, verification },
        audit: { store: 'memory:' },
      }),
    );
    const r = spawnSync(process.execPath, [CLI, 'serve', '--config', cfg], {
      encoding: 'utf8',
      input: '',
      timeout: 30_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/has no \.signatures\.json but policy\.verification is configured, so it is refused/);
  });

  // Issue 11, break 2: a signed directory without .manifest; opa build loads every .json in it as
  // data, and `zzsignatures.json` used to skip the digest check because its name ends like the
  // signatures file's. The attacker can write to the policy directory but not sign.
  test('signed directory: an unsigned zzsignatures.json exempting a denied tool is refused', async () => {
    const dir = tempDir('e2e-signed-dir');
    const keys = keyPair(dir, 'RS256');
    const policy = writeTree(join(dir, 'policy'), {
      'mcp/decision.rego': `package mcp

default decision := {"allow": true, "reasons": [], "obligations": {}}

decision := {"allow": false, "reasons": [{"rule": "test.denied", "message": "echo is denied"}], "obligations": {}} if {
\tinput.call.name == "echo"
\tnot data.exempt.echo
}
`,
      'data.json': '{"owner": "platform"}',
    });
    execFileSync(findOpa(), ['sign', '--signing-key', keys.privateKey, '--bundle', '.'], { cwd: policy });
    const verification = { keys: { ci: { algorithm: 'RS256', key_file: keys.publicKey } } };
    const config = { mcpServers: { faulty: faulty() }, policy: { bundle: policy, watch: true, verification } };
    running = await startWarden(config);
    const w = running;
    const status = (): PolicyStatus =>
      JSON.parse(readFileSync(join(w.dir, 'policy-status.json'), 'utf8')) as PolicyStatus;
    const before = status().active!.revision;
    const denied = await w.client.callTool({ name: 'echo', arguments: { message: 'blocked' } });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toContain('echo is denied');

    writeFileSync(join(policy, 'zzsignatures.json'), '{"exempt": {"echo": true}}');
    // Either outcome ends the wait: the refusal (fixed), or the activation (the break).
    await eventually(() => status().last_error !== null || status().active!.revision !== before, 15_000);
    const still = await w.client.callTool({ name: 'echo', arguments: { message: 'still blocked' } });
    expect(textOf(still)).toContain('echo is denied');
    expect(w.executed().filter((c) => c.tool === 'echo')).toEqual([]);
    expect(status().active!.revision).toBe(before);
    expect(status().last_error).toMatchObject({ code: 'policy_signature_invalid' });
    expect(status().last_error!.message).toContain('file zzsignatures.json not included in bundle signature');
    const refusal = w
      .stderr()
      .split('\n')
      .find((l) => l.includes('policy bundle refused; the active policy stays'));
    expect(refusal).toContain('file zzsignatures.json not included in bundle signature');
    await w.close();
    running = null;

    // The same directory at start: Warden refuses to start on it, naming the file.
    const cfg = join(dir, 'warden.json');
    const faultyServer = { command: process.execPath, args: [join(SERVERS, 'faulty.js')] };
    const audit = { store: 'memory:' };
    const atStart = { mcpServers: { faulty: faultyServer }, policy: { bundle: policy, verification }, audit };
    writeFileSync(cfg, JSON.stringify(atStart));
    const serve = [CLI, 'serve', '--config', cfg];
    const r = spawnSync(process.execPath, serve, { encoding: 'utf8', input: '', timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('file zzsignatures.json not included in bundle signature');
  });
});
