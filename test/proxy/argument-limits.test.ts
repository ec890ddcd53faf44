// Arguments over limits.argumentsMaxDepth / argumentsMaxBytes are refused before the policy runs
// (src/proxy/argument-limits.ts), in the pipeline with in-memory ports and a real compiled policy.
// End to end through a real Warden: test/e2e/argument-limits.test.ts.
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { DecisionLogEvent } from '../../src/audit/index.js';
import { createLogger } from '../../src/common/index.js';
import { PolicyEngine } from '../../src/policy/index.js';
import { compileDirectory } from '../../src/bundles/index.js';
import { CallPipeline, checkArguments, type ArgumentLimits, type DecisionInfo } from '../../src/proxy/index.js';
import { Session, type PendingCall } from '../../src/session/index.js';
import { POLICIES } from '../helpers/warden.js';

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await PolicyEngine.load(await compileDirectory(join(POLICIES, 'allow-all'), 'mcp/decision'), 'mcp/decision');
});

interface Recorded {
  events: { type: string; data: Record<string, unknown> }[];
  decisions: DecisionLogEvent[];
  observed: DecisionInfo[];
  evaluated: number;
  forwarded: number;
}

function setup(mode: 'enforce' | 'monitor', limits?: ArgumentLimits): { pipeline: CallPipeline; seen: Recorded } {
  const seen: Recorded = { events: [], decisions: [], observed: [], evaluated: 0, forwarded: 0 };
  let n = 0;
  const pipeline = new CallPipeline({
    policy: {
      evaluate: (input, now) => {
        seen.evaluated++;
        return engine.evaluate(input, now);
      },
      entrypoint: 'mcp/decision',
    },
    mode,
    audit: { append: async (e) => void seen.events.push(e) },
    auditOnFailure: 'allow',
    decisionLog: { write: (e) => void seen.decisions.push(e) },
    observer: { onDecision: (info) => void seen.observed.push(info) },
    labels: { id: 'test', version: '0' },
    bundleName: () => 'policy',
    logger: createLogger({ silent: true }),
    auditResultMaxChars: 1000,
    ...(limits ? { argumentLimits: limits } : {}),
    redactArguments: (args) => ({ ...args, ...(args['password'] !== undefined ? { password: '[REDACTED]' } : {}) }),
    newId: () => `id-${++n}`,
  });
  return { pipeline, seen };
}

const ALICE = { sub: 'alice', roles: [], claims: {} };
const OPTIONS = { historyWindow: 10, resultMaxChars: 100 };
const session = (): Session => new Session('s1', ALICE, new Date().toISOString(), OPTIONS);
const call = (args: Record<string, unknown>): PendingCall => ({
  kind: 'tool',
  server: 'faulty',
  tool: 'echo',
  name: 'echo',
  arguments: args,
  annotations: {},
});

/** Arguments nested `depth` levels deep (the arguments object itself is level 1). */
function deep(depth: number): Record<string, unknown> {
  const root: Record<string, unknown> = { message: 'deep' };
  let node = root;
  for (let i = 1; i < depth; i++) {
    const child: Record<string, unknown> = {};
    node['nest'] = child;
    node = child;
  }
  return root;
}

describe('argument limits in the call pipeline', () => {
  test.each(['enforce', 'monitor'] as const)('%s mode: too deep is denied before the policy runs', async (mode) => {
    const { pipeline, seen } = setup(mode);
    const s = session();
    const forward = async (): Promise<Record<string, unknown>> => {
      seen.forwarded++;
      return { content: [] };
    };
    const outcome = await pipeline.run(s, call(deep(100_000)), forward);
    expect(outcome).toMatchObject({
      kind: 'denied',
      reasons: [{ rule: 'warden.arguments_too_deep', message: expect.stringContaining('limits.argumentsMaxDepth') }],
    });
    expect(seen.evaluated).toBe(0);
    expect(seen.forwarded).toBe(0);
    const [received, decided] = seen.events;
    const digest = expect.stringMatching(/^sha256:[0-9a-f]{64}$/);
    expect(received).toMatchObject({
      type: 'call.received',
      data: { arguments_refused: { depth: 100_000, max_depth: 64, max_bytes: 1_048_576, digest } },
    });
    expect(received!.data.arguments).toEqual({}); // never the arguments themselves
    expect(decided).toMatchObject({
      type: 'call.decided',
      data: { allow: false, policy_allow: false, refused: 'warden.arguments_too_deep' },
    });
    expect(seen.decisions).toHaveLength(1);
    expect(seen.decisions[0]).toMatchObject({
      input: { call: { name: 'echo', arguments: {} } },
      custom: { allow: false, reasons: [{ rule: 'warden.arguments_too_deep' }] },
    });
    expect(seen.observed).toMatchObject([{ allow: false, reasons: [{ rule: 'warden.arguments_too_deep' }] }]);
    // The history holds the denial, not the arguments: later decisions never carry them.
    const { history } = s.buildInput(call({}), Date.now());
    expect(history).toMatchObject([{ name: 'echo', decision: 'deny', outcome: 'denied', arguments: {} }]);
  });

  test('at the limits a call goes through; one byte or one level over, it does not', async () => {
    const { pipeline, seen } = setup('enforce', { maxDepth: 3, maxBytes: 40 });
    const forward = async (): Promise<Record<string, unknown>> => ({ content: [] });
    const atDepth = { a: { b: {} } };
    const atBytes = { m: 'x'.repeat(40 - '{"m":""}'.length) };
    expect(await pipeline.run(session(), call(atDepth), forward)).toMatchObject({ kind: 'completed' });
    expect(await pipeline.run(session(), call(atBytes), forward)).toMatchObject({ kind: 'completed' });
    const deeper = await pipeline.run(session(), call({ a: { b: { c: {} } } }), forward);
    expect(deeper).toMatchObject({ kind: 'denied', reasons: [{ rule: 'warden.arguments_too_deep' }] });
    const large = await pipeline.run(session(), call({ m: `${atBytes.m}x` }), forward);
    const message = expect.stringMatching(/41 bytes as JSON; Warden accepts at most 40 \(limits\.argumentsMaxBytes\)/);
    expect(large).toMatchObject({ kind: 'denied', reasons: [{ rule: 'warden.arguments_too_large', message }] });
    expect(seen.evaluated).toBe(2);
  });

  test('the summary digest is taken after redaction, so it cannot confirm a guessed secret', () => {
    const limits = { maxDepth: 2, maxBytes: 1024 };
    const args = (password: string): Record<string, unknown> => ({ password, nest: { deeper: {} } });
    const redact = (a: Record<string, unknown>): Record<string, unknown> => ({ ...a, password: '[REDACTED]' });
    const first = checkArguments(args('hunter2'), limits, redact)!;
    const second = checkArguments(args('letmein'), limits, redact)!;
    expect(first.summary.digest).toBe(second.summary.digest);
    expect(checkArguments(args('hunter2'), limits, (a) => a)!.summary.digest).not.toBe(first.summary.digest);
  });
});
