import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { CLI, POLICIES, SERVERS, nodeServer, startWarden, textOf } from '../helpers/warden.js';

// Issue 11: the decision log redacted twice (the call, then the whole input again), so a secret's
// mark there was the HMAC of its mark, not of the secret, and differed from the audit trail's.
// Now one redaction runs once per value: the decision log (call and history) and the trail agree,
// and both are the mark docs/audit.md defines, even when a name and a pointer match the same value.

const KEY = 'decision-log-redaction-key-0123';
const PASSWORD = 'hunter2-S3CR3T';
const CARD = '4111111111111111';

/** The mark docs/audit.md defines: the first 16 hex digits of HMAC-SHA256(key, RFC 8785 JSON of the value). */
function mark(value: string): string {
  return `[REDACTED:hmac-sha256:${createHmac('sha256', KEY).update(JSON.stringify(value)).digest('hex').slice(0, 16)}]`;
}

type Input = { call: { arguments: Record<string, unknown> }; history: { arguments: Record<string, unknown> }[] };

test('one secret, one mark: the decision log (call and history) and the audit trail agree (stdio)', async () => {
  const w = await startWarden({
    mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
    policy: { bundle: join(POLICIES, 'allow-all') },
    audit: { store: 'sqlite:./audit.db', redact: ['password', '/password', '/card/number'], redactKey: KEY },
  });
  try {
    const first = { message: 'one', password: PASSWORD, card: { number: CARD } };
    expect(textOf(await w.client.callTool({ name: 'echo', arguments: first }))).toBe('one');
    const second = { message: 'two', password: PASSWORD };
    expect(textOf(await w.client.callTool({ name: 'echo', arguments: second }))).toBe('two');
  } finally {
    await w.close();
  }
  const inputs = w.decisions().map((d) => d['input'] as Input);
  expect(inputs).toHaveLength(2);
  const firstMarked = { message: 'one', password: mark(PASSWORD), card: { number: mark(CARD) } };
  expect(inputs[0]!.call.arguments).toEqual(firstMarked);
  expect(inputs[1]!.call.arguments).toEqual({ message: 'two', password: mark(PASSWORD) });
  expect(inputs[1]!.history[0]!.arguments).toEqual(firstMarked);

  const store = `sqlite:${join(w.dir, 'audit.db')}`;
  const exported = spawnSync(process.execPath, [CLI, 'audit', 'export', '--store', store], { encoding: 'utf8' });
  const received = exported.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; data: { arguments?: Record<string, unknown> } })
    .filter((r) => r.type === 'call.received')
    .map((r) => r.data.arguments);
  expect(received).toEqual([inputs[0]!.call.arguments, inputs[1]!.call.arguments]);
  const log = readFileSync(join(w.dir, 'decisions.jsonl'), 'utf8');
  expect(log).not.toContain(PASSWORD);
  expect(log).not.toContain(CARD);
});
