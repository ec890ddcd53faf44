import { afterEach, describe, expect, test } from 'vitest';
import { readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openPolicyRuntime, type RuntimeSpec } from '../../src/bundles/index.js';
import { SMOKE_INPUT, type PolicyEvents, type PolicyRuntime, type PolicyStatus } from '../../src/policy/index.js';
import { tempDir } from '../helpers/warden.js';
import {
  BundleServer,
  copyFixture,
  decisionRego,
  keyPair,
  opaBuild,
  policyDir,
  readTar,
  until,
  writeTar,
  writeTree,
} from './bundle-helpers.js';

const FAST = { debounceMs: 30, pollMs: 200, controlPollMs: 50 } as const;
const input = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...SMOKE_INPUT,
  call: { ...SMOKE_INPUT.call, name, tool: name },
  ...extra,
});

const runtimes: PolicyRuntime[] = [];
const servers: BundleServer[] = [];
afterEach(async () => {
  for (const r of runtimes.splice(0)) r.stop();
  for (const s of servers.splice(0)) await s.stop();
});

function runtime(
  options: Partial<RuntimeSpec> & Pick<RuntimeSpec, 'bundles'>,
  events: PolicyEvents = {},
): PolicyRuntime {
  const r = openPolicyRuntime({ entrypoint: 'mcp/decision', watch: true, ...FAST, ...options }, events);
  runtimes.push(r);
  return r;
}

const marker = async (r: PolicyRuntime, name = 'x'): Promise<unknown> =>
  ((await r.evaluate(input(name))).result as { marker?: string } | undefined)?.marker;

describe('policy directory: watch, debounce, atomic swap', () => {
  test('a change is compiled and swapped in while calls keep being decided, each wholly by one revision', async () => {
    const dir = policyDir('swap', { marker: 'v1' });
    const r = runtime({ bundles: [{ name: 'policy', path: dir }] });
    await r.start();
    const r1 = r.revision!;
    const seen: { revision: string; marker: unknown; error?: string }[] = [];
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        const e = await r.evaluate(input('x'));
        seen.push({
          revision: e.revision,
          marker: (e.result as { marker?: string }).marker,
          ...(e.error ? { error: e.error.message } : {}),
        });
        await new Promise((res) => setImmediate(res));
      }
    })();
    await new Promise((res) => setTimeout(res, 100));
    writeFileSync(join(dir, 'mcp/decision.rego'), decisionRego({ marker: 'v2' }));
    await until(() => r.revision !== r1, 5000, 'swap');
    await new Promise((res) => setTimeout(res, 100));
    stop = true;
    await loop;
    const r2 = r.revision!;
    expect(seen.filter((s) => s.error)).toEqual([]);
    const pairs = new Set(seen.map((s) => `${s.revision}:${String(s.marker)}`));
    expect(pairs).toEqual(new Set([`${r1}:v1`, `${r2}:v2`]));
    // Once the new revision answered, no call went back to the old one.
    const firstNew = seen.findIndex((s) => s.revision === r2);
    expect(seen.slice(firstNew).every((s) => s.revision === r2)).toBe(true);
    expect(r.status().history.map((h) => [h.event, h.reason])).toEqual([
      ['activated', 'start'],
      ['activated', 'update'],
    ]);
  });

  test('editor swap, backup and lock files do not trigger a rebuild; a burst of saves coalesces', async () => {
    const dir = policyDir('editor', { marker: 'v1' });
    let activations = 0;
    const r = runtime({ bundles: [{ name: 'policy', path: dir }] }, { onActivated: () => activations++ });
    await r.start();
    writeFileSync(join(dir, 'mcp/.decision.rego.swp'), 'vim swap');
    writeFileSync(join(dir, 'mcp/decision.rego~'), 'backup');
    writeFileSync(join(dir, 'mcp/4913'), '');
    symlinkSync('alice@host.1234:1700000000', join(dir, 'mcp/.#decision.rego')); // emacs lock: dangling
    writeFileSync(join(dir, 'mcp/#decision.rego#'), 'autosave');
    await new Promise((res) => setTimeout(res, 600));
    expect(activations).toBe(1);
    expect(r.status().last_error).toBeNull();
    // Touching a file without changing it does not rebuild either.
    writeFileSync(join(dir, 'mcp/decision.rego'), readFileSync(join(dir, 'mcp/decision.rego')));
    await new Promise((res) => setTimeout(res, 400));
    expect(activations).toBe(1);
    // Twenty saves in a burst: one or two rebuilds, and the last content wins.
    for (let i = 0; i < 20; i++) {
      writeFileSync(join(dir, 'mcp/decision.rego'), decisionRego({ marker: `burst-${i}` }));
      await new Promise((res) => setTimeout(res, 5));
    }
    await until(async () => (await marker(r)) === 'burst-19', 5000, 'last save active');
    await new Promise((res) => setTimeout(res, 300));
    expect(activations - 1).toBeLessThanOrEqual(3);
    expect(await marker(r)).toBe('burst-19');
  });

  test('an atomic rename (how many editors save) is seen', async () => {
    const dir = policyDir('rename', { marker: 'v1' });
    const r = runtime({ bundles: [{ name: 'policy', path: dir }] });
    await r.start();
    writeFileSync(join(dir, 'mcp/decision.rego.tmp'), decisionRego({ marker: 'renamed' }));
    renameSync(join(dir, 'mcp/decision.rego.tmp'), join(dir, 'mcp/decision.rego'));
    await until(async () => (await marker(r)) === 'renamed', 5000, 'renamed content active');
  });
});

