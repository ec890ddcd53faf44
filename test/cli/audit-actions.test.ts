// The `warden audit` actions called directly, with plain options and a real SQLite trail (no commander).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openAuditStore, sessionClosed, sessionOpened } from '../../src/audit/index.js';
import { auditCompliance, type AuditDeps } from '../../src/cli/audit-command.js';
import { callEvents, tempDir } from '../audit/helpers/fixtures.js';

let tmp: ReturnType<typeof tempDir>;
let url: string;

beforeAll(async () => {
  tmp = tempDir('cli-actions-');
  url = `sqlite:${join(tmp.dir, 'trail.db')}`;
  const store = await openAuditStore(url, { checkpointEvery: 5 });
  try {
    const client = { name: 'claude-ai', version: '1' };
    const opened = '2025-01-01T11:59:00.000Z';
    await store.append(sessionOpened('s-1', { client, principal: null, started_at: opened }, opened));
    await store.append(sessionOpened('s-2', { client, principal: null, started_at: opened }, opened));
    for (const e of callEvents('s-1', 'c1', 0)) await store.append(e);
    for (const e of callEvents('s-1', 'c2', 5, false)) await store.append(e);
    for (const e of callEvents('s-2', 'c3', 10)) await store.append(e);
    await store.append(sessionClosed('s-1', { calls: 2 }, '2025-01-01T12:01:00Z'));
  } finally {
    await store.close();
  }
});
afterAll(() => tmp.cleanup());

function capture(): { deps: AuditDeps; out: () => string; codes: number[] } {
  let out = '';
  const codes: number[] = [];
  const deps: AuditDeps = {
    io: { out: (t) => void (out += t), err: (t) => void (out += t) },
    setExit: (c) => void codes.push(c),
  };
  return { deps, out: () => out, codes };
}

describe('auditCompliance', () => {
  const range = { since: '2025-01-01T00:00:00Z', until: '2025-01-02T00:00:00Z' };

  test('without a policy, sessions are judged by violations alone, and the report says why', async () => {
    const { deps, out, codes } = capture();
    await auditCompliance({ store: url, ...range, bucket: '1h', json: true }, deps);
    const report = JSON.parse(out()) as Record<string, unknown>;
    expect(report).toMatchObject({
      range: { from: '2025-01-01T00:00:00.000Z', to: '2025-01-02T00:00:00.000Z', bucket_ms: 3_600_000 },
      basis: 'violations',
      basis_note: expect.stringContaining('no policy was given') as unknown,
      score: 0.5,
      sessions: { total: 2, judged: 2, compliant: 1, violating: 1 },
      calls: { calls: 3, allowed: 2, denied: 1, violations: 1 },
      violations_by_rule: [{ key: 'deploy.tests_first', count: 1 }],
    });
    // s-2 was never closed: the CLI cannot tell it from a live one, yet it has calls and no violation.
    expect(report['session_states']).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ session_id: 's-1', state: 'violating', violations: 1 }),
        expect.objectContaining({ session_id: 's-2', state: 'compliant', violations: 0 }),
      ]),
    );
    expect(codes).toEqual([]);
  });

  test('text output names the range and the basis', async () => {
    const { deps, out } = capture();
    await auditCompliance({ store: url, ...range, bucket: '1h' }, deps);
    expect(out()).toContain(
      'compliance 2025-01-01T00:00:00.000Z .. 2025-01-02T00:00:00.000Z (bucket 1h), basis violations',
    );
  });

  test('no store given is a usage error naming --store', async () => {
    const { deps } = capture();
    await expect(auditCompliance(range, deps)).rejects.toMatchObject({
      code: 'audit_store_missing',
      message: expect.stringContaining('--store sqlite:PATH') as unknown,
    });
  });
});
