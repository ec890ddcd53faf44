// The downstream pool on its own, in front of real fixture servers (stdio children and one Streamable
// HTTP server on loopback): one catalogue under per-server prefixes, routing, paged lists, and what
// the pool does when a server cannot start, clashes, hangs, crashes or is closed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import winston from 'winston';
import { ErrorCode, type Notification } from '@modelcontextprotocol/sdk/types.js';
import { DownstreamError } from '../../src/common/index.js';
import type { ServerConfig, StdioServerConfig } from '../../src/config/index.js';
import { DownstreamPool, type ListKind, type PoolHooks, type RequestOptions } from '../../src/downstream/index.js';
import { startFixtureHttp, type RunningFixture } from '../conformance/run-suite.js';
import { alive } from '../helpers/http.js';
import { eventually, readJsonl, SERVERS, tempDir, textOf } from '../helpers/warden.js';

const DIR = tempDir('pool');
const CALLS = join(DIR, 'calls.jsonl');

/** A fixture server over stdio; `args` resolve against test/fixtures/servers. */
const stdio = (name: string, args: string[], fields: Partial<StdioServerConfig> = {}): ServerConfig => ({
  ...{ kind: 'stdio', name, command: process.execPath, args, cwd: SERVERS, prefix: '', timeoutMs: 5000 },
  ...{ env: { WARDEN_EXAMPLE_LOG: CALLS, SERVER_NAME: name } },
  ...fields,
});
const FAULTY = stdio('faulty', ['faulty.js']);
const ALPHA = stdio('alpha', ['clash.js'], { prefix: 'alpha_' });
const BETA = stdio('beta', ['clash.js'], { prefix: 'beta_' });
const TPL = stdio('tpl', ['templates.mjs', 'tpl', 'file:///{dir}/{file}'], { prefix: 'tpl_' });
const BROKEN = stdio('broken', [], { command: '/nonexistent/mcp-server' });
const EXITS = stdio('exits', ['-e', 'process.stderr.write("missing API_KEY\\n"); process.exit(1)']);
const http = (name: string, url: string, prefix = ''): ServerConfig => ({
  ...{ kind: 'http', name, url, headers: {}, prefix, timeoutMs: 5000 },
});
const NOBODY = http('remote', 'http://127.0.0.1:9/mcp');

const CLIENT = { name: 'pool-test', version: '1.0.0' };
const pools: DownstreamPool[] = [];
/** A pool whose `warn` and `error` lines land in `logs`. */
function pool(configs: ServerConfig[], hooks: PoolHooks = {}, logs: string[] = []): DownstreamPool {
  const stream = new Writable({ write: (chunk, _encoding, done) => done(void logs.push(String(chunk))) });
  const logger = winston.createLogger({ level: 'warn', transports: [new winston.transports.Stream({ stream })] });
  const created = new DownstreamPool(configs, { clientInfo: CLIENT, capabilities: { sampling: {} }, logger, hooks });
  pools.push(created);
  return created;
}
afterAll(() => Promise.all(pools.map((p) => p.close())));

/** tools/call as the proxy sends it: resolve the client's name, call the server's own. */
function call(p: DownstreamPool, name: string, args: Record<string, unknown> = {}, options: RequestOptions = {}) {
  const route = p.resolveTool(name);
  if (!route) throw new Error(`no route for ${name}`);
  return route.server.request('tools/call', { name: route.tool, arguments: args }, options);
}
const pidOf = async (p: DownstreamPool, tool: string) =>
  ((await call(p, tool)).structuredContent as { pid: number }).pid;
const FIELD = { resources: 'uri', resourceTemplates: 'uriTemplate', prompts: 'name' } as const;
/** Every page of a list, each page as its items' keys. */
async function pages(p: DownstreamPool, kind: ListKind): Promise<string[][]> {
  const all: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await p.listPage(kind, cursor);
    all.push((page[kind] as Record<string, string>[]).map((item) => item[FIELD[kind]]!));
    cursor = page['nextCursor'] as string | undefined;
  } while (cursor);
  return all;
}
const PROMPTS = [
  ...['simple_prompt', 'prompt_with_arguments', 'prompt_with_embedded_resource', 'prompt_with_image'],
  'input_required_result_prompt',
];
const cursor = (position: unknown) => Buffer.from(JSON.stringify(position)).toString('base64url');

