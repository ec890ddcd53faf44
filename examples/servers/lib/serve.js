// Connect a server to stdio. stdout is the protocol, so everything human goes to stderr.

import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

/** @param {string} name @param {string} message */
export function log(name, message) {
  process.stderr.write(`[${name}] ${message}\n`);
}

/**
 * @param {{ connect(t: unknown): Promise<void> }} server an McpServer or a low-level Server
 * @param {string} name used as the stderr log prefix
 */
export async function serveStdio(server, name) {
  const transport = new StdioServerTransport();
  // The client closing our stdin is the normal way a stdio server is told to stop.
  process.stdin.on('end', () => process.exit(0));
  try {
    await server.connect(transport);
    log(name, `ready on stdio (pid ${process.pid})`);
  } catch (error) {
    log(name, `failed to start: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  }
}
