import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createDecisionLog, createRedaction, type DecisionLogEvent } from '../../src/audit/index.js';
import { documentJson } from '../../src/common/index.js';
import { tempDir } from './helpers/fixtures.js';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('decision-log-');
});
afterAll(() => tmp.cleanup());

function event(decisionId: string, input: unknown, extra: Partial<DecisionLogEvent> = {}): DecisionLogEvent {
  return {
    decision_id: decisionId,
    path: 'mcp/decision',
    input,
    result: { allow: true, reasons: [] },
    bundles: { shipped: { revision: 'sha256:abc' } },
    timestamp: '2025-01-31T12:00:00.000Z',
    metrics: { timer_rego_query_eval_ns: 1200, timer_server_handler_ns: 3400 },
    labels: { id: 'warden-1', version: '0.1.0' },
    custom: { session_id: 's1', mode: 'enforce', allow: true },
    ...extra,
  };
}

async function written(file: string, events: DecisionLogEvent[], mask?: (e: DecisionLogEvent) => DecisionLogEvent) {
  const log = createDecisionLog({ file, ...(mask ? { mask } : {}) });
  for (const e of events) log.write(e);
  await log.close();
  return readFileSync(file, 'utf8').trimEnd().split('\n');
}

const input = () => ({
  version: 1,
  call: {
    name: 'run_tests',
    arguments: { service: 'billing-api', note: 'é \u2028 "quoted" \ud800', n: [1, 2.5, null] },
  },
  history: [{ tool: 'run_tests', outcome: 'success', result: { passed: 120 } }],
  now_ms: 1738324800000,
});

test('a line is JSON.stringify(event), whether or not the policy serialised the input before', async () => {
  const serialised = input();
  documentJson(serialised); // what the policy worker does with the input it evaluates
  const events = [
    event('d1', serialised),
    event('d2', input()),
    // Fields absent, undefined, or in another order (a mask's upsert of /input appends it last).
    { ...event('d3', undefined, { error: { code: 'policy_timeout', message: 'too slow' } }), result: undefined },
    (({ input: moved, ...rest }) => ({ ...rest, erased: ['/input/call'], input: moved }))(event('d4', serialised)),
    event('d5', 'not an object'),
  ];
  const lines = await written(join(tmp.dir, 'plain.jsonl'), events);
  expect(lines).toEqual(events.map((e) => JSON.stringify(e)));
});

test('a redacted input is written as redacted, not as the text the policy saw', async () => {
  const serialised = input();
  documentJson(serialised);
  const redaction = createRedaction(['service'], 'redaction-key');
  const events = [event('d1', serialised)];
  const [line] = await written(join(tmp.dir, 'redacted.jsonl'), events, redaction.decision);
  expect(line).toBe(JSON.stringify(redaction.decision(events[0]!)));
  expect(line).not.toContain('billing-api');
  expect(line).toContain('[REDACTED:hmac-sha256:');
});
