// An approval covers the one call it was given for (issue 11, break 1). The attack: with the
// shipped production_deployment workflow, an approved deploy of svc-x is still rolling out
// downstream when the same session asks to deploy svc-y. Counting approvals against completed
// runs let svc-y through with no approval. Here a real Warden process (warden serve --http), the
// real SDK client as alice, and bob approving through the admin API: svc-y must be held for its
// own approval, and run only if that is given.
import { afterEach, describe, expect, test } from 'vitest';
import { eventually, textOf } from '../helpers/warden.js';
import { spawnHttpWarden, type SpawnedWarden } from '../helpers/http.js';
import { admin, agent, shippedConfig } from '../http/admin-helpers.js';

type Pending = { id: string; call: { name: string; arguments: Record<string, unknown> } };

const DEPLOY = 'deploy_to_production';

let w: SpawnedWarden | undefined;
afterEach(async () => {
  await w?.stop();
  w = undefined;
});

/** The shipped policy in front of the example CI server, whose deploys take `rolloutMs`. */
function slowDeploys(rolloutMs: number): Record<string, unknown> {
  const config = shippedConfig();
  const servers = config['mcpServers'] as Record<string, { env: Record<string, string> }>;
  servers['ci']!.env['CI_DEPLOY_MS'] = String(rolloutMs);
  return config;
}

/** The approval pending for a deploy of `service`, as bob sees it; fails after `ms`. */
async function pendingFor(url: string, service: string, ms = 10_000): Promise<Pending> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await admin<{ pending: Pending[] }>(url, '/admin/approvals', 'bob');
    const found = res.body.pending?.find((p) => p.call.arguments['service'] === service);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no approval was asked for a deploy of ${service}: ${res.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('an approval is bound to its call and used up when the call is forwarded', () => {
  test('a second deploy while an approved one still runs downstream is held for its own approval', async () => {
    w = await spawnHttpWarden(slowDeploys(4000));
    const a = await agent(w.url, 'alice');
    try {
      for (const service of ['svc-x', 'svc-y']) {
        for (const name of ['run_tests', 'security_scan']) {
          const result = await a.client.callTool({ name, arguments: { service } });
          expect(result.isError, `${name} ${service}`).toBeFalsy();
        }
      }
      const deploys = (): unknown[] =>
        w!
          .executed()
          .filter((c) => c.tool === DEPLOY)
          .map((c) => c.arguments['service']);
      const answer = (id: string, body: Record<string, unknown>) =>
        admin(w!.url, `/admin/approvals/${id}`, 'bob', { method: 'POST', body });

      // svc-x: held, approved by bob, forwarded; the rollout takes 4 s.
      let xDone = false;
      const x = a.client.callTool({ name: DEPLOY, arguments: { service: 'svc-x' } }).finally(() => (xDone = true));
      x.catch(() => undefined); // awaited below; a failed assertion first must not leave it unhandled
      const approvalX = await pendingFor(w.url, 'svc-x');
      expect((await answer(approvalX.id, { approve: true })).status).toBe(200);
      await eventually(() => deploys().includes('svc-x'));

      // svc-y, same session, while svc-x still runs: held for an approval of its own.
      const y = a.client.callTool({ name: DEPLOY, arguments: { service: 'svc-y' } });
      y.catch(() => undefined);
      const approvalY = await pendingFor(w.url, 'svc-y', 3000);
      expect(xDone, 'svc-x was still rolling out when svc-y was decided').toBe(false);
      expect(approvalY.id).not.toBe(approvalX.id);
      expect(deploys()).toEqual(['svc-x']);
      expect((await answer(approvalY.id, { approve: false, comment: 'one at a time' })).status).toBe(200);

      const resultY = await y;
      expect(resultY.isError).toBe(true);
      expect(textOf(resultY)).toContain(
        'approval required: bob denied the approval for deploy_to_production: one at a time [warden.approval_required]',
      );
      const resultX = await x;
      expect(resultX.isError).toBeFalsy();
      expect(deploys()).toEqual(['svc-x']);

      // The decision log: svc-y's decision saw no approval (svc-x's was used up, its call still running).
      type Input = { call: { name: string; id: string; arguments: { service: string } }; approvals: unknown[] };
      const inputs = w
        .decisions()
        .map((d) => d['input'] as Input)
        .filter((i) => i.call.name === DEPLOY);
      expect(inputs.filter((i) => i.call.arguments.service === 'svc-y').map((i) => i.approvals)).toEqual([[]]);
      const approvedX = inputs.find((i) => i.call.arguments.service === 'svc-x' && i.approvals.length > 0)!;
      expect(approvedX.approvals).toEqual([
        {
          tool: DEPLOY,
          by: 'bob',
          at: expect.any(String),
          principal: 'alice',
          call_id: approvedX.call.id,
          arguments_digest: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/),
        },
      ]);
    } finally {
      await a.close();
    }
  });
});
