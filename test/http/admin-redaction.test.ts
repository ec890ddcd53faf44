import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnHttpWarden, type SpawnedWarden } from '../helpers/http.js';
import { CLI, eventually, textOf } from '../helpers/warden.js';
import { PEOPLE, admin, agent, approvalConfig, followEvents, type Person, type SseEvent } from './admin-helpers.js';

// What people and logs see of a call's arguments, through a real `warden serve --http` with
// audit.redact: the approvals view, the live event stream and its replay buffer, the decision
// log and the audit trail all show one placeholder per secret (issue 11: break 8, and the
// decision log that redacted twice), and all of them keep a `__proto__` argument (break 5).

const REDACT_KEY = 'redact-key-for-admin-redaction-tests';
const SECRETS = { password: 'hunter2-S3CR3T-pw', api_key: 'ak-S3CR3T-0123456789', card: '4111111111111111' };
const PROTO_JSON = '{"__proto__":{"x":1},"a":1,"message":"approve-me proto"}';

/** The mark Warden must write for `value` (docs/audit.md): HMAC-SHA256 of its RFC 8785 JSON, 16 hex. */
function mark(value: string): string {
  const hmac = createHmac('sha256', REDACT_KEY).update(JSON.stringify(value)).digest('hex');
  return `[REDACTED:hmac-sha256:${hmac.slice(0, 16)}]`;
}

type Args = Record<string, unknown>;
type Pending = { id: string; session_id: string; call: { name: string; arguments: Args } };
type Row = { type: string; data: Record<string, unknown> };
type LoggedInput = { call: { arguments: Args }; history: { arguments: Args }[] };

const messageOf = (args: unknown): unknown => (args as { message?: unknown } | undefined)?.message;
const inputOf = (decision: Record<string, unknown>): LoggedInput => decision['input'] as LoggedInput;
const approvalOf = (event: SseEvent): Pending => event.data['approval'] as Pending;

