import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import YAML from 'yaml';
import { createLogger } from '../../src/common/index.js';
import { loadConfig } from '../../src/config/index.js';
import { startHttpServer, type HttpServerHandle } from '../../src/http/index.js';
import { CLI, WARDEN_NODE, readJsonl, tempDir, wardenEnv } from './warden.js';

export interface WardenFiles {
  dir: string;
  configPath: string;
  callLog: string;
  decisionLog: string;
  executed(): { server: string; tool: string; arguments: Record<string, unknown> }[];
  /** The decision log's call decisions (path mcp/decision), oldest first. */
  decisions(): Record<string, unknown>[];
  /** The decision log's result decisions (path mcp/result), oldest first. */
  resultDecisions(): Record<string, unknown>[];
}

/** Writes `config` as YAML into a fresh directory, with a private audit store and decision log. */
export function writeWardenConfig(config: Record<string, unknown>, prefix = 'http'): WardenFiles {
  const dir = tempDir(prefix);
  const callLog = join(dir, 'calls.jsonl');
  const decisionLog = join(dir, 'decisions.jsonl');
  const full = { audit: { store: `sqlite:${join(dir, 'audit.db')}` }, decisionLogs: { file: decisionLog }, ...config };
  const configPath = join(dir, 'warden.yaml');
  writeFileSync(configPath, YAML.stringify(full).replaceAll('$CALL_LOG', callLog).replaceAll('$DIR', dir));
  return {
    dir,
    configPath,
    callLog,
    decisionLog,
    executed: () => readJsonl(callLog) as never,
    decisions: () => readJsonl(decisionLog).filter((d) => d['path'] !== 'mcp/result'),
    resultDecisions: () => readJsonl(decisionLog).filter((d) => d['path'] === 'mcp/result'),
  };
}

export interface InProcessWarden extends WardenFiles {
  front: HttpServerHandle;
  url: string;
  close(): Promise<void>;
}

/** Starts the HTTP front end in this process (real HTTP on 127.0.0.1, a free port). */
export async function startHttpWarden(
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<InProcessWarden> {
  const files = writeWardenConfig(config);
  const front = await startHttpServer({
    config: loadConfig(files.configPath, env),
    logger: createLogger({ silent: true }),
    port: 0,
    host: '127.0.0.1',
  });
  return { ...files, front, url: front.url, close: () => front.close() };
}

export interface SpawnedWarden extends WardenFiles {
  child: ChildProcess;
  url: string;
  port: number;
  stderr(): string;
  /** SIGTERM, then waits for the exit code. */
  stop(): Promise<number | null>;
}

/** Spawns the built `warden serve --http 0` and reads the bound port from its stderr log line. */
export async function spawnHttpWarden(
  config: Record<string, unknown>,
  options: { env?: Record<string, string>; host?: string } = {},
): Promise<SpawnedWarden> {
  const files = writeWardenConfig(config, 'http-cli');
  const host = options.host ? ['--host', options.host] : [];
  const args = [CLI, 'serve', '--config', files.configPath, '--http', '0', ...host];
  const child = spawn(WARDEN_NODE, args, {
    env: wardenEnv(options.env),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`warden did not report its port in time\n--- stderr ---\n${stderr}`)),
      30_000,
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const line = stderr.split('\n').find((l) => l.includes('"warden serving on http"'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`warden exited with ${code} before listening\n--- stderr ---\n${stderr}`));
    });
  });
  return {
    ...files,
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs the built CLI to completion (for start-up refusals). */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(WARDEN_NODE, [CLI, ...args], { env: wardenEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((r) => child.once('exit', (code) => r({ code, stderr })));
}

/** The real SDK client over Streamable HTTP, optionally with a bearer token. */
export async function connectHttp(
  url: string,
  options: { token?: string; capabilities?: ClientCapabilities } = {},
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(
    new URL(`${url}/mcp`),
    options.token ? { requestInit: { headers: { Authorization: `Bearer ${options.token}` } } } : {},
  );
  const client = new Client(
    { name: 'warden-http-e2e', version: '1.0.0' },
    { capabilities: options.capabilities ?? {} },
  );
  await client.connect(transport);
  return { client, transport };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/** A raw HTTP request (node:http, so Host and Origin can be set freely). */
export function rawRequest(
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        method: options.method ?? 'GET',
        path: options.path ?? u.pathname,
        headers: options.headers ?? {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
        });
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** The JSON-RPC answer (result or error) of a raw POST, sent as JSON or within an SSE stream. */
export function rpcMessage(res: RawResponse): Record<string, unknown> {
  if (!String(res.headers['content-type']).includes('text/event-stream')) return res.json();
  const messages = res.body
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trim())
    .filter(Boolean)
    .map((d) => JSON.parse(d) as Record<string, unknown>);
  const answer = messages.find((m) => 'result' in m || 'error' in m);
  if (!answer) throw new Error(`no JSON-RPC answer in the SSE stream: ${res.body}`);
  return answer;
}

/** An initialize request body, for raw POSTs. */
export const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

export const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** True while `pid` is a live process (a zombie waiting for a reaper counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  try {
    const state = readFileSync(stat, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
