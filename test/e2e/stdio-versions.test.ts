import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { describe, expect, test } from 'vitest';
import { writeWardenConfig } from '../helpers/http.js';
import { CLI, POLICIES, SERVERS, WARDEN_NODE, nodeServer, textOf, wardenEnv } from '../helpers/warden.js';

// Warden speaks the handshake-era versions over stdio. A request before initialize used to wait in
// the session gate for an initialize that a 2026-07-28 client never sends: a v2 client negotiating
// with mode 'auto' sat out its 60 s request timeout before falling back, a pinned one got silence.
// Now such a request gets UnsupportedProtocolVersion (-32022) listing the versions Warden speaks.

const config = (): Record<string, unknown> => ({
  mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
  policy: { bundle: join(POLICIES, 'allow-all') },
});

/** The 2026-07-28 per-request `_meta` envelope a modern client puts on every request. */
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

describe('warden serve (stdio): clients of the 2026-07-28 revision', () => {
  // Before the fix the probe went unanswered until the client's 60 s request timeout: 30 s fails it.
  test('the v2 client with versionNegotiation auto falls back to initialize, lists and calls tools', async () => {
    const files = writeWardenConfig(config(), 'stdio-versions');
    const transport = new StdioClientTransport({
      command: WARDEN_NODE,
      args: [CLI, 'serve', '--config', files.configPath],
      env: wardenEnv(),
      stderr: 'pipe',
    });
    const client = new Client({ name: 'warden-e2e-v2', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    try {
      await client.connect(transport);
      expect(client.getProtocolEra()).toBe('legacy');
      expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
      expect(client.getServerVersion()?.name).toBe('mcp-warden');
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('echo');
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'from v2' } });
      expect(echo.isError).toBeFalsy();
      expect(textOf(echo)).toBe('from v2');
      expect(files.executed().map((c) => c.tool)).toContain('echo');
    } finally {
      await client.close();
    }
  }, 30_000);

  test('a raw server/discover before initialize gets -32022 with its id and the versions Warden speaks', async () => {
    const files = writeWardenConfig(config(), 'stdio-versions');
    const child = spawn(WARDEN_NODE, [CLI, 'serve', '--config', files.configPath], {
      env: wardenEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no answer to server/discover\n--- stderr ---\n${stderr}`)),
          20_000,
        );
        let buffer = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          buffer += chunk;
          const cut = buffer.indexOf('\n');
          if (cut < 0) return;
          clearTimeout(timer);
          resolve(JSON.parse(buffer.slice(0, cut)) as Record<string, unknown>);
        });
      });
      const request = { jsonrpc: '2.0', id: 7, method: 'server/discover', params: { _meta: ENVELOPE } };
      child.stdin.write(`${JSON.stringify(request)}\n`);
      const message = await answer;
      expect(message).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32022 } });
      const error = message['error'] as { message: string; data: { supported: string[]; requested?: string } };
      expect(error.data.supported).toContain('2025-11-25');
      expect(error.data.supported[0]).toBe('2025-11-25');
      expect(error.data.requested).toBe('2026-07-28');
      expect(error.message).toMatch(/initialize/);
      // Nothing was started for it: no downstream server ran a call.
      expect(files.executed()).toEqual([]);
    } finally {
      child.stdin.end();
      await exited;
    }
  }, 30_000);
});
