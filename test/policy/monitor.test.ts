import { afterEach, describe, expect, test } from 'vitest';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openPolicyRuntime } from '../../src/bundles/index.js';
import { SMOKE_INPUT, type PolicyRuntime } from '../../src/policy/index.js';
import { settleVerdict } from '../../src/proxy/index.js';
import { ROOT, tempDir } from '../helpers/warden.js';
import { until } from './bundle-helpers.js';

// "Try a rule in shadow before it blocks anything": a workflow template ships with mode: monitor,
// is hot-swapped to enforce once its would-denies look right, and (policy.mode: monitor) a whole
// Warden can shadow a new bundle. The shipped policy/ (workflow engine) is the base.
const shadow = (mode: 'monitor' | 'enforce'): string => `shadow_release:
  description: New rule under trial.
  mode: ${mode}
  correlate: [service]
  steps:
    - tool: run_tests
      must: succeed
    - tool: release_canary
`;

const call = (name: string, args: Record<string, unknown>): Record<string, unknown> => ({
  ...SMOKE_INPUT,
  call: { ...SMOKE_INPUT.call, server: 'ci', name, tool: name, arguments: args },
  now_ms: Date.now(),
  now: new Date().toISOString(),
});

let runtime: PolicyRuntime | null = null;
afterEach(() => runtime?.stop());

describe('monitor mode with hot-swapped bundles', () => {
  test('a per-rule monitor template logs would-deny; the swap to enforce makes it deny', async () => {
    const dir = tempDir('shadow');
    cpSync(join(ROOT, 'policy'), dir, { recursive: true });
    writeFileSync(join(dir, 'workflows/shadow_release.yaml'), shadow('monitor'));
    runtime = openPolicyRuntime({
      bundles: [{ name: 'policy', path: dir }],
      entrypoint: 'mcp/decision',
      watch: true,
      debounceMs: 30,
      pollMs: 200,
    });
    await runtime.start();
    const input = call('release_canary', { service: 'api' });

    const trial = await runtime.evaluate(input);
    expect(trial.error).toBeUndefined();
    expect(trial.decision.allow).toBe(true);
    expect(trial.decision.monitored).toEqual([
      expect.objectContaining({ rule: 'workflow.step_order', workflow: 'shadow_release', step: 'release_canary' }),
    ]);
    expect(settleVerdict(trial, 'enforce', '')).toMatchObject({ allow: true, wouldDeny: trial.decision.monitored });

    writeFileSync(join(dir, 'workflows/shadow_release.yaml'), shadow('enforce'));
    await until(async () => !(await runtime!.evaluate(input)).decision.allow, 10_000, 'enforced after the swap');
    const enforced = await runtime.evaluate(input);
    expect(enforced.revision).not.toBe(trial.revision);
    expect(enforced.decision.monitored).toEqual([]);
    expect(enforced.decision.reasons).toEqual([
      expect.objectContaining({ rule: 'workflow.step_order', workflow: 'shadow_release' }),
    ]);
    // policy.mode: monitor shadows even an enforced rule: logged, not enforced.
    expect(settleVerdict(enforced, 'monitor', '')).toMatchObject({
      allow: true,
      reasons: [],
      wouldDeny: enforced.decision.reasons,
    });
    expect(settleVerdict(enforced, 'enforce', '')).toMatchObject({ allow: false, reasons: enforced.decision.reasons });
  });
});
