#!/usr/bin/env node
// The floor of a stdio hop, for bench/stdio.mjs: the SDK's own Client and Server wired together,
// passing tools/list and tools/call through unchanged: no policy, no records, no logs.
//   node bench/bare-relay.mjs <command> [args...]   (the downstream server, spawned over stdio)
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: node bench/bare-relay.mjs <command> [args...]\n');
  process.exit(2);
}
const downstream = new Client({ name: 'bare-relay', version: '1' });
await downstream.connect(new StdioClientTransport({ command, args, stderr: 'ignore' }));

const server = new Server({ name: 'bare-relay', version: '1' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, (request) => downstream.listTools(request.params));
server.setRequestHandler(CallToolRequestSchema, (request) => downstream.callTool(request.params));
server.onclose = () => void downstream.close().finally(() => process.exit(0));
await server.connect(new StdioServerTransport());