describe('a bad candidate is refused and the active policy stays', () => {
  test('bad Rego: refused with file:line in status, the old revision keeps answering', async () => {
    const dir = policyDir('bad-rego', { marker: 'good' });
    const rejected: string[] = [];
    const r = runtime({ bundles: [{ name: 'policy', path: dir }] }, { onRejected: (e) => rejected.push(e) });
    await r.start();
    const good = r.revision;
    writeFileSync(join(dir, 'mcp/decision.rego'), 'package mcp\n\ndefault decision := {"allow": true\n\nbroken := 1\n');
    await until(() => r.status().last_error, 5000, 'refusal');
    const status = r.status();
    expect(status.last_error).toMatchObject({
      bundle: 'policy',
      code: 'policy_compile_failed',
      location: { file: join(dir, 'mcp/decision.rego'), line: 5 },
    });
    expect(status.last_error!.message).toContain(`${join(dir, 'mcp/decision.rego')}:5: rego_parse_error`);
    expect(status.history.at(-1)).toMatchObject({ event: 'refused', bundle: 'policy' });
    expect(rejected).toHaveLength(1);
    expect(r.revision).toBe(good);
    expect(await marker(r)).toBe('good');
    // Fixed again: swapped in, error cleared.
    writeFileSync(join(dir, 'mcp/decision.rego'), decisionRego({ marker: 'fixed' }));
    await until(async () => (await marker(r)) === 'fixed', 5000, 'fix active');
    expect(r.status().last_error).toBeNull();
  });

  test('bad decision shape: fails the smoke evaluation, refused', async () => {
    const dir = policyDir('bad-shape', { marker: 'good' });
    const r = runtime({ bundles: [{ name: 'policy', path: dir }] });
    await r.start();
    writeFileSync(join(dir, 'mcp/decision.rego'), 'package mcp\n\ndecision := {"allow": "yes"}\n');
    await until(() => r.status().last_error, 5000, 'refusal');
    expect(r.status().last_error).toMatchObject({ code: 'policy_smoke_failed' });
    expect(r.status().last_error!.message).toMatch(/allow/);
    expect(await marker(r)).toBe('good');
  });

  test('bad Wasm in a bundle file: refused, the old bundle keeps answering', async () => {
    const dir = tempDir('bad-wasm');
    const src = policyDir('bad-wasm-src', { marker: 'good' });
    const file = opaBuild(src, join(dir, 'bundle.tar.gz'), { revision: 'good-1' });
    const r = runtime({ bundles: [{ name: 'policy', path: file }] });
    await r.start();
    expect(r.revision).toBe('good-1');
    const files = await readTar(file);
    files.set('policy.wasm', Buffer.from('\0asm not really a module'));
    files.set('.manifest', Buffer.from(files.get('.manifest')!.toString().replace('good-1', 'broken-2')));
    await writeTar(files, join(dir, 'next.tar.gz'));
    renameSync(join(dir, 'next.tar.gz'), file);
    await until(() => r.status().last_error, 5000, 'refusal');
    expect(r.status().last_error).toMatchObject({ code: 'policy_wasm_invalid' });
    expect(r.revision).toBe('good-1');
    expect(await marker(r)).toBe('good');
  });

  test('at start a bad bundle is an error naming it, and status says so', async () => {
    const dir = tempDir('bad-start');
    writeTree(dir, { 'mcp/decision.rego': 'package mcp\ndecision := \n' });
    const statusFile = join(tempDir('status'), 'policy-status.json');
    const r = runtime({ bundles: [{ name: 'policy', path: dir }], statusFile });
    await expect(r.start()).rejects.toThrow(/cannot compile the policy/);
    const status = JSON.parse(readFileSync(statusFile, 'utf8')) as PolicyStatus;
    expect(status.active).toBeNull();
    expect(status.last_error).toMatchObject({ code: 'policy_compile_failed' });
  });
});