describe('a pool of five servers: one catalogue, routed by prefix', () => {
  let web: RunningFixture;
  let main: DownstreamPool;
  const asked: { server: string; method: string }[] = [];
  beforeAll(async () => {
    web = await startFixtureHttp();
    main = pool([FAULTY, ALPHA, BETA, TPL, http('web', web.url, 'web_')], {
      onRequest: async (server, request) => {
        asked.push({ server, method: request.method });
        return { role: 'assistant', content: { type: 'text', text: 'from the pool' }, model: 'test' };
      },
    });
    await main.start();
  });
  afterAll(() => web?.close());

  test('tools/list: each server in config order, its tools under its prefix', () => {
    const names = main.listTools().map((t) => t.name);
    expect(names.slice(0, 12)).toEqual([
      ...['echo', 'structured', 'fail', 'throws', 'sleep', 'crash', 'count', 'grow'],
      ...['alpha_echo', 'alpha_whoami', 'beta_echo', 'beta_whoami'],
    ]);
    expect(names.slice(12)).toContain('web_test_simple_text');
    expect(names.slice(12).every((n) => n.startsWith('web_'))).toBe(true);
  });

  test.each([
    ['echo', 'faulty', 'echo'],
    ['structured', 'faulty', 'structured'],
    ['alpha_echo', 'alpha', 'echo'],
    ['beta_whoami', 'beta', 'whoami'],
    ['web_test_simple_text', 'web', 'test_simple_text'],
  ])("%s routes to %s as %s; its descriptor is the server's, renamed", (name, server, tool) => {
    const route = main.resolveTool(name)!;
    expect({ server: route.server.name, tool: route.tool }).toEqual({ server, tool });
    expect(route.descriptor).toEqual({ ...route.server.tools.find((t) => t.name === tool), name });
  });

  test.each(['gamma_echo', 'whoami', 'alpha_count', 'alpha_', 'web_echo', 'tpl_echo', ''])('no route for %j', (name) =>
    expect(main.resolveTool(name)).toBeUndefined(),
  );

  test.each([
    ['echo', 'faulty', 'echo', { message: 'hi', extra: { nested: [1, 'two', null] } }, 'hi'],
    ['alpha_echo', 'alpha', 'echo', { message: 'to alpha' }, 'alpha: to alpha'],
    ['beta_echo', 'beta', 'echo', { message: 'to beta' }, 'beta: to beta'],
  ])('a call to %s runs on %s as %s with its arguments', async (name, server, tool, args, answer) => {
    expect(textOf(await call(main, name, args))).toBe(answer);
    expect(readJsonl(CALLS).at(-1)).toMatchObject({ server, tool, arguments: args });
  });

  test('each server in its era: the fixture answers server/discover, the others only initialize', () => {
    expect(main.servers.map((s) => [s.name, s.era])).toEqual([
      ['faulty', 'handshake'],
      ['alpha', 'handshake'],
      ['beta', 'handshake'],
      ['tpl', 'handshake'],
      ['web', 'modern'],
    ]);
  });

  test('over HTTP in 2026-07-28: a tool asking for input answers input_required, for the proxy to relay', async () => {
    expect(textOf(await call(main, 'web_test_simple_text'))).toBe('This is a simple text response for testing.');
    // The envelope carries the pool's capabilities (sampling) when the caller names none.
    expect(await call(main, 'web_test_sampling', { prompt: 'hi' })).toMatchObject({
      resultType: 'input_required',
      inputRequests: { reply: { method: 'sampling/createMessage' } },
    });
    // Without sampling in the envelope, the server refuses rather than ask.
    await expect(call(main, 'web_test_sampling', { prompt: 'hi' }, { clientCapabilities: {} })).rejects.toMatchObject({
      code: -32021,
    });
    expect(asked).toEqual([]); // a 2026-07-28 server sends no server-to-client requests
  });

  test.each<[ListKind, string[][]]>([
    // tpl lists no resources: its empty page is skipped, not handed out.
    ['resources', [['test://static-text', 'test://static-binary', 'test://watched-resource']]],
    ['resourceTemplates', [['file:///{dir}/{file}'], ['test://template/{id}/data']]],
    ['prompts', [PROMPTS.map((name) => `web_test_${name}`)]],
  ])('%s: one page per server that offers them, prompts under the prefix', async (kind, expected) => {
    expect(await pages(main, kind)).toEqual(expected);
  });

  test.each(['garbage', cursor({ s: -1 }), cursor({ s: 1.5 }), cursor({ c: 'x' })])(
    'cursor %s is refused',
    async (c) => {
      const refused = { code: ErrorCode.InvalidParams, message: `MCP error -32602: Invalid cursor: ${c}` };
      await expect(main.listPage('prompts', c)).rejects.toMatchObject(refused);
      expect(await main.listPage('prompts', cursor({ s: 99 }))).toEqual({ prompts: [] }); // past the last server
    },
  );

  test.each([
    ['test://static-text', 'web'], // listed
    ['file:///docs/a.md', 'tpl'], // a template, as the SDK matches it
    ['file:///docs/sub/a.md', 'tpl'], // the same template, matched loosely
    ['test://template/7/data', 'web'],
    ['other://x', undefined], // unknown, and two servers offer resources
  ])('resource %s belongs to %s', async (uri, owner) => {
    await pages(main, 'resources');
    await pages(main, 'resourceTemplates');
    expect(main.resolveResource(uri)?.name).toBe(owner);
  });

  test.each([
    ['web_test_simple_prompt', { server: 'web', name: 'test_simple_prompt' }],
    ['web_never_listed', { server: 'web', name: 'never_listed' }], // the only prompt server with that prefix
    ['test_simple_prompt', undefined],
    ['alpha_test_simple_prompt', undefined], // alpha offers no prompts
  ])('prompt %s belongs to %j', (name, expected) => {
    const found = main.resolvePrompt(name);
    expect(found && { server: found.server.name, name: found.name }).toEqual(expected);
  });

  test('capabilities: the union of what the servers offer, tools and logging always', () => {
    expect(main.capabilities()).toEqual({
      tools: { listChanged: true },
      logging: {},
      // No server here declares subscribe: the 2026-07-28 fixture's discover has none.
      resources: { listChanged: true },
      prompts: { listChanged: true },
      completions: {},
    });
    expect(main.offering('resources').map((s) => s.name)).toEqual(['tpl', 'web']);
  });
});

