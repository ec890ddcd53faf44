// Three Warden replicas over one PostgreSQL, behind Debian's HAProxy in plain round robin (no
// stickiness), driven by 2026-07-28 requests: the production-deployment workflow decides alike
// whichever replica a request reaches, an approval given on one replica lets exactly one retry
// through on any, the same steps through one replica give the same decisions, every replica lists
// every replica's open sessions, and a replica killed with SIGKILL loses no answered call and
// none of its history. All of it twice: on the one shared hash chain, and with one chain per
// replica (audit.chain: instance) tied together by signed ties.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPostgres, type TestPostgres } from '../audit/helpers/pg.js';
import { startHaproxy, type RunningHaproxy } from '../helpers/haproxy.js';
import { connectHttp, spawnHttpWarden, type SpawnedWarden } from '../helpers/http.js';
import { modernTool, type ToolAnswer } from '../helpers/modern.js';
import { CLI, EXAMPLES, ROOT, WARDEN_NODE, nodeServer, wardenEnv } from '../helpers/warden.js';
import { BEARER, PEOPLE, admin, followEvents, type SseEvent } from '../http/admin-helpers.js';

const run = promisify(execFile);
const DECISION = 'mcp-warden.dev/decision';

type ChainMode = 'shared' | 'instance';

let pg: TestPostgres;
let store: string;
let mode: ChainMode;
let replicas: SpawnedWarden[] = [];
let lb: RunningHaproxy;

function config(name: string): Record<string, unknown> {
  return {
    instance: name,
    mcpServers: { ci: nodeServer(join(EXAMPLES, 'ci.js'), '$CALL_LOG') },
    policy: { bundle: join(ROOT, 'policy') },
    auth: BEARER,
    // Behind the load balancer, requests carry its address in Host.
    http: { allowedHosts: ['127.0.0.1'] },
    audit: { store, ...(mode === 'instance' ? { chain: 'instance', tieEveryMs: 200 } : {}) },
    approval: { timeoutMs: 30_000, stateKey: 'replicas-share-this-key-0123456789abcdef' },
  };
}

/** What a step's decision was: allowed, or denied with these rule ids. */
interface Step {
  tool: string;
  allowed: boolean;
  rules: string[];
  pending?: string;
}

async function step(url: string, tool: string, args: Record<string, unknown>): Promise<Step> {
  const result: ToolAnswer = await modernTool(url, PEOPLE.alice.token, tool, args);
  const meta = result._meta?.[DECISION] as { reasons?: { rule: string }[]; approval?: { id: string } } | undefined;
  const denied = result.isError === true && meta !== undefined;
  return {
    tool,
    allowed: !denied,
    rules: (meta?.reasons ?? []).map((r) => r.rule),
    ...(meta?.approval ? { pending: meta.approval.id } : {}),
  };
}

const executed = (tool: string, service: string): number =>
  replicas.flatMap((r) => r.executed()).filter((c) => c.tool === tool && c.arguments['service'] === service).length;

/**
 * The production-deployment workflow for `service` through `url`. The held deploy is approved
 * through `approverFor(served)`'s admin API, where `served` is the replica that held it (the load
 * balancer's counters say which; null when `url` is one replica).
 */
async function deployment(
  url: string,
  service: string,
  approverFor: (served: number | null) => string,
): Promise<Step[]> {
  const steps: Step[] = [];
  steps.push(await step(url, 'deploy_to_production', { service }));
  steps.push(await step(url, 'run_tests', { service }));
  steps.push(await step(url, 'security_scan', { service }));
  const before = url === lb.url ? await lb.stats() : null;
  const held = await step(url, 'deploy_to_production', { service });
  const served = before ? await servedBy(before) : null;
  steps.push(held);
  expect(held.pending, JSON.stringify(held)).toBeTruthy();
  const answer = await admin(approverFor(served), `/admin/approvals/${held.pending}`, 'bob', {
    method: 'POST',
    body: { approve: true, comment: 'CHG-7' },
  });
  expect(answer.status, answer.text).toBe(200);
  steps.push(await step(url, 'deploy_to_production', { service }));
  const again = await step(url, 'deploy_to_production', { service });
  steps.push({ ...again, ...(again.pending ? { pending: 'new' } : {}) });
  steps.push(await step(url, 'run_tests', { service, simulate_failure: true }));
  steps.push(await step(url, 'deploy_to_production', { service }));
  return steps.map((s) => (s.pending && s.pending !== 'new' ? { ...s, pending: 'id' } : s));
}

