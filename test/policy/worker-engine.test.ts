// The evaluation budget's watchdog (issue 11, break 9): the Wasm policy runs in a worker thread;
// an evaluation over its time or memory budget is stopped, denied, and the worker replaced.
// Real Rego compiled with the real opa (test/fixtures/policies/budget); no timing is asserted.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openPolicyRuntime } from '../../src/bundles/index.js';
import {
  PolicyEngine,
  SMOKE_INPUT,
  WorkerEngine,
  type CompiledBundle,
  type EvaluationBudget,
} from '../../src/policy/index.js';
import { compileDirectory } from '../../src/bundles/index.js';
import { POLICIES, ROOT, tempDir } from '../helpers/warden.js';

const BUDGET = join(POLICIES, 'budget');
const call = (name: string, args: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...SMOKE_INPUT,
  call: { ...SMOKE_INPUT.call, name, tool: name, arguments: args },
});
// spin = 100000 is O(10^10) comparisons: minutes of Wasm, far past any budget below.
const SPIN_N = 100_000;
const SPIN = call('echo', { message: 'hi', spin: SPIN_N });

let bundle: CompiledBundle;
const engines: WorkerEngine[] = [];
async function engine(budget: EvaluationBudget, onRestart?: (why: string) => void): Promise<WorkerEngine> {
  const e = await WorkerEngine.load(bundle, 'mcp/decision', { budget, ...(onRestart ? { onRestart } : {}) });
  engines.push(e);
  return e;
}

beforeAll(async () => {
  bundle = await compileDirectory(BUDGET, 'mcp/decision');
});
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
});

