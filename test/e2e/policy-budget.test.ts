// The evaluation budget against real Warden processes (issue 11, break 9): a rule that runs for
// minutes on some input once stalled the whole process (no /healthz, SIGTERM ignored). Now the
// policy runs in a worker thread behind a watchdog: the call is denied with warden.policy_timeout
// and recorded like any policy failure, the next call is decided by a fresh worker, the process
// keeps answering and stops on SIGTERM. The policy is real Rego (test/fixtures/policies/budget),
// compiled by the real opa at start. No timing is asserted; the bounds below only end a hung test.
import { afterEach, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { openAuditStore } from '../../src/audit/index.js';
import { alive, connectHttp, rawRequest, spawnHttpWarden, type SpawnedWarden } from '../helpers/http.js';
import { POLICIES, SERVERS, eventually, nodeServer, startWarden, textOf } from '../helpers/warden.js';
import type { RunningWarden } from '../helpers/warden.js';

const POLICY = join(POLICIES, 'budget');
// spin = 100000: O(10^10) comparisons in Wasm, minutes of work, far past any budget here.
const SPIN = 100_000;

async function auditRecords(dir: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const store = await openAuditStore(`sqlite:${join(dir, 'audit.db')}`, { readOnly: true });
  try {
    return (await store.read({})) as { type: string; data: Record<string, unknown> }[];
  } finally {
    await store.close();
  }
}

/** Polls an async check until it holds (files another process writes), failing after `ms`. */
async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `promise`, or a failure saying `what` after `ms` (a process that stalled never answers). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Resolves with the exit code, or rejects after `ms` (the process ignored the signal). */
function exitWithin(w: SpawnedWarden, ms: number): Promise<number | null> {
  return within(w.stop(), ms, 'warden did not exit after SIGTERM');
}

let stdio: RunningWarden | null = null;
let http: SpawnedWarden | null = null;
afterEach(async () => {
  await stdio?.close();
  stdio = null;
  if (http && http.child.exitCode === null && http.child.signalCode === null) http.child.kill('SIGKILL');
  http = null;
});

describe('policy.evaluation: the evaluation budget, through a real Warden', () => {
  test('stdio: a stalling rule is denied (warden.policy_timeout), logged, audited; the next call runs', async () => {
    stdio = await startWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: POLICY, evaluation: { timeoutMs: 500 } },
    });
    const stall = { name: 'echo', arguments: { message: 'stall', spin: SPIN } };
    const denied = await stdio.client.callTool(stall, undefined, { timeout: 30_000 });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toContain('mcp/decision did not finish within 500 ms (policy.evaluation.timeoutMs)');
    expect(textOf(denied)).toContain('[warden.policy_timeout]');

    // A fresh worker decides the next calls: allowed ones run, denied ones are denied by the rule.
    const after = await stdio.client.callTool({ name: 'echo', arguments: { message: 'after the stall' } });
    expect(after.isError).toBeFalsy();
    expect(textOf(after)).toBe('after the stall');
    const forbidden = await stdio.client.callTool({ name: 'echo', arguments: { message: 'forbidden' } });
    expect(textOf(forbidden)).toContain('[budget.no_forbidden_echo]');
    expect(stdio.executed().map((c) => c.arguments['message'])).toEqual(['after the stall']);

    const codeOf = (d: Record<string, unknown>): string | undefined => (d['error'] as { code?: string })?.code;
    const logged = await eventually(() => stdio!.decisions().find((d) => codeOf(d) === 'policy_timeout'));
    expect(logged).toMatchObject({
      path: 'mcp/decision',
      input: { call: { name: 'echo', arguments: { spin: SPIN } } },
      error: { code: 'policy_timeout', message: expect.stringContaining('policy.evaluation.timeoutMs') },
      custom: { allow: false, reasons: [{ rule: 'warden.policy_timeout' }] },
    });
    const records = await auditRecords(stdio.dir);
    const decided = records.filter((r) => r.type === 'call.decided');
    const verdicts = decided.map((r) => codeOf(r.data) ?? (r.data['allow'] ? 'allow' : 'deny'));
    expect(verdicts).toEqual(['policy_timeout', 'allow', 'deny']);
    expect(decided[0]!.data).toMatchObject({ allow: false, reasons: [{ rule: 'warden.policy_timeout' }] });
    expect(records.filter((r) => r.type === 'call.completed').map((r) => r.data['outcome'])).toEqual(['success']);
    expect(stdio.stderr()).toContain('its worker thread was replaced');
  });

  test('stdio: SIGTERM while an evaluation stalls ends the process', async () => {
    stdio = await startWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: POLICY, evaluation: { timeoutMs: 120_000 } },
    });
    const pid = stdio.pid!;
    const stall = { name: 'echo', arguments: { message: 'stall', spin: SPIN } };
    const stalled = stdio.client.callTool(stall, undefined, { timeout: 300_000 });
    stalled.catch(() => undefined);
    // Time for the request to reach the policy (the stall itself lasts minutes).
    await new Promise((r) => setTimeout(r, 1000));
    expect(alive(pid)).toBe(true);
    process.kill(pid, 'SIGTERM');
    await until(async () => !alive(pid), 30_000, 'warden did not exit after SIGTERM');
    expect(stdio.stderr()).toContain('"why":"SIGTERM"');
  });

  test('http: /healthz and the admin API answer during a stall; SIGTERM mid-stall ends the process', async () => {
    http = await spawnHttpWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      // Long enough that the stall is certainly still running while /healthz is asked and SIGTERM sent.
      policy: { bundle: POLICY, evaluation: { timeoutMs: 120_000 } },
    });
    const w = http;
    const { client } = await connectHttp(w.url);
    let settled = false;
    const stalled = client.callTool({ name: 'echo', arguments: { message: 'stall', spin: SPIN } }, undefined, {
      timeout: 300_000,
    });
    void stalled.then(
      () => (settled = true),
      () => (settled = true),
    );
    // Time for the request to reach the policy (not a bound on anything: the stall lasts minutes).
    await new Promise((r) => setTimeout(r, 1000));

    const health = await within(rawRequest(w.url, { path: '/healthz' }), 10_000, '/healthz did not answer');
    expect(health.status).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
    // The admin API answers too (this view asks the policy nothing).
    const sessions = await within(rawRequest(w.url, { path: '/admin/sessions' }), 10_000, 'no /admin/sessions');
    expect(sessions.status).toBe(200);
    // The stalling call is still being decided: it has no answer, and no record yet (a call's
    // received and decided records are written together, once its decision is made).
    const isStall = (r: { type: string; data: Record<string, unknown> }): boolean =>
      r.type === 'call.received' && (r.data['arguments'] as { spin?: number }).spin === SPIN;
    expect((await auditRecords(w.dir)).some(isStall)).toBe(false);
    expect(settled).toBe(false);

    // SIGTERM while the evaluation is still running: the process ends, and the stalled call with it.
    const code = await exitWithin(w, 30_000);
    expect(code).toBe(0);
    await client.close().catch(() => undefined);
  });

  test('http: a workflow status rule over budget shows as unavailable, with why; decisions go on', async () => {
    http = await spawnHttpWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: POLICY, evaluation: { timeoutMs: 500 } },
    });
    const w = http;
    const { client, transport } = await connectHttp(w.url);
    try {
      const recorded = await client.callTool({ name: 'echo', arguments: { message: 'recorded', spin_status: SPIN } });
      expect(textOf(recorded)).toBe('recorded');
      const res = await within(rawRequest(w.url, { path: '/admin/sessions?live=true' }), 30_000, 'no live sessions');
      expect(res.status).toBe(200);
      const live = res.json<{ sessions: { workflows: { available: boolean; reason?: string } }[] }>().sessions;
      expect(live).toHaveLength(1);
      expect(live[0]!.workflows).toEqual({
        available: false,
        revision: expect.stringMatching(/^sha256:/),
        reason: expect.stringContaining('workflow/status did not finish within 500 ms (policy.evaluation.timeoutMs)'),
      });
      const next = await client.callTool({ name: 'echo', arguments: { message: 'still decided' } });
      expect(textOf(next)).toBe('still decided');
      expect(transport.sessionId).toBeTruthy();
    } finally {
      await client.close();
    }
    expect(await exitWithin(w, 30_000)).toBe(0);
  });
});