describe('rollback', () => {
  test('returns to the previous revision, repeatably; then says there is nothing left', async () => {
    const dir = policyDir('rollback', { marker: 'v1' });
    const r = runtime({ bundles: [{ name: 'policy', path: dir }] });
    await r.start();
    const v1 = r.revision!;
    writeFileSync(join(dir, 'mcp/decision.rego'), decisionRego({ marker: 'v2' }));
    await until(async () => (await marker(r)) === 'v2', 5000, 'v2');
    writeFileSync(join(dir, 'mcp/decision.rego'), decisionRego({ marker: 'v3' }));
    await until(async () => (await marker(r)) === 'v3', 5000, 'v3');
    const v3 = r.revision!;
    expect(r.status().previous.map((p) => p.revision)).toHaveLength(2);
    const back = await r.rollback();
    expect(back.from).toBe(v3);
    expect(await marker(r)).toBe('v2');
    await r.rollback();
    expect(r.revision).toBe(v1);
    expect(await marker(r)).toBe('v1');
    await expect(r.rollback()).rejects.toMatchObject({ code: 'policy_rollback_unavailable' });
    expect(r.status().history.filter((h) => h.event === 'rolled_back')).toHaveLength(2);
    // The source is not rewound: the rolled-back revision stays until the directory changes.
    await new Promise((res) => setTimeout(res, 400));
    expect(await marker(r)).toBe('v1');
    writeFileSync(join(dir, 'mcp/decision.rego'), decisionRego({ marker: 'v4' }));
    await until(async () => (await marker(r)) === 'v4', 5000, 'v4');
  });

  test('through the control file, as `warden policy rollback` asks a running Warden', async () => {
    const dir = policyDir('control', { marker: 'v1' });
    const statusFile = join(tempDir('data'), 'policy-status.json');
    const r = runtime({ bundles: [{ name: 'policy', path: dir }], statusFile });
    await r.start();
    writeFileSync(join(dir, 'mcp/decision.rego'), decisionRego({ marker: 'v2' }));
    await until(async () => (await marker(r)) === 'v2', 5000, 'v2');
    const before = JSON.parse(readFileSync(statusFile, 'utf8')) as PolicyStatus;
    expect(before.active!.reason).toBe('update');
    writeFileSync(
      join(statusFile, '..', 'policy-control.json'),
      JSON.stringify({ id: 'req-1', action: 'rollback', requested_at: new Date().toISOString() }),
    );
    const after = await until(
      () => {
        const s = JSON.parse(readFileSync(statusFile, 'utf8')) as PolicyStatus;
        return s.control?.id === 'req-1' ? s : undefined;
      },
      5000,
      'control handled',
    );
    expect(after.control).toMatchObject({ action: 'rollback', ok: true });
    expect(after.active).toMatchObject({ reason: 'rollback', revision: before.previous[0]!.revision });
    expect(await marker(r)).toBe('v1');
  });
});

