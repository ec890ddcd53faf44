// Policy control through the admin API: the same rollback / reload the CLI asks for through the
// control file, answered at once.
import { afterEach, describe, expect, test } from 'vitest';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHttpWarden, type InProcessWarden } from '../helpers/http.js';
import { POLICIES, SERVERS, nodeServer, tempDir } from '../helpers/warden.js';
import { BEARER, admin } from './admin-helpers.js';

let w: InProcessWarden | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

describe('POST /admin/policy/:action', () => {
  test('reload picks up an edit, rollback returns to the previous revision; only admins may', async () => {
    const dir = join(tempDir('admin-policy'), 'policy');
    cpSync(join(POLICIES, 'allow-all'), dir, { recursive: true });
    w = await startHttpWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: dir },
      auth: BEARER,
    });
    const first = (await admin<{ active: { revision: string } }>(w.url, '/admin/policy', 'carol')).body.active.revision;
    expect(first).toMatch(/^sha256:/);

    // Nothing to go back to yet: 409 with the runtime's reason.
    const early = await admin<{ error: string; error_description: string }>(w.url, '/admin/policy/rollback', 'carol', {
      method: 'POST',
    });
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({
      error: 'policy_rollback_failed',
      error_description: expect.stringMatching(/no previous revision to roll back to/),
    });

    writeFileSync(
      join(dir, 'mcp', 'decision.rego'),
      'package mcp\n\ndecision := {"allow": true, "reasons": [], "monitored": [], "obligations": {}, "edited": true}\n',
    );
    const reloaded = await admin<{ ok: boolean; revision: string; message: string }>(
      w.url,
      '/admin/policy/reload',
      'carol',
      { method: 'POST' },
    );
    expect(reloaded.status).toBe(200);
    expect(reloaded.body).toMatchObject({ ok: true, action: 'reload' });
    expect(reloaded.body.revision).not.toBe(first);

    expect((await admin(w.url, '/admin/policy/rollback', 'alice', { method: 'POST' })).status).toBe(403);
    expect((await admin(w.url, '/admin/policy/rollback', null, { method: 'POST' })).status).toBe(401);
    expect((await admin(w.url, '/admin/policy/explode', 'carol', { method: 'POST' })).status).toBe(404);

    const rolled = await admin<{ ok: boolean; revision: string; message: string }>(
      w.url,
      '/admin/policy/rollback',
      'carol',
      { method: 'POST' },
    );
    expect(rolled.status).toBe(200);
    expect(rolled.body).toMatchObject({ ok: true, action: 'rollback', revision: first });
    expect(rolled.body.message).toBe(`rolled back from ${reloaded.body.revision} to ${first}`);
    expect(
      (await admin<{ active: { revision: string; reason: string } }>(w.url, '/admin/policy', 'carol')).body.active,
    ).toMatchObject({ revision: first, reason: 'rollback' });
  });
});
