import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditEventInput, AuditStore } from '../../../src/audit/index.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

/** A fresh directory under test/.tmp (gitignored); remove it with the returned function. */
export function tempDir(prefix = 'audit-'): { dir: string; cleanup: () => void } {
  mkdirSync(join(ROOT, 'test/.tmp'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'test/.tmp', prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The events of one realistic tool call, as the proxy will send them. */
export function callEvents(session: string, callId: string, i: number, allow = true): AuditEventInput[] {
  const base = new Date(Date.UTC(2025, 0, 1, 12, 0, 0) + i * 1000);
  const at = (ms: number): string => new Date(base.getTime() + ms).toISOString();
  const events: AuditEventInput[] = [
    {
      type: 'call.received',
      session_id: session,
      at: at(0),
      data: { call_id: callId, kind: 'tool', server: 'ci', tool: 'deploy', name: 'deploy', arguments: { service: 'api', n: i } },
    },
    {
      type: 'call.decided',
      session_id: session,
      at: at(1),
      data: {
        call_id: callId,
        decision_id: `d-${callId}`,
        allow,
        reasons: allow ? [] : [{ rule: 'deploy.tests_first', message: 'run_tests must succeed before deploy' }],
        monitored: false,
        obligations: {},
        revision: 'rev-1',
        mode: 'enforce',
        enforced: true,
      },
    },
  ];
  if (allow) {
    events.push(
      { type: 'call.forwarded', session_id: session, at: at(2), data: { call_id: callId, server: 'ci' } },
      {
        type: 'call.completed',
        session_id: session,
        at: at(300),
        data: { call_id: callId, outcome: 'success', duration_ms: 298, result_digest: 'sha256:abc', result: { text: 'ok' } },
      },
    );
  }
  return events;
}

/** Appends `n` simple records carrying principal "alice" (the tamper cases rewrite that name). */
export async function fill(store: AuditStore, n: number, session = 's-1'): Promise<void> {
  for (let i = 1; i <= n; i++) {
    await store.append({
      type: i === 1 ? 'session.opened' : 'call.received',
      session_id: session,
      at: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString(),
      data: i === 1 ? { client: { name: 'test' }, principal: 'alice' } : { call_id: `c-${i}`, principal: 'alice', tool: 'run_tests', arguments: { i } },
    });
  }
}