describe('WorkerEngine: the evaluation watchdog', () => {
  test('a stalled evaluation is denied as policy_timeout, naming the budget; a fresh worker decides next', async () => {
    const restarts: string[] = [];
    const e = await engine({ timeoutMs: 300, maxMemoryMb: 128 }, (why) => restarts.push(why));
    expect((await e.evaluate(call('echo', { message: 'hi' }))).decision.allow).toBe(true);

    const stalled = await e.evaluate(SPIN);
    expect(stalled.error).toEqual({
      code: 'policy_timeout',
      message: expect.stringContaining('within 300 ms (policy.evaluation.timeoutMs)'),
    });
    expect(stalled.decision.allow).toBe(false);
    const because = 'Warden denied the call because its policy failed (fail closed): ';
    expect(stalled.decision.reasons).toEqual([
      { rule: 'warden.policy_timeout', message: `${because}${stalled.error!.message}` },
    ]);
    expect(stalled.error!.message).toMatch(/^evaluating mcp\/decision did not finish within 300 ms/);
    expect(stalled.revision).toBe(bundle.revision);
    expect(restarts).toEqual(['evaluating mcp/decision ran past 300 ms']);
    expect(e.restarts).toBe(1);

    const after = await e.evaluate(call('echo', { message: 'forbidden' }));
    expect(after.error).toBeUndefined();
    expect(after.decision.reasons.map((r) => r.rule)).toEqual(['budget.no_forbidden_echo']);
    expect((await e.evaluate(call('echo', { message: 'hi' }))).decision.allow).toBe(true);
  });

  test('calls queued behind a stalled one get their own budget and their own answer', async () => {
    const e = await engine({ timeoutMs: 300, maxMemoryMb: 128 });
    const answers = await Promise.all([
      e.evaluate(call('echo', { message: 'forbidden' })),
      e.evaluate(SPIN),
      e.evaluate(call('echo', { message: 'hi' })),
      e.evaluate(SPIN),
      e.evaluate(call('echo', { message: 'forbidden' })),
    ]);
    expect(answers.map((a) => a.error?.code ?? a.decision.reasons.map((r) => r.rule).join(',') ?? '')).toEqual([
      'budget.no_forbidden_echo',
      'policy_timeout',
      '',
      'policy_timeout',
      'budget.no_forbidden_echo',
    ]);
    expect(e.restarts).toBe(2);
  });

  test('needing more memory than maxMemoryMb is denied as policy_memory_exceeded; the worker is replaced', async () => {
    const e = await engine({ timeoutMs: 60_000, maxMemoryMb: 32 });
    // hog = 10^8 list elements: gigabytes of Wasm memory.
    const hog = await e.evaluate(call('echo', { message: 'hi', hog: 100_000_000 }));
    expect(hog.error).toEqual({
      code: 'policy_memory_exceeded',
      message: expect.stringContaining('needed more than 32 MiB (policy.evaluation.maxMemoryMb'),
    });
    expect(hog.decision.reasons[0]!.rule).toBe('warden.policy_memory_exceeded');
    expect(e.restarts).toBe(1);
    expect((await e.evaluate(call('echo', { message: 'hi' }))).decision.allow).toBe(true);
  });

  test('read-only entrypoints (workflow status) go through the same budget', async () => {
    const e = await engine({ timeoutMs: 300, maxMemoryMb: 128 });
    expect(e.hasEntrypoint('mcp/workflow/status')).toBe(true);
    const quick = await e.evaluateEntrypoint('mcp/workflow/status', { history: [{ arguments: { spin_status: 3 } }] });
    expect(quick).toMatchObject({ ok: true, result: { workflows: { budget: { complete: false } } } });
    const stallingHistory = { history: [{ arguments: { spin_status: SPIN_N } }] };
    const stalled = await e.evaluateEntrypoint('mcp/workflow/status', stallingHistory);
    expect(stalled).toEqual({
      ok: false,
      code: 'policy_timeout',
      message: expect.stringContaining('evaluating mcp/workflow/status did not finish within 300 ms'),
      revision: bundle.revision,
    });
    expect(await e.evaluateEntrypoint('mcp/workflow/status', { history: [] })).toMatchObject({ ok: true });
    const mask = await e.evaluateEntrypoint('system/log/mask', {});
    expect(mask).toMatchObject({ ok: false, code: 'policy_entrypoint_missing' });
  });

  test('close denies what is running and what is queued, and later calls', async () => {
    const e = await engine({ timeoutMs: 60_000, maxMemoryMb: 128 });
    const running = e.evaluate(SPIN);
    const queued = e.evaluate(call('echo', { message: 'hi' }));
    await new Promise((r) => setTimeout(r, 50));
    await e.close();
    for (const answer of [await running, await queued, await e.evaluate(call('echo', { message: 'hi' }))]) {
      expect(answer.decision.allow).toBe(false);
      const message = `the policy engine for revision ${bundle.revision} was stopped`;
      expect(answer.error).toEqual({ code: 'policy_eval_error', message });
    }
  });

  test('host builtins (time, crypto, uuid, sprintf) answer in the worker as they do in this thread', async () => {
    const dir = tempDir('worker-builtins');
    writeFileSync(
      join(dir, 'b.rego'),
      [
        'package b',
        '',
        'all := {',
        '\t"now": time.now_ns(),',
        '\t"format": time.format(time.now_ns()),',
        '\t"weekday": time.weekday(time.now_ns()),',
        '\t"sha256": crypto.sha256(input.text),',
        '\t"hmac": crypto.hmac.sha256(input.text, "key"),',
        '\t"units": units.parse_bytes("1.5GiB"),',
        '\t"sprintf": sprintf("%s has %d calls", [input.text, 3]),',
        '\t"same_uuid": uuid.rfc4122("k") == uuid.rfc4122("k"),',
        '}',
        '',
      ].join('\n'),
    );
    const b = await compileDirectory(dir, 'b/all');
    const inThread = await PolicyEngine.load(b, 'b/all');
    const worker = await WorkerEngine.load(b, 'b/all');
    engines.push(worker);
    const nowMs = Date.parse('2024-02-29T23:59:58.123Z');
    const expected = inThread.evaluate({ text: 'warden' }, nowMs).result;
    expect(expected).toMatchObject({
      now: nowMs * 1_000_000,
      same_uuid: true,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect((await worker.evaluate({ text: 'warden' }, nowMs)).result).toEqual(expected);
  });

  test('the shipped policy decides the same in the worker as in this thread', async () => {
    const shipped = await compileDirectory(join(ROOT, 'policy'), 'mcp/decision');
    const inThread = await PolicyEngine.load(shipped, 'mcp/decision');
    const worker = await WorkerEngine.load(shipped, 'mcp/decision');
    engines.push(worker);
    const failedTests = { run_tests: { calls: 1, successes: 0, failures: 1, denied: 0, last_outcome: 'error' } };
    const inputs = [
      call('echo', { message: 'hi' }),
      call('deploy_to_production', { service: 'api' }),
      { ...call('deploy_to_production', { service: 'api' }), summary: failedTests },
      call('payment_processing', { payment_id: 'p-1', amount: 10 }),
      { ...call('echo', {}), version: 2 },
    ];
    const verdicts = new Set<string>();
    for (const input of inputs) {
      const { evalNs: _a, ...here } = inThread.evaluate(input, 1_000);
      const { evalNs: _b, ...there } = await worker.evaluate(input, 1_000);
      expect(there).toEqual(here);
      verdicts.add(String(here.decision.allow));
    }
    // Both answers occur, so the comparison is not of two empty decisions.
    expect(verdicts).toEqual(new Set(['true', 'false']));
  });
});

describe('PolicyRuntime: the budget is the configured one, and a hot swap swaps the worker', () => {
  test('policy.evaluation reaches the worker; a swapped-in revision answers from its own worker', async () => {
    const dir = tempDir('budget-swap');
    cpSync(BUDGET, dir, { recursive: true });
    const warnings: string[] = [];
    const runtime = openPolicyRuntime(
      {
        bundles: [{ name: 'policy', path: dir }],
        entrypoint: 'mcp/decision',
        watch: true,
        debounceMs: 30,
        pollMs: 200,
        evaluation: { timeoutMs: 200, maxMemoryMb: 64 },
      },
      { onWarning: (m) => warnings.push(m) },
    );
    try {
      await runtime.start();
      const first = runtime.revision!;
      expect(runtime.budget).toEqual({ timeoutMs: 200, maxMemoryMb: 64 });
      const stalled = await runtime.evaluate(SPIN);
      expect(stalled.error?.code).toBe('policy_timeout');
      expect(stalled.error?.message).toContain('within 200 ms');
      const replaced = `policy revision ${first}: evaluating mcp/decision ran past 200 ms; `;
      expect(warnings).toEqual([`${replaced}its worker thread was replaced`]);

      const rego = join(dir, 'mcp/decision.rego');
      const v2 = readFileSync(rego, 'utf8').replace('echo must not say forbidden', 'echo must not say forbidden (v2)');
      writeFileSync(rego, v2);
      const deadline = Date.now() + 20_000;
      while (runtime.revision === first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(runtime.revision).not.toBe(first);
      const swapped = await runtime.evaluate(call('echo', { message: 'forbidden' }));
      expect(swapped.revision).toBe(runtime.revision);
      expect(swapped.decision.reasons[0]!.message).toBe('echo must not say forbidden (v2)');
      // The new revision's worker has the same budget.
      expect((await runtime.evaluate(SPIN)).error?.code).toBe('policy_timeout');
    } finally {
      runtime.stop();
    }
    // Stopped: the worker is gone and every call is denied.
    expect((await runtime.evaluate(call('echo', { message: 'hi' }))).decision.allow).toBe(false);
  });
});
