// The audit trail's promises, end to end through real Warden processes: nothing acknowledged is
// lost when Warden is killed, replicas share one chain on PostgreSQL, and a call whose decision
// carries an audit obligation is denied when the trail cannot record it.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAuditStore, verifyChain, type AuditRecord } from '../../src/audit/index.js';
import { startPostgres, type TestPostgres } from '../audit/helpers/pg.js';
import { connectHttp, spawnHttpWarden } from '../helpers/http.js';
import { EXAMPLES, POLICIES, ROOT, SERVERS, nodeServer, startWarden, tempDir, textOf } from '../helpers/warden.js';

async function records(store: string): Promise<AuditRecord[]> {
  const s = await openAuditStore(store, { readOnly: true });
  try {
    expect(await verifyChain(s)).toMatchObject({ ok: true });
    return await s.read({});
  } finally {
    await s.close();
  }
}

/** message argument -> the call's events, for echo calls. */
function callsByMessage(all: AuditRecord[]): Map<string, string[]> {
  const ids = new Map<string, string>();
  for (const r of all)
    if (r.type === 'call.received')
      ids.set(String(r.data['call_id']), String((r.data['arguments'] as { message?: string }).message));
  const out = new Map<string, string[]>();
  for (const r of all) {
    const msg = ids.get(String(r.data['call_id']));
    if (msg !== undefined) out.set(msg, [...(out.get(msg) ?? []), r.type]);
  }
  return out;
}

describe('audit durability through Warden', () => {
  test('kill -9 mid-stream: every response the client received has its records, and the chain verifies', async () => {
    const w = await startWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'allow-all') },
    });
    const acknowledged: string[] = [];
    let killed = false;
    const loop = (async () => {
      for (let i = 0; i < 2000 && !killed; i++) {
        const message = `m-${i}`;
        try {
          const r = await w.client.callTool({ name: 'echo', arguments: { message } });
          if (textOf(r) === message) acknowledged.push(message);
        } catch {
          break;
        }
      }
    })();
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 5));
    process.kill(w.pid!, 'SIGKILL');
    killed = true;
    await loop;
    await w.close().catch(() => undefined);

    const calls = callsByMessage(await records(`sqlite:${join(w.dir, 'audit.db')}`));
    expect(acknowledged.length).toBeGreaterThanOrEqual(40);
    for (const message of acknowledged)
      expect(calls.get(message), message).toEqual([
        'call.received',
        'call.decided',
        'call.forwarded',
        'call.completed',
      ]);
  });

  describe('PostgreSQL', () => {
    let pg: TestPostgres;
    beforeAll(async () => {
      pg = await startPostgres({ fast: true });
    }, 600_000);
    afterAll(async () => {
      await pg?.stop();
    });

    test('two Warden replicas append to one chain: no forks, no gaps, every call present', async () => {
      const store = await pg.createDatabase('replicas');
      const config = {
        mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
        policy: { bundle: join(POLICIES, 'allow-all') },
        audit: { store },
      };
      const replicas = await Promise.all([0, 1].map((i) => spawnHttpWarden({ ...config, instance: `replica-${i}` })));
      try {
        const clients = await Promise.all(replicas.map((r) => connectHttp(r.url)));
        await Promise.all(
          clients.map(async ({ client }, replica) => {
            for (let i = 0; i < 40; i++)
              expect(textOf(await client.callTool({ name: 'echo', arguments: { message: `r${replica}-${i}` } }))).toBe(
                `r${replica}-${i}`,
              );
            await client.close();
          }),
        );
      } finally {
        await Promise.all(replicas.map((r) => r.stop()));
      }
      const all = await records(store);
      expect(all.map((r) => r.seq)).toEqual(all.map((_r, i) => i + 1));
      const calls = callsByMessage(all);
      for (const replica of [0, 1])
        for (let i = 0; i < 40; i++)
          expect(calls.get(`r${replica}-${i}`)).toEqual([
            'call.received',
            'call.decided',
            'call.forwarded',
            'call.completed',
          ]);
      // Both replicas' sessions are in the one chain, each naming the replica that served it.
      const servedBy = new Map(
        all.filter((r) => r.type === 'session.opened').map((r) => [r.session_id, r.data['instance']]),
      );
      expect([...servedBy.values()].sort()).toEqual(['replica-0', 'replica-1']);
      for (const r of all.filter((r) => r.type === 'call.received')) {
        const message = String((r.data['arguments'] as { message: string }).message);
        expect(servedBy.get(r.session_id), message).toBe(`replica-${message.slice(1, message.indexOf('-'))}`);
      }
    }, 120_000);

    test('with the store unwritable, a financial call (audit obligation) is denied even when audit.onFailure is allow', async () => {
      const store = await pg.createDatabase('unwritable');
      // The shipped policy without its flow rule, whose reads (by label) every call makes: then only
      // the calls whose workflows read history need the trail to be decided.
      const policy = join(tempDir('unwritable-policy'), 'policy');
      cpSync(join(ROOT, 'policy'), policy, { recursive: true });
      writeFileSync(join(policy, 'flow.yaml'), 'flow:\n');
      const w = await startWarden({
        mcpServers: {
          payments: nodeServer(join(EXAMPLES, 'payments.js'), '$CALL_LOG'),
          crm: nodeServer(join(EXAMPLES, 'crm.js'), '$CALL_LOG'),
        },
        policy: { bundle: policy },
        audit: { store, onFailure: 'allow' },
      });
      try {
        const first = await w.client
          .callTool({ name: 'fraud_check', arguments: { payment_id: 'p-1', amount: 10 } })
          .catch((e: unknown) => {
            throw new Error(`${String(e)}\n--- warden stderr ---\n${w.stderr()}`);
          });
        expect(first.isError).toBeFalsy();
        // Make the trail unwritable under Warden: its table disappears.
        const { default: pgClient } = await import('pg');
        const admin = new pgClient.Client({ connectionString: store });
        await admin.connect();
        await admin.query('ALTER TABLE audit_events RENAME TO audit_events_gone');
        await admin.end();

        const financial = await w.client.callTool({
          name: 'fraud_check',
          arguments: { payment_id: 'p-2', amount: 10 },
        });
        expect(financial.isError).toBe(true);
        expect(textOf(financial)).toMatch(
          /the audit trail could not record this call, and the policy requires an audit record for this call/,
        );
        expect(textOf(financial)).toContain('[warden.audit_unavailable]');
        // onFailure: allow lets a call without the obligation through, loudly.
        const other = await w.client.callTool({
          name: 'validate_customer_data',
          arguments: { customer_id: 'c-1', name: 'Ada', email: 'ada@example.com' },
        });
        expect(other.isError).toBeFalsy();
        // A call whose decision reads the trail (its fraud check, global scope) cannot be judged.
        const payment = await w.client.callTool({
          name: 'payment_processing',
          arguments: { payment_id: 'p-1', amount: 10 },
        });
        expect(payment.isError).toBe(true);
        expect(textOf(payment)).toContain('the history the policy reads could not be read from the audit trail');
        expect(textOf(payment)).toContain('[warden.policy_history_unavailable]');
        expect(
          w
            .executed()
            .filter((c) => c.tool === 'fraud_check')
            .map((c) => c.arguments['payment_id']),
        ).toEqual(['p-1']);
        expect(w.stderr()).toMatch(/audit trail unavailable: call denied/);
      } catch (err) {
        throw new Error(`${String(err)}\n--- warden stderr ---\n${w.stderr()}`);
      } finally {
        await w.close();
      }
    }, 120_000);
  });
});
