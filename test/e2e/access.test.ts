// Who sees which tools: the shipped policy's mcp/visible and policy/access.yaml, which keeps
// deploy_to_production to release managers and developers. Two principals of different roles
// (bearer auth) list the example CI server's tools through an in-process HTTP Warden: the
// developer sees the deploy, the admin does not, and the admin's call of it anyway is denied with
// access.role_required, never forwarded. A 2026-07-28 client gets the same filtered list, marked
// cacheScope private.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { textOf } from '../helpers/warden.js';
import { rpcMessage, startHttpWarden, type InProcessWarden } from '../helpers/http.js';
import { envelope, modernPost, modernTool } from '../helpers/modern.js';
import { PEOPLE, agent, shippedConfig, type Person } from '../http/admin-helpers.js';

const DEPLOY = 'deploy_to_production';
const ROLE_REASON =
  'deploy_to_production needs one of the roles developer, release-manager (policy/access.yaml); carol holds admin';

let w: InProcessWarden;
beforeAll(async () => {
  w = await startHttpWarden(shippedConfig());
});
afterAll(async () => {
  await w?.close();
});

async function toolNames(who: Person): Promise<string[]> {
  const a = await agent(w.url, who);
  try {
    return (await a.client.listTools()).tools.map((t) => t.name);
  } finally {
    await a.close();
  }
}

function deployDecisions(sub: string): Record<string, unknown>[] {
  return w.decisions().filter((d) => {
    const input = d['input'] as { call?: { name: string }; principal?: { sub: string } };
    return input.call?.name === DEPLOY && input.principal?.sub === sub;
  });
}

describe('lists filtered per principal (mcp/visible, policy/access.yaml)', () => {
  test('a developer sees deploy_to_production; an admin sees the other tools only', async () => {
    const alice = await toolNames('alice');
    const carol = await toolNames('carol');
    expect(alice).toEqual(expect.arrayContaining(['run_tests', 'security_scan', DEPLOY]));
    expect(carol).not.toContain(DEPLOY);
    expect(carol).toEqual(alice.filter((name) => name !== DEPLOY));
  });

  test('the admin calling the hidden tool anyway is denied with access.role_required, naming the roles', async () => {
    const carol = await agent(w.url, 'carol');
    try {
      const denied = await carol.client.callTool({ name: DEPLOY, arguments: { service: 'svc-access' } });
      expect(denied.isError).toBe(true);
      expect(textOf(denied)).toContain(`${ROLE_REASON} [access.role_required]`);
      const decision = (denied._meta as Record<string, { reasons: { rule: string; message: string }[] }>)[
        'mcp-warden.dev/decision'
      ]!;
      expect(decision.reasons).toContainEqual({ rule: 'access.role_required', message: ROLE_REASON });
    } finally {
      await carol.close();
    }
    expect(w.executed().map((c) => c.tool)).not.toContain(DEPLOY);
    // The decision log records the real decision, with the principal's roles in its input.
    const logged = deployDecisions('carol');
    expect(logged).toHaveLength(1);
    expect(logged[0]!['input']).toMatchObject({ principal: { sub: 'carol', roles: ['admin'] } });
    expect(logged[0]!['result']).toMatchObject({
      allow: false,
      reasons: expect.arrayContaining([{ rule: 'access.role_required', message: ROLE_REASON }]),
    });
  });

  test('the developer calling it is not role-checked: only the workflow stands in the way', async () => {
    const alice = await agent(w.url, 'alice');
    try {
      const denied = await alice.client.callTool({ name: DEPLOY, arguments: { service: 'svc-access' } });
      expect(denied.isError).toBe(true);
      expect(textOf(denied)).toMatch(/run_tests must succeed for service=svc-access/);
      expect(textOf(denied)).not.toContain('access.role_required');
    } finally {
      await alice.close();
    }
  });

  test('a 2026-07-28 client gets the filtered list with cacheScope private, and the same denial', async () => {
    const list = async (who: Person): Promise<Record<string, unknown>> => {
      const res = await modernPost(w.url, PEOPLE[who].token, {
        id: 1,
        method: 'tools/list',
        params: { _meta: envelope() },
      });
      expect(res.status).toBe(200);
      return rpcMessage(res)['result'] as Record<string, unknown>;
    };
    const names = (result: Record<string, unknown>): string[] =>
      (result['tools'] as { name: string }[]).map((t) => t.name);
    const carol = await list('carol');
    const alice = await list('alice');
    expect(names(alice)).toContain(DEPLOY);
    expect(names(carol)).toEqual(names(alice).filter((name) => name !== DEPLOY));
    // A list that differs per principal must not be cached for others: private, as every list is.
    expect(carol).toMatchObject({ resultType: 'complete', ttlMs: 0, cacheScope: 'private' });

    const denied = await modernTool(w.url, PEOPLE.carol.token, DEPLOY, { service: 'svc-modern-access' });
    expect(denied.isError).toBe(true);
    expect(denied.content[0]!.text).toContain(`${ROLE_REASON} [access.role_required]`);
    expect(w.executed().map((c) => c.tool)).not.toContain(DEPLOY);
  });
});