test.each([
  ['tools only', [FAULTY], {}, undefined],
  ['one resource server without subscribe', [FAULTY, TPL], { resources: { listChanged: true } }, 'tpl'],
])('capabilities with %s; any URI goes to the only resource server', async (_, configs, extra, owner) => {
  const p = pool(configs);
  await p.start();
  expect(p.capabilities()).toEqual({ tools: { listChanged: true }, logging: {}, ...extra });
  expect(p.resolveResource('other://x')?.name).toBe(owner);
});

test('a stdio server silent before initialize is taken for a handshake-era one, on the same process', async () => {
  const starts = join(DIR, 'silent-starts.log');
  const silent = stdio('silent', ['silent-before-initialize.mjs'], { env: { STARTS_LOG: starts } });
  const p = pool([silent]);
  await p.start(); // the probe waits ERA_PROBE_TIMEOUT_MS (10 s), then initialize follows
  expect(p.server('silent')!.era).toBe('handshake');
  const answer = textOf(await call(p, 'hello'));
  // The process that got the probe is the one serving: started once.
  expect(readFileSync(starts, 'utf8').trim().split('\n')).toEqual([answer.replace('hello from ', '')]);
}, 30_000);

describe('start fails closed, naming the server and a fix', () => {
  const fix = (n: string) => `Fix: check mcpServers.${n} in the config and run the server by hand to see its error.`;
  const ENOENT = '"broken" (/nonexistent/mcp-server) could not be started: spawn /nonexistent/mcp-server ENOENT';
  const REFUSED = 'downstream server "remote" (http://127.0.0.1:9/mcp) could not be started:';
  const STDERR = 'its stderr ended with:\n    missing API_KEY';
  const CLASH =
    'tool name clash: "echo" is offered by downstream servers "a" and "b". Fix: set a prefix on one of them';
  const CLASH_FIX = `${CLASH} in the config (e.g. mcpServers.b.prefix: "b_").`;
  const [A, B] = [stdio('a', ['clash.js']), stdio('b', ['clash.js'])];
  const FAILED = 'downstream_start_failed';
  test.each<[string, ServerConfig[], string, string[]]>([
    ['a command that does not exist', [BROKEN], FAILED, [ENOENT, fix('broken')]],
    ['a server that exits at start', [EXITS], FAILED, ['downstream server "exits" (', STDERR, fix('exits')]],
    ['an HTTP server nobody listens on', [NOBODY], FAILED, [REFUSED, fix('remote')]],
    ['two failing servers', [BROKEN, EXITS], FAILED, [`${fix('broken')}\n\ndownstream server "exits"`]],
    ['two servers offering one tool name', [A, B], 'tool_name_clash', [CLASH_FIX]],
  ])('%s', async (_, configs, code, fragments) => {
    const p = pool(configs);
    const error: unknown = await p.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownstreamError);
    expect(error).toMatchObject({ code });
    for (const fragment of fragments) expect((error as Error).message).toContain(fragment);
    expect(p.servers.map((s) => s.status)).toEqual(configs.map(() => 'closed'));
  });

  test("the servers that did start are ended, a wrapper's children too", async () => {
    const file = join(DIR, 'wrapper-pids.json');
    const wrapper = stdio('wrapped', ['wrapper.js'], { env: { WARDEN_WRAPPER_PIDS: file } });
    await expect(pool([wrapper, BROKEN]).start()).rejects.toMatchObject({ code: 'downstream_start_failed' });
    const pids = Object.values(JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>);
    expect(pids).toHaveLength(3);
    await eventually(() => !pids.some(alive), 5000);
  });
});