describe('several bundles: base policy + team data', () => {
  const payment = (amount: number): Record<string, unknown> =>
    input('payment_processing', {
      call: { ...SMOKE_INPUT.call, name: 'payment_processing', tool: 'payment_processing', arguments: { amount } },
      principal: { sub: 'p', roles: [], claims: { team: 'payments' } },
    });

  test('data from the team bundle reaches the base policy; a data change swaps only what changed', async () => {
    const base = copyFixture('base');
    const team = copyFixture('team-payments');
    const r = runtime({
      bundles: [
        { name: 'base', path: base },
        { name: 'team', path: team },
      ],
    });
    await r.start();
    expect((await r.evaluate(payment(50))).decision.allow).toBe(true);
    const over = await r.evaluate(payment(150));
    expect(over.decision.reasons[0]!.message).toBe('amount 150 is over the payment limit 100 of team payments');
    const status = r.status();
    expect(Object.keys(status.active!.bundles)).toEqual(['base', 'team']);
    // A directory's revision is the hash of its content, so every edit is told apart.
    expect(status.active!.bundles['team']!.revision).toMatch(/^sha256:[0-9a-f]{12}$/);
    expect(r.revision).toMatch(/^base=sha256:[0-9a-f]{12},team=sha256:[0-9a-f]{12}$/);
    expect(r.bundleRevisions(r.revision!)).toEqual({
      base: { revision: status.active!.bundles['base']!.revision },
      team: { revision: status.active!.bundles['team']!.revision },
    });
    const baseRevision = status.active!.bundles['base']!.revision;
    writeFileSync(join(team, 'teams/payments/data.json'), '{"payment_limit": 200}');
    await until(async () => (await r.evaluate(payment(150))).decision.allow, 5000, 'new limit');
    expect(r.status().active!.bundles['base']!.revision).toBe(baseRevision);
  });

  test('overlapping roots are refused, as OPA refuses them', async () => {
    const base = copyFixture('base');
    const team = copyFixture('team-payments');
    const r = runtime({
      bundles: [
        { name: 'base', path: base },
        { name: 'team', path: team },
      ],
    });
    await r.start();
    const before = r.revision;
    writeFileSync(join(team, '.manifest'), '{"roots": ["teams/payments", "mcp/limits"]}');
    await until(() => r.status().last_error, 5000, 'refusal');
    expect(r.status().last_error).toMatchObject({ code: 'policy_roots_overlap', bundle: 'team' });
    expect(r.status().last_error!.message).toContain("bundle base root 'mcp' and bundle team root 'mcp/limits'");
    expect(r.revision).toBe(before);
  });

  test('data outside a bundle root, and two bundles with policy.wasm, are refused at start', async () => {
    const base = copyFixture('base');
    const team = copyFixture('team-payments');
    writeTree(team, { 'other/data.json': '{"x": 1}' });
    await expect(
      runtime({
        bundles: [
          { name: 'base', path: base },
          { name: 'team', path: team },
        ],
      }).start(),
    ).rejects.toThrow(/do not permit data at path '\/other'/);
    const second = writeTree(tempDir('second'), {
      '.manifest': '{"roots": ["other"]}',
      'other/mcp/decision.rego': decisionRego().replace('package mcp', 'package other.mcp'),
    });
    const secondBundle = opaBuild(second, join(tempDir('second-out'), 'b.tar.gz'), {
      entrypoint: 'other/mcp/decision',
    });
    await expect(
      runtime({
        bundles: [
          { name: 'base', path: base },
          { name: 'second', path: secondBundle },
        ],
      }).start(),
    ).rejects.toThrow(/only one bundle may carry policy\.wasm, but base and second both do/);
  });
});

