#!/usr/bin/env node
// The HTTP front end (issue 6): a real SDK client calling `echo` over Streamable HTTP directly, on
// server-everything's own HTTP server and on a minimal SDK server (express + the SDK transport, SSE
// responses: the same stack as Warden's front, with nothing else), against the same call through
// `warden serve --http` with server-everything behind it over stdio (allow-all policy; audit
// memory: for the proxy hop itself, and sqlite full for the durable default). With 1 session
// (sequential calls) and with 100 concurrent sessions. Then Warden's RSS with 1,000 idle sessions.
//
// The 1,000-session row puts server-everything behind Warden over HTTP: each Warden session has
// its own downstream connection (DESIGN: connections mirror the client's capabilities), so over
// stdio it would also start 1,000 server processes; this row measures Warden's own cost per session.
// Runs against dist/ (make bench builds first). Alone: `node bench/http.mjs [--n 1000]`.
import { spawn } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import express from 'express';
import { freePort, percentile, rssMb, serveWarden, stopChild } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const POLICY = join(ROOT, 'test/fixtures/policies/allow-all');

// The client transport reuses one AbortSignal per session: lift its listener limit (MCP-NOTES 10).
const benchFetch = (input, init) => {
  if (init?.signal) setMaxListeners(0, init.signal);
  return fetch(input, init);
};

async function connect(url) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: benchFetch });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  return { client, transport };
}

async function closeAll(clients) {
  await Promise.all(
    clients.map(async ({ client, transport }) => {
      await transport.terminateSession().catch(() => undefined);
      await client.close().catch(() => undefined);
    }),
  );
}

/** Opens `count` sessions, `width` at a time (each one starts its own downstream server through Warden). */
async function openSessions(url, count, width = 10) {
  const clients = [];
  for (let i = 0; i < count; i += width) {
    clients.push(...(await Promise.all(Array.from({ length: Math.min(width, count - i) }, () => connect(url)))));
  }
  return clients;
}

