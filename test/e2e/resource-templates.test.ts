import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { POLICIES, SERVERS, eventually, nodeServer, textOf } from '../helpers/warden.js';
import { connectHttp, rawRequest, spawnHttpWarden, type SpawnedWarden } from '../helpers/http.js';

const TEMPLATES = join(SERVERS, 'templates.mjs');
const N = 250_000;
// No template claims it as the SDK reads templates; read loosely, blobs' file:///{area}/{name}.slow
// does. docs' file:///{dir}/{file}.txt comes first, and the matcher Warden had there
// (`^file:///.+?/.+?\.txt$`) tried every split of the slashes: about 1 s at 20 KB, minutes at 250 KB.
const ADVERSARIAL = `file:///tmp/${'/'.repeat(N)}x.slow`;

// docs is listed first, so its template is tried first: the routing order a slow matcher stalls.
const MCP_SERVERS = {
  docs: nodeServer(TEMPLATES, '$CALL_LOG', { args: [TEMPLATES, 'docs', 'file:///{dir}/{file}.txt'] }),
  blobs: nodeServer(TEMPLATES, '$CALL_LOG', {
    args: [TEMPLATES, 'blobs', 'blob://{+key}', 'file:///cache/{+path}', 'file:///{area}/{name}.slow'],
  }),
  faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG'),
};

type Session = { client: Client; transport: StreamableHTTPClientTransport };

/** Connects and pages through resources/templates/list, which is how Warden learns who owns a template. */
async function connectAndList(url: string): Promise<Session> {
  const session = await connectHttp(url);
  let cursor: string | undefined;
  do {
    const page = await session.client.listResourceTemplates(cursor ? { cursor } : {});
    cursor = page.nextCursor;
  } while (cursor);
  return session;
}

async function close(...sessions: Session[]): Promise<void> {
  for (const s of sessions) {
    await s.transport.terminateSession().catch(() => undefined);
    await s.client.close();
  }
}

const readText = async (client: Client, uri: string): Promise<string> =>
  (await client.readResource({ uri })).contents.map((c) => ('text' in c ? c.text : '')).join('');

describe('resource URIs: the default length cap (a real Warden over HTTP)', () => {
  let w: SpawnedWarden;
  let s: Session;

  beforeAll(async () => {
    w = await spawnHttpWarden({ mcpServers: MCP_SERVERS, policy: { bundle: join(POLICIES, 'allow-all') } });
    s = await connectAndList(w.url);
  });
  afterAll(async () => {
    if (s) await close(s);
    await w?.stop();
  });

  test('a 250 KB URI is refused before routing: -32602 naming limits.maxUriLength; no server sees it', async () => {
    const cap = /at most 8192 characters \(limits\.maxUriLength\)\. Fix:/;
    const refusal = { code: -32602, message: expect.stringMatching(cap) };
    await expect(s.client.readResource({ uri: ADVERSARIAL })).rejects.toMatchObject({
      ...refusal,
      message: expect.stringContaining(`resources/read: params.uri is ${ADVERSARIAL.length} characters long`),
      data: { limit: 8192, length: ADVERSARIAL.length, config_key: 'limits.maxUriLength' },
    });
    await expect(s.client.subscribeResource({ uri: ADVERSARIAL })).rejects.toMatchObject(refusal);
    const ref = { type: 'ref/resource' as const, uri: ADVERSARIAL };
    await expect(s.client.complete({ ref, argument: { name: 'path', value: 'a' } })).rejects.toMatchObject(refusal);
    expect(w.executed().filter((e) => e.tool === 'resources/read')).toEqual([]);
    expect((await rawRequest(`${w.url}/healthz`)).status).toBe(200);
  });

  test('a URI of exactly the cap is read; one character more is refused', async () => {
    const atCap = `blob://${'k'.repeat(8192 - 'blob://'.length)}`;
    expect(await readText(s.client, atCap)).toBe('blobs read 8192 chars');
    await expect(s.client.readResource({ uri: `${atCap}k` })).rejects.toMatchObject({ code: -32602 });
  });

  test('routing: templates read as the SDK reads them first, then loosely as before', async () => {
    // {dir}/{file} as the SDK matches them: docs.
    expect(await readText(s.client, 'file:///guides/intro.txt')).toBe('docs read 24 chars');
    // {file} takes no '/', so docs does not claim it; blobs' {+path} does (the old matcher said docs).
    expect(await readText(s.client, 'file:///cache/x/y.txt')).toBe('blobs read 21 chars');
    // No template claims it strictly; docs did before, and still does.
    expect(await readText(s.client, 'file:///a/b/c.txt')).toBe('docs read 17 chars');
    await expect(s.client.readResource({ uri: 'nowhere://x' })).rejects.toMatchObject({ code: -32002 });
  });
});

describe('resource URIs: the matcher stays linear when the cap is raised (a real Warden over HTTP)', () => {
  let w: SpawnedWarden;
  let reader: Session;
  let other: Session;

  beforeAll(async () => {
    w = await spawnHttpWarden({
      mcpServers: MCP_SERVERS,
      policy: { bundle: join(POLICIES, 'allow-all') },
      limits: { maxUriLength: 1_048_576 },
    });
    reader = await connectAndList(w.url);
    other = await connectHttp(w.url);
  });
  afterAll(async () => {
    if (reader && other) await close(reader, other);
    await w?.stop();
  });

  test('a 250 KB adversarial URI is routed past the template it defeated; others are answered meanwhile', async () => {
    const done: string[] = [];
    const read = readText(reader.client, ADVERSARIAL).then((text) => {
      done.push('read');
      return text;
    });
    // Routing is over once blobs holds the read (for 2 s). The old matcher was still inside docs'
    // template at this point, with the whole process blocked.
    await eventually(() => w.executed().find((e) => (e as { event?: string }).event === 'read-started'), 10_000);
    const health = rawRequest(`${w.url}/healthz`).then((res) => {
      done.push('healthz');
      return res.status;
    });
    const call = other.client.callTool({ name: 'echo', arguments: { message: 'still here' } }).then((result) => {
      done.push('call');
      return textOf(result);
    });
    const results = await Promise.all([read, health, call]);
    expect(results).toEqual([`blobs read ${ADVERSARIAL.length} chars`, 200, 'still here']);
    expect(done.indexOf('read')).toBe(2);
  });
});
