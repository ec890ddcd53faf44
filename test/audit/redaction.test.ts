import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  applyMasks,
  callCompleted,
  callReceived,
  createRedactor,
  openAuditStore,
  verifyChain,
} from '../../src/audit/index.js';
import { received, tempDir } from './helpers/fixtures.js';

const SECRET_ARG = 'hunter2-S3CR3T-value';
const HMAC_KEY = 'redaction-key-never-stored';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('redact-');
});
afterAll(() => tmp.cleanup());

describe('createRedactor', () => {
  const redact = createRedactor({
    keys: ['password', 'Token'],
    pointers: ['/arguments/card/number', '/arguments/list/1', '/missing/x'],
    secret: HMAC_KEY,
  });

  test('replaces named keys at any depth and pointers, returning a copy', () => {
    const input = {
      arguments: {
        user: 'al',
        PASSWORD: SECRET_ARG,
        nested: [{ token: { a: 1 } }],
        card: { number: '4111111111111111', exp: '12/30' },
        list: ['a', 'b'],
      },
    };
    const out = redact(input) as typeof input;
    expect(out.arguments.user).toBe('al');
    expect(out.arguments.PASSWORD).toMatch(/^\[REDACTED:hmac-sha256:[0-9a-f]{16}\]$/);
    expect((out.arguments.nested[0] as Record<string, unknown>).token).toMatch(/^\[REDACTED:hmac-sha256:/);
    expect(out.arguments.card.number).toMatch(/^\[REDACTED:hmac-sha256:/);
    expect(out.arguments.card.exp).toBe('12/30');
    expect(out.arguments.list).toEqual(['a', expect.stringMatching(/^\[REDACTED:/)]);
    expect(input.arguments.PASSWORD).toBe(SECRET_ARG); // the original is untouched
    expect(JSON.stringify(out)).not.toContain(SECRET_ARG);
  });

  test('equal values give equal marks, other keys give other marks', () => {
    const a = redact({ password: SECRET_ARG }) as { password: string };
    const b = redact({ deep: { password: SECRET_ARG } }) as { deep: { password: string } };
    const other = createRedactor({ keys: ['password'], secret: 'another-key' })({ password: SECRET_ARG }) as {
      password: string;
    };
    expect(a.password).toBe(b.deep.password);
    expect(other.password).not.toBe(a.password);
  });

  test('bad pointers and an empty secret are refused at setup', () => {
    expect(() => createRedactor({ pointers: ['arguments/x'], secret: 'k' })).toThrow(/must start with "\/"/);
    expect(() => createRedactor({ keys: ['x'], secret: '' })).toThrow(/non-empty secret/);
  });
});

describe('applyMasks (OPA system.log.mask)', () => {
  const event = {
    decision_id: 'd1',
    input: { call: { arguments: { password: 'p', pin: '1234', items: [1, 2, 3] } } },
    result: { allow: true },
  };

  test('strings remove, upsert sets (creating parents), and both are listed as OPA does', () => {
    const out = applyMasks(event, [
      '/input/call/arguments/password',
      { op: 'upsert', path: '/input/call/arguments/pin', value: '****' },
      { op: 'upsert', path: '/input/call/extra/note', value: 'x' },
      { op: 'remove', path: '/input/call/arguments/items/0' },
      '/input/does/not/exist',
    ]);
    expect(out.input.call.arguments).toEqual({ pin: '****', items: [2, 3] });
    expect((out.input.call as Record<string, unknown>).extra).toEqual({ note: 'x' });
    expect(out.erased).toEqual(['/input/call/arguments/password', '/input/call/arguments/items/0']);
    expect(out.masked).toEqual(['/input/call/arguments/pin', '/input/call/extra/note']);
    expect(event.input.call.arguments.password).toBe('p');
  });

  test('whole roots can go, ill-formed masks are reported and skipped', () => {
    const errors: string[] = [];
    const out = applyMasks(event, ['/result', { op: 'explode', path: '/input' }, '/custom/x', 42, { op: 'upsert' }], {
      onError: (_m, msg) => errors.push(msg),
    });
    expect(out.result).toBeUndefined();
    expect(out.erased).toEqual(['/result']);
    expect(errors).toHaveLength(4);
  });
});

test('a redacted secret never reaches the SQLite file, its WAL, or the HMAC key either', async () => {
  const file = join(tmp.dir, 'audit.db');
  const redact = createRedactor({
    keys: ['password', 'api_key'],
    pointers: ['/result/structuredContent/token'],
    secret: HMAC_KEY,
  });
  const store = await openAuditStore(`sqlite:${file}`, { redact: (data) => redact(data) });
  const args = { user: 'al', password: SECRET_ARG, config: { api_key: SECRET_ARG } };
  const r = await store.append(callReceived('s', received('c1', 'login', args, 0)));
  const result = { structuredContent: { token: SECRET_ARG } };
  const completed = { call_id: 'c1', outcome: 'success' as const, duration_ms: 1, result_digest: 'sha256:0', result };
  await store.append(callCompleted('s', completed));
  expect(JSON.stringify(r)).not.toContain(SECRET_ARG);
  const scan = (): string[] =>
    readdirSync(tmp.dir)
      .filter((name) => name.startsWith('audit.db'))
      .filter((name) => {
        const bytes = readFileSync(join(tmp.dir, name));
        return bytes.includes(SECRET_ARG) || bytes.includes(HMAC_KEY);
      });
  // While open, the records live in the WAL; after close they are checkpointed into the file.
  expect(readdirSync(tmp.dir)).toContain('audit.db-wal');
  expect(readFileSync(join(tmp.dir, 'audit.db-wal')).includes('login')).toBe(true); // the scan does see record bytes
  expect(scan()).toEqual([]);
  expect(await verifyChain(store)).toMatchObject({ ok: true, count: 2 });
  await store.close();
  expect(readFileSync(file).includes('login')).toBe(true);
  expect(scan()).toEqual([]);
});
