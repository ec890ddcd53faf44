// The list filter (src/proxy/visibility.ts) on real Rego compiled with the real opa: the shipped
// policy's mcp/visible, a policy without it (lists unfiltered), and one whose answers are broken
// (lists withheld, a warning logged).
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import winston from 'winston';
import { compileDirectory } from '../../src/bundles/index.js';
import { WorkerEngine } from '../../src/policy/index.js';
import { ListFilter, visibilityInput, type ListItemKind, type ListPage } from '../../src/proxy/index.js';
import { POLICIES, ROOT } from '../helpers/warden.js';

const engines: Record<'shipped' | 'none' | 'broken', WorkerEngine> = {} as never;
beforeAll(async () => {
  const load = async (dir: string): Promise<WorkerEngine> =>
    WorkerEngine.load(await compileDirectory(dir, 'mcp/decision'), 'mcp/decision');
  engines.shipped = await load(join(ROOT, 'policy'));
  engines.none = await load(join(POLICIES, 'allow-all'));
  engines.broken = await load(join(POLICIES, 'visible-broken'));
}, 120_000);
afterAll(async () => {
  await Promise.all(Object.values(engines).map((e) => e.close()));
});

/** A real winston logger whose lines land in `lines`. */
function capturingLogger(): { logger: winston.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  const logger = winston.createLogger({
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, lines };
}

const TOOLS = [
  { name: 'run_tests', description: 'Runs the tests' },
  { name: 'deploy_to_production', annotations: { destructiveHint: true } },
];

function page(kind: ListItemKind, roles: string[], entries: Record<string, unknown>[] = TOOLS): ListPage {
  return {
    kind,
    principal: { sub: 'carol', roles, claims: {} },
    session: { id: 's-1', client: { name: 'test', version: '1' } },
    entries: entries.map((entry) => ({ entry, server: 'ci' })),
  };
}

const names = (entries: Record<string, unknown>[]): unknown[] => entries.map((e) => e['name']);

describe('ListFilter', () => {
  test('the input has the documented shape, and no history', () => {
    const resource = { name: 'readme', uri: 'file:///readme', annotations: { audience: ['user'] } };
    expect(visibilityInput(page('resource', ['dev'], [resource]))).toEqual({
      version: 1,
      kind: 'resource',
      principal: { sub: 'carol', roles: ['dev'], claims: {} },
      session: { id: 's-1', client: { name: 'test', version: '1' } },
      items: [{ name: 'readme', server: 'ci', uri: 'file:///readme', annotations: { audience: ['user'] } }],
    });
    const template = { name: 'file', uriTemplate: 'file:///{path}' };
    expect(visibilityInput(page('resource_template', [], [template])).items).toEqual([
      { name: 'file', server: 'ci', uri: 'file:///{path}' },
    ]);
  });

  test.each([
    ['a developer', ['developer'], ['run_tests', 'deploy_to_production']],
    ['a release manager', ['release-manager'], ['run_tests', 'deploy_to_production']],
    ['an admin', ['admin'], ['run_tests']],
    ['a principal without roles', [], ['run_tests']],
  ])('the shipped policy: %s sees %j', async (_who, roles, visible) => {
    const { logger, lines } = capturingLogger();
    const entries = await new ListFilter(engines.shipped, logger, 'enforce').visible(page('tool', roles));
    expect(names(entries)).toEqual(visible);
    // The entries are passed through as the downstream server described them.
    expect(entries[0]).toBe(TOOLS[0]);
    expect(lines).toEqual([]);
  });

  test('the shipped policy keys resources by their URI, and hides one without a URI', async () => {
    const { logger } = capturingLogger();
    const resources = [{ name: 'readme', uri: 'file:///readme' }, { name: 'no-uri' }];
    const entries = await new ListFilter(engines.shipped, logger, 'enforce').visible(page('resource', [], resources));
    expect(names(entries)).toEqual(['readme']);
  });

  test('a policy without mcp/visible lists everything', async () => {
    const { logger, lines } = capturingLogger();
    const entries = await new ListFilter(engines.none, logger, 'enforce').visible(page('tool', []));
    expect(names(entries)).toEqual(['run_tests', 'deploy_to_production']);
    expect(lines).toEqual([]);
  });

  test.each([
    ['names that are not all strings', 'tool', /must answer with names \(strings\); it gave a number/],
    ['a string', 'prompt', /must answer with an array \(or set\) of names, not a string/],
    ['no answer', 'resource', /undefined/],
  ] as const)('a policy answering %s gets an empty list and a warning (fail closed)', async (_what, kind, error) => {
    const { logger, lines } = capturingLogger();
    const entries = TOOLS.map((t) => ({ ...t, uri: `file:///${t.name}` }));
    expect(await new ListFilter(engines.broken, logger, 'enforce').visible(page(kind, ['developer'], entries))).toEqual(
      [],
    );
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: 'policy failure: list withheld (fail closed)',
        entrypoint: 'mcp/visible',
        kind,
        session_id: 's-1',
        principal: 'carol',
        error: expect.stringMatching(error),
      }),
    ]);
  });

  test('monitor mode hides nothing: it logs what would be hidden, and lists through a failure', async () => {
    const { logger, lines } = capturingLogger();
    const shipped = await new ListFilter(engines.shipped, logger, 'monitor').visible(page('tool', ['admin']));
    expect(names(shipped)).toEqual(['run_tests', 'deploy_to_production']);
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', message: 'monitor: would hide', hidden: ['deploy_to_production'] }),
    ]);
    const broken = await new ListFilter(engines.broken, logger, 'monitor').visible(page('tool', ['admin']));
    expect(names(broken)).toEqual(['run_tests', 'deploy_to_production']);
    expect(lines[1]).toMatchObject({ level: 'warn', message: 'policy failure: list not filtered (monitor mode)' });
  });
});