describe('one pool through list_changed, timeouts, a crash and close', () => {
  const exits: string[] = [];
  const notified: string[] = [];
  const logs: string[] = [];
  let changes = 0;
  const hooks: PoolHooks = {
    onServerExit: (server, detail) => exits.push(`${server}: ${detail}`),
    onToolsChanged: () => changes++,
    onNotification: (server, n: Notification) => notified.push(`${server} ${n.method}`),
  };
  const p = pool([ALPHA, { ...FAULTY, timeoutMs: 300 }], hooks, logs);
  beforeAll(() => p.start());

  test("a grown tool joins the catalogue; a clashing one warns and keeps the first server's", async () => {
    await call(p, 'grow', { name: 'extra' });
    // The notification is relayed once the catalogue is refreshed; winston writes a tick later.
    await eventually(() => notified.length > 0);
    expect(notified).toEqual(['faulty notifications/tools/list_changed']);
    expect(p.resolveTool('extra')?.server.name).toBe('faulty');
    await call(p, 'grow', { name: 'alpha_whoami' });
    await eventually(() => logs.length > 0);
    expect(changes).toBe(2);
    expect(logs.map((line) => JSON.parse(line) as unknown)).toEqual([
      {
        level: 'error',
        message:
          'tool name clash: "alpha_whoami" is offered by downstream servers "alpha" and "faulty". ' +
          'Fix: set a prefix on one of them in the config (e.g. mcpServers.faulty.prefix: "faulty_"). ' +
          'Keeping the tool of "alpha".',
      },
    ]);
    expect(p.resolveTool('alpha_whoami')?.server.name).toBe('alpha');
  });

  test.each([
    ['a quick call', { ms: 50, steps: 1 }, 'slept 50 ms', [0]],
    ['a call silent past timeoutMs', { ms: 1500, steps: 1 }, 'error -32001: MCP error -32001: Request timed out', [0]],
    ['a long call whose progress resets the timeout', { ms: 800, steps: 8 }, 'slept 800 ms', [0, 1, 2, 3, 4, 5, 6, 7]],
  ])('timeoutMs 300: %s', async (_, args, outcome, progress) => {
    const seen: number[] = [];
    const answer = await call(p, 'sleep', args, { onprogress: (n) => seen.push(n.progress) }).then(
      (result) => textOf(result),
      (e: { code: number; message: string }) => `error ${e.code}: ${e.message}`,
    );
    expect(answer).toBe(outcome);
    expect(seen).toEqual(progress);
  });

  test('a crashed server is reported, then started again by the next call', async () => {
    const before = await pidOf(p, 'count');
    await expect(call(p, 'crash')).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed });
    await eventually(() => exits.length > 0);
    expect(exits).toEqual([
      'faulty: downstream server "faulty" disconnected (stderr: [faulty] crash requested: exiting with code 3); ' +
        'it will be started again on the next call',
    ]);
    expect(p.server('faulty')?.status).toBe('down');
    const after = await call(p, 'count');
    expect(after.structuredContent).toMatchObject({ count: 1 });
    expect((after.structuredContent as { pid: number }).pid).not.toBe(before);
    expect(p.server('faulty')).toMatchObject({ status: 'up', restarts: 1 });
    expect(p.resolveTool('extra')).toBeUndefined(); // the new process never grew it
  });

  test('close ends every child process; later calls are refused', async () => {
    const pids = [await pidOf(p, 'alpha_whoami'), await pidOf(p, 'count')];
    expect(pids.every(alive)).toBe(true);
    await p.close();
    await eventually(() => !pids.some(alive), 5000);
    expect(p.servers.map((s) => s.status)).toEqual(['closed', 'closed']);
    expect(exits).toHaveLength(1); // closing is not a crash
    await expect(call(p, 'alpha_echo', { message: 'late' })).rejects.toMatchObject({
      name: 'DownstreamError',
      code: 'downstream_closed',
      message: 'downstream server "alpha" is shutting down',
    });
  });
});