describe('bundle service (OPA bundle protocol) on 127.0.0.1', () => {
  const build = (marker: string, revision: string): Buffer =>
    readFileSync(opaBuild(policyDir(`svc-${marker}`, { marker }), join(tempDir('svc-out'), 'b.tar.gz'), { revision }));

  test('ETag / If-None-Match / 304 while unchanged, a new bundle is activated, a down service keeps the active one', async () => {
    const server = new BundleServer();
    servers.push(server);
    await server.start();
    server.publish(build('v1', 'r1'));
    const errors: string[] = [];
    const r = runtime(
      { bundles: [{ name: 'policy', url: server.url, polling: { minDelaySeconds: 0.05, maxDelaySeconds: 0.1 } }] },
      { onSourceError: (e) => errors.push(e) },
    );
    await r.start();
    expect(r.revision).toBe('r1');
    await until(() => server.requests.filter((q) => q.status === 304).length >= 3, 5000, 'polls');
    const polls = server.requests.filter((q) => q.status === 304);
    expect(polls.every((q) => q.ifNoneMatch === '"v1"')).toBe(true);
    expect(server.requests[0]).toMatchObject({ ifNoneMatch: undefined, prefer: 'modes=snapshot', status: 200 });
    expect(r.status().bundles['policy']).toMatchObject({ kind: 'http', etag: '"v1"' });

    server.publish(build('v2', 'r2'));
    await until(() => r.revision === 'r2', 5000, 'r2 active');
    expect(await marker(r)).toBe('v2');

    const port = server.port;
    await server.stop();
    await until(() => errors.length >= 2, 5000, 'download errors');
    expect(errors[0]).toMatch(/request to .* failed/);
    expect(r.revision).toBe('r2');
    expect(await marker(r)).toBe('v2');
    expect(r.status().bundles['policy']!.last_error).toMatch(/failed/);

    // Back, with a new bundle: picked up (after backoff), the error cleared.
    const back = new BundleServer();
    servers.push(back);
    back.publish(build('v3', 'r3'));
    await back.start(port);
    await until(() => r.revision === 'r3', 8000, 'r3 after the service came back');
    expect(r.status().bundles['policy']!.last_error).toBeNull();
  });

  test('long polling: Prefer: wait=N is held by the service, a new bundle arrives at once', async () => {
    const server = new BundleServer();
    servers.push(server);
    server.longPolling = true;
    await server.start();
    server.publish(build('lp1', 'lp-1'));
    const r = runtime({
      bundles: [
        {
          name: 'policy',
          url: server.url,
          polling: { minDelaySeconds: 30, maxDelaySeconds: 60, longPollingTimeoutSeconds: 2 },
        },
      ],
    });
    await r.start();
    await until(() => r.status().bundles['policy']!.long_polling === true, 2000, 'long polling on');
    await new Promise((res) => setTimeout(res, 300));
    const published = Date.now();
    server.publish(build('lp2', 'lp-2'));
    await until(() => r.revision === 'lp-2', 3000, 'lp-2');
    // Not the 30-60 s polling delay: the held request returned the new bundle.
    expect(Date.now() - published).toBeLessThan(1500);
    expect(server.requests.slice(1).every((q) => q.prefer === 'modes=snapshot;wait=2')).toBe(true);
    // While nothing changes, requests are held (about one per wait period), not hammered.
    const before = server.requests.length;
    await new Promise((res) => setTimeout(res, 1000));
    expect(server.requests.length - before).toBeLessThanOrEqual(1);
  });

  test('a service without long-poll support gets ordinary polling', async () => {
    const server = new BundleServer();
    servers.push(server);
    await server.start();
    server.publish(build('np', 'np-1'));
    const r = runtime({
      bundles: [
        {
          name: 'policy',
          url: server.url,
          polling: { minDelaySeconds: 0.05, maxDelaySeconds: 0.1, longPollingTimeoutSeconds: 5 },
        },
      ],
    });
    await r.start();
    await until(() => server.requests.length >= 4, 3000, 'polls');
    expect(r.status().bundles['policy']!.long_polling).toBe(false);
    expect(server.requests.slice(1).every((q) => q.prefer === 'modes=snapshot')).toBe(true);
  });
});

describe('signed bundles through the runtime', () => {
  test('signed: activated; tampered or unsigned replacement: refused, the signed one stays', async () => {
    const dir = tempDir('signed-rt');
    const keys = keyPair(dir, 'ES256');
    const src = policyDir('signed-src', { marker: 'signed-v1' });
    const file = opaBuild(src, join(dir, 'bundle.tar.gz'), {
      signingKey: keys.privateKey,
      alg: 'ES256',
      revision: 's1',
    });
    const verification = { keys: { default: { algorithm: 'ES256', key: keys.publicPem } } };
    const r = runtime({ bundles: [{ name: 'policy', path: file, verification }] });
    await r.start();
    expect(r.status().active!.bundles['policy']).toMatchObject({ revision: 's1', signed_by: 'default' });

    const publish = async (files: Map<string, Buffer>): Promise<void> => {
      await writeTar(files, join(dir, 'next.tar.gz'));
      renameSync(join(dir, 'next.tar.gz'), file);
    };
    const tampered = await readTar(
      opaBuild(src, join(dir, 'v2.tar.gz'), { signingKey: keys.privateKey, alg: 'ES256', revision: 's2' }),
    );
    tampered.set('data.json', Buffer.from('{"injected": true}'));
    await publish(tampered);
    await until(() => r.status().last_error, 5000, 'tampered refused');
    expect(r.status().last_error).toMatchObject({ code: 'policy_signature_invalid' });
    expect(r.status().last_error!.message).toMatch(/data\.json: digest mismatch/);
    expect(r.revision).toBe('s1');

    writeFileSync(join(src, 'mcp/decision.rego'), decisionRego({ marker: 'unsigned' }));
    await publish(await readTar(opaBuild(src, join(dir, 'v3.tar.gz'), { revision: 's3' })));
    await until(() => r.status().last_error?.code === 'policy_signature_missing', 5000, 'unsigned refused');
    expect(await marker(r)).toBe('signed-v1');

    writeFileSync(join(src, 'mcp/decision.rego'), decisionRego({ marker: 'signed-v4' }));
    await publish(
      await readTar(
        opaBuild(src, join(dir, 'v4.tar.gz'), { signingKey: keys.privateKey, alg: 'ES256', revision: 's4' }),
      ),
    );
    await until(() => r.revision === 's4', 5000, 'properly signed update');
    expect(await marker(r)).toBe('signed-v4');
  });
});
