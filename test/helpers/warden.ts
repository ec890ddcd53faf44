import { mkdirSync, mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import YAML from 'yaml';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const CLI = join(ROOT, 'dist/cli/main.js');
export const FIXTURES = join(ROOT, 'test/fixtures');
export const POLICIES = join(FIXTURES, 'policies');
export const SERVERS = join(FIXTURES, 'servers');
export const EXAMPLES = join(ROOT, 'examples/servers');

/**
 * The Node that runs Warden in end-to-end tests: the machine's, or another version's binary
 * (scripts/e2e-node.sh runs a subset with Node 22 and 24). The tests themselves, and the servers
 * behind Warden, stay on the machine's Node.
 */
export const WARDEN_NODE = process.env['WARDEN_TEST_NODE'] || process.execPath;

/** Environment a Warden process needs under {@link WARDEN_NODE} (NODE_OPTIONS loading native-addons.mjs there). */
export function wardenNodeEnv(): Record<string, string> {
  const options = process.env['WARDEN_TEST_NODE_OPTIONS'];
  return options ? { NODE_OPTIONS: options } : {};
}

/**
 * The whole environment of a Warden process spawned by a test under {@link WARDEN_NODE}: PATH, HOME
 * and WARDEN_OPA from the test's own, that Node's options, then `extra` (which wins).
 */
export function wardenEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    WARDEN_OPA: process.env['WARDEN_OPA'] ?? '',
    ...wardenNodeEnv(),
    ...extra,
  };
}

/** A stdio server entry for a fixture or example server script, recording calls to `log`. */
export function nodeServer(script: string, log: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { command: process.execPath, args: [script], env: { WARDEN_EXAMPLE_LOG: log }, ...extra };
}

export function tempDir(prefix: string): string {
  const base = join(ROOT, 'test/.tmp');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${prefix}-`));
}

export interface RunningWarden {
  client: Client;
  dir: string;
  configPath: string;
  /** Lines every downstream server recorded for calls it executed. */
  executed(): { server: string; tool: string; arguments: Record<string, unknown> }[];
  /** Decision-log records written so far. */
  /** The decision log's call decisions (path mcp/decision), oldest first. */
  decisions(): Record<string, unknown>[];
  /** The decision log's result decisions (path mcp/result), oldest first. */
  resultDecisions(): Record<string, unknown>[];
  stderr(): string;
  /** Pid of the warden child process. */
  pid: number | null;
  close(): Promise<void>;
}

/**
 * Spawns the built `warden serve` as a real child process over stdio and connects the real SDK
 * client to it. `config` is written as YAML; `mcpServers` entries get the call-recording env.
 */
export async function startWarden(
  config: Record<string, unknown>,
  options: {
    capabilities?: ClientCapabilities;
    env?: Record<string, string>;
    wrapTransport?: (t: Transport) => Transport;
  } = {},
): Promise<RunningWarden> {
  const dir = tempDir('warden');
  const callLog = join(dir, 'calls.jsonl');
  const decisionLog = join(dir, 'decisions.jsonl');
  const full = {
    audit: { store: `sqlite:${join(dir, 'audit.db')}` },
    decisionLogs: { file: decisionLog },
    ...config,
  };
  const configPath = join(dir, 'warden.yaml');
  writeFileSync(configPath, YAML.stringify(full).replaceAll('$CALL_LOG', callLog));
  const transport = new StdioClientTransport({
    command: WARDEN_NODE,
    args: [CLI, 'serve', '--config', configPath],
    env: wardenEnv(options.env),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const client = new Client({ name: 'warden-e2e', version: '1.0.0' }, { capabilities: options.capabilities ?? {} });
  try {
    await client.connect(options.wrapTransport ? options.wrapTransport(transport) : transport);
  } catch (err) {
    await client.close().catch(() => undefined);
    throw new Error(`warden did not start: ${String(err)}\n--- stderr ---\n${stderr}`);
  }
  return {
    client,
    dir,
    configPath,
    executed: () => readJsonl(callLog) as never,
    decisions: () => readJsonl(decisionLog).filter((d) => d['path'] !== 'mcp/result'),
    resultDecisions: () => readJsonl(decisionLog).filter((d) => d['path'] === 'mcp/result'),
    stderr: () => stderr,
    pid: transport.pid,
    close: () => client.close(),
  };
}

/**
 * Lines of a JSONL file another process is appending to. A last line without its newline may be
 * half written: it is left for the next read. Any other bad line fails the test.
 */
export function readJsonl(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Waits until `check` returns a truthy value (files written asynchronously), failing after `ms`. */
export async function eventually<T>(check: () => T | undefined | false, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Text of a tool result's content. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}
