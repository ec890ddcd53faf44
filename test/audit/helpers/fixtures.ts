import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  callCompleted,
  callDecided,
  callForwarded,
  callReceived,
  sessionOpened,
  type AuditEvent,
  type AuditRecord,
  type AuditStore,
  type CallReceivedData,
} from '../../../src/audit/index.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

/** A fresh directory under test/.tmp (gitignored); remove it with the returned function. */
export function tempDir(prefix = 'audit-'): { dir: string; cleanup: () => void } {
  mkdirSync(join(ROOT, 'test/.tmp'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'test/.tmp', prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A trail exported from a real Warden (test/fixtures/audit/README.md). */
export function fixtureTrail(name: string): AuditRecord[] {
  const text = readFileSync(join(ROOT, 'test/fixtures/audit', name), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditRecord);
}

/** A tool call's `call.received` data (server `ci`, no annotations). */
export function received(callId: string, name: string, args: Record<string, unknown>, nowMs: number): CallReceivedData {
  return {
    call_id: callId,
    kind: 'tool',
    server: 'ci',
    tool: name,
    name,
    arguments: args,
    annotations: {},
    now_ms: nowMs,
  };
}

/** The events of one realistic tool call, built with the constructors the pipeline uses. */
export function callEvents(session: string, callId: string, i: number, allow = true): AuditEvent[] {
  const base = Date.UTC(2025, 0, 1, 12, 0, 0) + i * 1000;
  const at = (ms: number): string => new Date(base + ms).toISOString();
  const events: AuditEvent[] = [
    callReceived(session, received(callId, 'deploy', { service: 'api', n: i }, base), at(0)),
    callDecided(
      session,
      {
        call_id: callId,
        decision_id: `d-${callId}`,
        allow,
        policy_allow: allow,
        reasons: allow ? [] : [{ rule: 'deploy.tests_first', message: 'run_tests must succeed before deploy' }],
        monitored: [],
        obligations: {},
        revision: 'rev-1',
        mode: 'enforce',
        now_ms: base + 1,
      },
      at(1),
    ),
  ];
  if (allow) {
    const completed = { call_id: callId, outcome: 'success' as const, duration_ms: 298, result_digest: 'sha256:abc' };
    events.push(
      callForwarded(session, { call_id: callId, server: 'ci' }, at(2)),
      callCompleted(session, { ...completed, result: { structuredContent: { ok: true } } }, at(300)),
    );
  }
  return events;
}

/** Appends `n` simple records that name principal "alice" (the tamper cases rewrite that name). */
export async function fill(store: AuditStore, n: number, session = 's-1'): Promise<void> {
  const principal = { sub: 'alice', roles: [], claims: {} };
  for (let i = 1; i <= n; i++) {
    const ms = Date.UTC(2025, 0, 1) + i * 60_000;
    const at = new Date(ms).toISOString();
    await store.append(
      i === 1
        ? sessionOpened(session, { client: { name: 'test', version: '1' }, principal, started_at: at }, at)
        : callReceived(session, received(`c-${i}`, 'run_tests', { by: 'alice', i }, ms), at),
    );
  }
}