/** Every session calls `echo` `perSession` times in sequence, all sessions at once. */
async function timeCalls(clients, perSession) {
  const lat = [];
  const start = performance.now();
  await Promise.all(
    clients.map(async ({ client }, s) => {
      for (let i = 0; i < perSession; i++) {
        const t = performance.now();
        await client.callTool({ name: 'echo', arguments: { message: `s${s}m${i}` } });
        lat.push(performance.now() - t);
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return { p50_ms: percentile(lat, 50), p99_ms: percentile(lat, 99), calls_per_s: lat.length / secs };
}

async function waitForHttp(url, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await fetch(url, { method: 'GET' });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** server-everything's own Streamable HTTP server (binds every interface; path /mcp). */
async function startEverythingHttp() {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  await waitForHttp(`http://127.0.0.1:${port}/mcp`);
  return { url: `http://127.0.0.1:${port}/mcp`, pid: child.pid, stop: () => stopChild(child) };
}

/** The minimal direct baseline, in a child process of its own (as Warden is). */
async function startMinimalHttp() {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve-minimal', String(port)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForHttp(`http://127.0.0.1:${port}/mcp`);
  return { url: `http://127.0.0.1:${port}/mcp`, pid: child.pid, stop: () => stopChild(child) };
}

function serveMinimal(port) {
  const app = express();
  app.use(express.json({ limit: '4mb' }));
  const transports = new Map();
  app.all('/mcp', async (req, res) => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (!transport) {
      if (req.method !== 'POST' || !isInitializeRequest(req.body)) return void res.status(400).end();
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => transports.set(sid, transport),
      });
      transport.onclose = () => transport.sessionId && transports.delete(transport.sessionId);
      const server = new Server({ name: 'minimal', version: '1' }, { capabilities: { tools: {} } });
      server.setRequestHandler(ListToolsRequestSchema, () => ({
        tools: [{ name: 'echo', inputSchema: { type: 'object', properties: { message: { type: 'string' } } } }],
      }));
      server.setRequestHandler(CallToolRequestSchema, (r) => ({
        content: [{ type: 'text', text: `Echo: ${r.params.arguments?.message}` }],
      }));
      await server.connect(transport);
    }
    await transport.handleRequest(req, res, req.body);
  });
  app.listen(port, '127.0.0.1');
}

/** `warden serve --http 0`; the bound port comes from its start-up log line. */
async function startWarden(server, audit) {
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-http-'));
  const config = join(dir, 'warden.yaml');
  writeFileSync(
    config,
    [
      'mcpServers:',
      server.url
        ? `  everything: { url: ${JSON.stringify(server.url)} }`
        : `  everything: { command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(EVERYTHING)}, stdio] }`,
      `policy: { bundle: ${JSON.stringify(POLICY)} }`,
      `audit: { store: ${JSON.stringify(audit === 'memory' ? 'memory:' : `sqlite:${join(dir, 'audit.db')}`)} }`,
      // One principal (auth none) opens every session here: up to 1,000 idle ones.
      'http: { maxSessions: 100000, maxSessionsPerPrincipal: 100000 }',
      '',
    ].join('\n'),
  );
  const { child, port: listening } = serveWarden(config);
  const port = await listening;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    pid: child.pid,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function measure(name, url, pid, sessions, perSession) {
  const clients = await openSessions(url, sessions);
  try {
    // Warm-up: JIT, connection pools, the policy's first evaluations.
    await timeCalls(clients, Math.max(2, Math.ceil(100 / sessions)));
    const r = await timeCalls(clients, perSession);
    return { name, ...r, rss_mb: pid ? rssMb(pid) : NaN };
  } finally {
    await closeAll(clients);
  }
}

export async function benchHttp({ n = 1000, concurrent = 100, perSession = 20, idle = 1000 } = {}) {
  const rows = [];
  for (const [label, start] of [
    ['server-everything', startEverythingHttp],
    ['minimal SDK server', startMinimalHttp],
  ]) {
    const direct = await start();
    try {
      rows.push(await measure(`direct HTTP → ${label}, 1 session`, direct.url, null, 1, n));
      rows.push(
        await measure(`direct HTTP → ${label}, ${concurrent} sessions`, direct.url, null, concurrent, perSession),
      );
    } finally {
      await direct.stop();
    }
  }
  for (const audit of ['memory', 'sqlite']) {
    const warden = await startWarden({}, audit);
    try {
      rows.push(
        await measure(
          `Warden HTTP → stdio server-everything, 1 session, audit ${audit === 'memory' ? 'memory:' : 'sqlite (full)'}`,
          warden.url,
          warden.pid,
          1,
          n,
        ),
      );
      if (audit === 'memory')
        rows.push(
          await measure(
            `Warden HTTP → stdio server-everything, ${concurrent} sessions, audit memory:`,
            warden.url,
            warden.pid,
            concurrent,
            perSession,
          ),
        );
    } finally {
      await warden.stop();
    }
  }
  // Idle sessions: Warden's own memory per session, server-everything behind it over HTTP.
  const upstream = await startEverythingHttp();
  const warden = await startWarden(upstream, 'memory');
  try {
    const baseline = rssMb(warden.pid);
    const clients = await openSessions(warden.url, idle, 20);
    await new Promise((r) => setTimeout(r, 1000));
    rows.push({ name: `Warden RSS, 0 sessions`, p50_ms: NaN, p99_ms: NaN, calls_per_s: NaN, rss_mb: baseline });
    rows.push({
      name: `Warden RSS, ${clients.length} idle sessions (HTTP downstream)`,
      p50_ms: NaN,
      p99_ms: NaN,
      calls_per_s: NaN,
      rss_mb: rssMb(warden.pid),
    });
    await closeAll(clients);
  } finally {
    await warden.stop();
    await upstream.stop();
  }
  return rows;
}

/** Added p50 is against server-everything's own HTTP server and, after the slash, the minimal SDK server. */
export function formatHttp(rows) {
  const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const base = (label, one) =>
    rows.find((r) => r.name.startsWith(`direct HTTP → ${label}`) && r.name.includes(', 1 session') === one);
  const lines = [
    '| path | p50 ms | p99 ms | added p50 ms (vs everything / minimal) | calls/s | Warden RSS MB |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const one = r.name.includes(', 1 session');
    const [e, m] = [base('server-everything', one), base('minimal SDK server', one)];
    const added =
      r.name.startsWith('Warden HTTP') && e && m ? `${f(r.p50_ms - e.p50_ms)} / ${f(r.p50_ms - m.p50_ms)}` : '-';
    lines.push(
      `| ${r.name} | ${f(r.p50_ms)} | ${f(r.p99_ms)} | ${added} | ${Number.isFinite(r.calls_per_s) ? Math.round(r.calls_per_s) : '-'} | ${Number.isFinite(r.rss_mb) ? r.rss_mb : '-'} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === '--serve-minimal') {
  serveMinimal(Number(process.argv[3]));
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name, d) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const rows = await benchHttp({
    n: arg('n', 1000),
    concurrent: arg('sessions', 100),
    perSession: arg('per-session', 20),
    idle: arg('idle', 1000),
  });
  console.log(formatHttp(rows));
}