async function waitPending(url: string, who: Person, message: string): Promise<{ pending: Pending; text: string }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await admin<{ pending: Pending[] }>(url, '/admin/approvals', who);
    const pending = res.body?.pending?.find((p) => messageOf(p.call.arguments) === message);
    if (pending) return { pending, text: res.text };
    if (Date.now() > deadline) throw new Error(`no pending approval for ${message} in time: ${res.status} ${res.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function approve(url: string, id: string): Promise<void> {
  const answer = await admin(url, `/admin/approvals/${id}`, 'bob', { method: 'POST', body: { approve: true } });
  expect(answer.status).toBe(200);
}

/** The raw text of `/admin/events` replayed from `last_event_id`, read until `until` shows up. */
async function replayText(url: string, who: Person, lastEventId: number, until: string): Promise<string> {
  const controller = new AbortController();
  const res = await fetch(`${url}/admin/events?last_event_id=${lastEventId}`, {
    headers: { Authorization: `Bearer ${PEOPLE[who].token}`, Accept: 'text/event-stream' },
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + 10_000;
  try {
    while (!text.includes(until) && Date.now() < deadline) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    controller.abort();
  }
  return text;
}

function exportTrail(w: SpawnedWarden): { records: Row[]; verified: boolean } {
  const store = `sqlite:${join(w.dir, 'audit.db')}`;
  const run = (command: string) =>
    spawnSync(process.execPath, [CLI, 'audit', command, '--store', store], { encoding: 'utf8' });
  const records = run('export')
    .stdout.split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Row);
  return { records, verified: run('verify').status === 0 };
}

const receivedFor = (records: Row[], message: string): Row =>
  records.find((r) => r.type === 'call.received' && messageOf(r.data['arguments']) === message)!;

describe('redaction and untrusted keys in what people and logs see (HTTP, audit.redact)', () => {
  let w: SpawnedWarden;
  let adminStream: Awaited<ReturnType<typeof followEvents>>;
  let approverStream: Awaited<ReturnType<typeof followEvents>>;
  let replayed = '';
  let approvalsText = '';
  let sessionText = '';
  let protoPending: Pending;
  let protoEvent: SseEvent;
  const closeStreams = (): void => {
    adminStream?.close();
    approverStream?.close();
  };

  beforeAll(async () => {
    w = await spawnHttpWarden({
      ...approvalConfig(),
      audit: { store: 'sqlite:$DIR/audit.db', redact: ['password', 'api_key', '/card/number'], redactKey: REDACT_KEY },
    });
    adminStream = await followEvents(w.url, 'carol');
    approverStream = await followEvents(w.url, 'bob');
    const alice = await agent(w.url, 'alice');
    try {
      // A held call carrying secrets: an approver looks at it in the admin API and the event stream.
      const secretArgs = {
        message: 'approve-me secret',
        password: SECRETS.password,
        config: { api_key: SECRETS.api_key },
        card: { number: SECRETS.card, exp: '12/30' },
      };
      const held = alice.client.callTool({ name: 'echo', arguments: secretArgs });
      const { pending, text } = await waitPending(w.url, 'bob', 'approve-me secret');
      approvalsText = text;
      await approve(w.url, pending.id);
      expect(textOf(await held)).toBe('approve-me secret');
      // The same password again: the decision log then holds it in input.history too.
      await alice.client.callTool({ name: 'echo', arguments: { message: 'plain', password: SECRETS.password } });
      replayed = await replayText(w.url, 'carol', 1, 'approval.resolved');

      // Arguments as a client's JSON.parse gives them: `__proto__` is an own key.
      const protoCall = alice.client.callTool({ name: 'echo', arguments: JSON.parse(PROTO_JSON) as Args });
      protoPending = (await waitPending(w.url, 'bob', 'approve-me proto')).pending;
      const isProto = (e: SseEvent): boolean => e.type === 'approval.pending' && approvalOf(e).id === protoPending.id;
      protoEvent = await eventually(() => approverStream.events.find(isProto), 10_000);
      await approve(w.url, protoPending.id);
      expect(textOf(await protoCall)).toBe('approve-me proto');
      sessionText = (await admin(w.url, `/admin/sessions/${protoPending.session_id}`, 'carol')).text;
      await eventually(() => adminStream.events.filter((e) => e.type === 'approval.resolved').length >= 2, 10_000);
    } finally {
      await alice.close();
      closeStreams();
    }
    // Stopped, so the decision log is flushed and the trail has its closing checkpoint.
    expect(await w.stop()).toBe(0);
  });

  afterAll(async () => {
    closeStreams();
    await w?.stop();
  });

  test('GET /admin/approvals shows the placeholders, never the values (break 8)', () => {
    const { pending } = JSON.parse(approvalsText) as { pending: Pending[] };
    expect(pending.find((p) => messageOf(p.call.arguments) === 'approve-me secret')!.call.arguments).toEqual({
      message: 'approve-me secret',
      password: mark(SECRETS.password),
      config: { api_key: mark(SECRETS.api_key) },
      card: { number: mark(SECRETS.card), exp: '12/30' },
    });
    for (const secret of Object.values(SECRETS)) expect(approvalsText).not.toContain(secret);
  });

  test('the /admin/events stream and its replay buffer carry the placeholders, never the values (break 8)', () => {
    for (const stream of [adminStream, approverStream]) {
      const pending = stream.events.find((e) => e.type === 'approval.pending')!;
      const marked = { password: mark(SECRETS.password), config: { api_key: mark(SECRETS.api_key) } };
      expect(approvalOf(pending).call.arguments).toMatchObject(marked);
      const resolved = stream.events.find((e) => e.type === 'approval.resolved')!;
      expect(approvalOf(resolved).call.arguments).toMatchObject(marked);
      const everything = JSON.stringify(stream.events);
      for (const secret of Object.values(SECRETS)) expect(everything).not.toContain(secret);
    }
    expect(replayed).toContain('event: approval.pending');
    expect(replayed).toContain(mark(SECRETS.password));
    for (const secret of Object.values(SECRETS)) expect(replayed).not.toContain(secret);
  });

  test('one secret, one placeholder: the decision log (call and history), the trail and the approvers agree', () => {
    const marked = {
      password: mark(SECRETS.password),
      config: { api_key: mark(SECRETS.api_key) },
      card: { number: mark(SECRETS.card) },
    };
    const decisions = w.decisions();
    const first = decisions.find((d) => messageOf(inputOf(d).call.arguments) === 'approve-me secret')!;
    expect(inputOf(first).call.arguments).toMatchObject(marked);
    const plain = inputOf(decisions.find((d) => messageOf(inputOf(d).call.arguments) === 'plain')!);
    expect(plain.call.arguments['password']).toBe(mark(SECRETS.password));
    expect(plain.history[0]!.arguments).toMatchObject(marked);

    const { records, verified } = exportTrail(w);
    expect(verified).toBe(true);
    expect(receivedFor(records, 'approve-me secret').data['arguments']).toMatchObject(marked);
    const logText = readFileSync(w.decisionLog, 'utf8');
    for (const secret of Object.values(SECRETS)) {
      expect(logText).not.toContain(secret);
      expect(JSON.stringify(records)).not.toContain(secret);
    }
  });

  test('a __proto__ argument is kept in approvals, events, session trace, decision log and trail (break 5)', () => {
    expect(Object.keys(protoPending.call.arguments)).toEqual(['__proto__', 'a', 'message']);
    expect(JSON.stringify(protoPending.call.arguments)).toBe(PROTO_JSON);
    expect(JSON.stringify(approvalOf(protoEvent).call.arguments)).toBe(PROTO_JSON);
    // The session trace the dashboard shows (GET /admin/sessions/:id).
    const { report } = JSON.parse(sessionText) as { report: { calls: { call_id: string; arguments: object }[] } };
    expect(JSON.stringify(report.calls.find((c) => c.call_id === protoPending.id)!.arguments)).toBe(PROTO_JSON);

    const logged = w.decisions().filter((d) => messageOf(inputOf(d).call.arguments) === 'approve-me proto');
    expect(logged).toHaveLength(2);
    for (const d of logged) expect(Object.keys(inputOf(d).call.arguments)).toEqual(['__proto__', 'a', 'message']);
    const { records, verified } = exportTrail(w);
    expect(verified).toBe(true);
    expect(JSON.stringify(receivedFor(records, 'approve-me proto').data['arguments'])).toBe(PROTO_JSON);
  });
});