/** A session of `GET /admin/sessions`, as far as these tests read it. */
interface SessionItem {
  session_id: string;
  live: boolean;
  instance: string | null;
  closed_at: string | null;
  client: { name: string } | null;
  workflows?: { available: boolean };
}

/** A handshake-era session of alice's on one replica, whose client is called `name`. */
async function connectNamed(
  url: string,
  name: string,
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${PEOPLE.alice.token}` } },
  });
  const client = new Client({ name, version: '1.0.0' }, { capabilities: {} });
  await client.connect(transport);
  return { client, transport };
}

/**
 * What `read` answers once it lists `count` items: a replica sees what another recorded at its
 * next read of the shared trail, a moment after the other wrote it. Gives up after 5 s.
 */
async function eventually<T>(read: () => Promise<T[]>, count: number): Promise<T[]> {
  let items = await read();
  for (let i = 0; items.length !== count && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    items = await read();
  }
  return items;
}

/** The replica (index) the load balancer sent one request to since `before`. */
async function servedBy(before: Record<string, number>): Promise<number> {
  const after = await lb.stats();
  const moved = Object.keys(after).filter((name) => after[name]! > (before[name] ?? 0));
  expect(moved).toHaveLength(1);
  return Number(moved[0]!.slice(1));
}

describe.each<[ChainMode]>([['shared'], ['instance']])(
  'three replicas behind a round-robin load balancer, one PostgreSQL, audit.chain: %s',
  (chainMode) => {
    beforeAll(async () => {
      mode = chainMode;
      pg = await startPostgres({ fast: true });
      store = await pg.createDatabase(`replicas_${chainMode}`);
      replicas = await Promise.all(['replica-0', 'replica-1', 'replica-2'].map((n) => spawnHttpWarden(config(n))));
      lb = await startHaproxy(
        replicas.map((r, i) => ({ host: '127.0.0.1', port: r.port, name: `r${i}` })),
        { checkIntervalMs: 200 },
      );
    }, 600_000);

    afterAll(async () => {
      await lb?.stop();
      await Promise.all(replicas.map((r) => r.stop()));
      await pg?.stop();
    });

    let spread: Step[];

    test('the deployment workflow holds across replicas; an approval on another replica lets one retry through', async () => {
      const before = await lb.stats();
      // The approver answers through another replica than the one that held the deploy.
      spread = await deployment(lb.url, 'svc-lb', (served) => replicas[((served ?? 0) + 1) % 3]!.url);
      const after = await lb.stats();
      for (const name of ['r0', 'r1', 'r2']) expect(after[name]! - (before[name] ?? 0)).toBeGreaterThanOrEqual(2);
      expect(spread).toEqual([
        { tool: 'deploy_to_production', allowed: false, rules: ['workflow.step_order', 'workflow.step_order'] },
        { tool: 'run_tests', allowed: true, rules: [] },
        { tool: 'security_scan', allowed: true, rules: [] },
        { tool: 'deploy_to_production', allowed: false, rules: ['warden.approval_pending'], pending: 'id' },
        { tool: 'deploy_to_production', allowed: true, rules: [] },
        { tool: 'deploy_to_production', allowed: false, rules: ['warden.approval_pending'], pending: 'new' },
        { tool: 'run_tests', allowed: true, rules: [] },
        { tool: 'deploy_to_production', allowed: false, rules: ['workflow.step_order'] },
      ]);
      expect(executed('deploy_to_production', 'svc-lb')).toBe(1);
    });

    test('the same steps through one replica give the same decisions', async () => {
      const direct = await deployment(replicas[0]!.url, 'svc-one', () => replicas[0]!.url);
      expect(direct).toEqual(spread);
      expect(executed('deploy_to_production', 'svc-one')).toBe(1);
    });

    test('a pending approval is listed on every replica, and two retries racing on two replicas spend it once', async () => {
      for (const s of ['run_tests', 'security_scan'])
        expect((await step(lb.url, s, { service: 'svc-race' })).allowed).toBe(true);
      const held = await step(lb.url, 'deploy_to_production', { service: 'svc-race' });
      for (const r of replicas) {
        const listed = await admin<{ pending: { id: string; state: string }[] }>(r.url, '/admin/approvals', 'bob');
        expect(listed.body.pending).toContainEqual(expect.objectContaining({ id: held.pending, state: 'pending' }));
      }
      const answer = await admin(replicas[2]!.url, `/admin/approvals/${held.pending}`, 'bob', {
        method: 'POST',
        body: { approve: true },
      });
      expect(answer.status, answer.text).toBe(200);
      const race = await Promise.all(
        [replicas[0]!, replicas[1]!].map((r) => step(r.url, 'deploy_to_production', { service: 'svc-race' })),
      );
      expect(race.filter((s) => s.allowed)).toHaveLength(1);
      expect(race.find((s) => !s.allowed)!.rules).toEqual(
        expect.arrayContaining([expect.stringMatching(/^warden\.approval_(pending|spent)$/)]),
      );
      expect(executed('deploy_to_production', 'svc-race')).toBe(1);
    });

    test('a handshake-era call held on one replica is answered through another replica’s admin API', async () => {
      const { client } = await connectHttp(replicas[0]!.url, { token: PEOPLE.alice.token });
      try {
        for (const name of ['run_tests', 'security_scan'])
          expect((await client.callTool({ name, arguments: { service: 'svc-held' } })).isError).toBeFalsy();
        const held = client.callTool({ name: 'deploy_to_production', arguments: { service: 'svc-held' } }, undefined, {
          timeout: 60_000,
        });
        const listed = async (): Promise<{ id: string; state: string } | undefined> => {
          const res = await admin<{
            pending: { id: string; state: string; call: { arguments: Record<string, unknown> } }[];
          }>(replicas[1]!.url, '/admin/approvals', 'bob');
          return res.body.pending.find((a) => a.call.arguments['service'] === 'svc-held');
        };
        let waiting = await listed();
        for (let i = 0; !waiting && i < 50; i++) {
          await new Promise((r) => setTimeout(r, 100));
          waiting = await listed();
        }
        expect(waiting).toMatchObject({ state: 'held' });
        const answer = await admin(replicas[1]!.url, `/admin/approvals/${waiting!.id}`, 'bob', {
          method: 'POST',
          body: { approve: true, comment: 'from replica 1' },
        });
        expect(answer.status, answer.text).toBe(200);
        const result = await held;
        expect(result.isError, JSON.stringify(result)).toBeFalsy();
        expect(executed('deploy_to_production', 'svc-held')).toBe(1);
      } finally {
        await client.close();
      }
    });

    test('the live event stream of one replica shows the sessions and decisions of the others', async () => {
      const stream = await followEvents(replicas[2]!.url, 'carol');
      try {
        expect(stream.status).toBe(200);
        // A fresh trace id: a new history scope, so a new session on replica 0.
        const traceparent = `00-${'7'.repeat(32)}-${'1'.repeat(16)}-01`;
        const denied = await modernTool(
          replicas[0]!.url,
          PEOPLE.alice.token,
          'deploy_to_production',
          { service: 'svc-live' },
          { traceparent },
        );
        expect(denied.isError).toBe(true);
        let seen: SseEvent | undefined;
        for (let i = 0; !seen && i < 50; i++) {
          await new Promise((r) => setTimeout(r, 100));
          seen = stream.events.find(
            (e) =>
              e.type === 'decision' &&
              e.data['instance'] === 'replica-0' &&
              (e.data['reasons'] as { rule: string }[]).some((r) => r.rule === 'workflow.step_order'),
          );
        }
        expect(seen?.data).toMatchObject({ allow: false, call: { name: 'deploy_to_production' } });
        expect(stream.events.some((e) => e.type === 'session.opened' && e.data['instance'] === 'replica-0')).toBe(true);
      } finally {
        stream.close();
      }
    });

    test('GET /admin/sessions through the load balancer lists the open sessions of every replica, each with its name', async () => {
      // One handshake-era session open on each replica, named by the client so the list can be read.
      const open = await Promise.all(replicas.map((r, i) => connectNamed(r.url, `across-${i}`)));
      const listed = async (query: string): Promise<SessionItem[]> => {
        const res = await admin<{ sessions: SessionItem[] }>(lb.url, `/admin/sessions${query}`, 'carol');
        expect(res.status, res.text).toBe(200);
        return res.body.sessions.filter((s) => s.client?.name.startsWith('across-'));
      };
      const brief = (items: SessionItem[]) =>
        items.map((s) => [s.client!.name, s.instance, s.live, s.workflows?.available ?? null]).sort();
      const all = [0, 1, 2].map((i) => [`across-${i}`, `replica-${i}`, true, true]);
      try {
        // Round robin: consecutive requests reach each replica, and every one lists all three.
        for (let i = 0; i < 3; i++) expect(brief(await eventually(() => listed('?live=true'), 3))).toEqual(all);
        await open[1]!.transport.terminateSession();
        await open[1]!.client.close();
        const closed = [all[0], all[2]];
        for (let i = 0; i < 3; i++) expect(brief(await eventually(() => listed('?live=true'), 2))).toEqual(closed);
        const recorded = (await listed('')).find((s) => s.client?.name === 'across-1');
        expect(recorded).toMatchObject({ live: false, instance: 'replica-1' });
        expect(recorded?.closed_at).toBeTruthy();
      } finally {
        for (const { client } of open) await client.close();
      }
    });

    test('SIGKILL of a replica mid-stream: answered calls are all in a chain that verifies, and its history counts', async () => {
      // History the doomed replica records itself.
      expect((await step(replicas[1]!.url, 'run_tests', { service: 'svc-dead' })).allowed).toBe(true);
      let answered = 0;
      const stream = (async () => {
        for (let i = 0; i < 24; i++) {
          try {
            const s = await step(lb.url, 'run_tests', { service: 'svc-stream' });
            if (s.allowed) answered++;
          } catch {
            // in flight on the replica that was killed: no answer reached this client
          }
        }
      })();
      await new Promise((r) => setTimeout(r, 300));
      replicas[1]!.child.kill('SIGKILL');
      await stream;
      // Calls after the kill are answered by the others, and the dead replica's history still counts.
      expect((await step(lb.url, 'security_scan', { service: 'svc-dead' })).allowed).toBe(true);
      expect(answered).toBeGreaterThanOrEqual(20);
      const { stdout } = await run(WARDEN_NODE, [CLI, 'audit', 'export', '--store', store, '--format', 'jsonl'], {
        env: wardenEnv(),
        maxBuffer: 64 * 1024 * 1024,
      });
      const records = stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
      const runs = new Set(
        records
          .filter(
            (r) =>
              r.type === 'call.received' &&
              (r.data['arguments'] as Record<string, unknown>)['service'] === 'svc-stream',
          )
          .map((r) => r.data['call_id']),
      );
      const completed = records.filter((r) => r.type === 'call.completed' && runs.has(r.data['call_id']));
      expect(completed.length).toBeGreaterThanOrEqual(answered);
      const verify = await run(WARDEN_NODE, [CLI, 'audit', 'verify', '--store', store], { env: wardenEnv() });
      if (chainMode === 'shared') {
        expect(verify.stdout).toMatch(/^ok: \d+ records verified/);
        return;
      }
      // One chain per replica (the killed one's included, ending where it was killed), and the ties.
      const chains = new Set(records.map((r) => (r as { chain?: string }).chain));
      expect([...chains].sort()).toEqual(['replica-0', 'replica-1', 'replica-2']);
      for (const name of ['replica-0', 'replica-1', 'replica-2'])
        expect(verify.stdout).toMatch(new RegExp(`^chain "${name}": ok: \\d+ records verified`, 'm'));
      expect(verify.stdout).toMatch(/^ties: ok: [1-9]\d* ties? checked$/m);
      expect(verify.stdout).toMatch(/^ok: the whole trail verifies \(4 chains, \d+ ties\)$/m);
    });
  },
);
