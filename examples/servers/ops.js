#!/usr/bin/env node
// ops: infrastructure and outbound channels. The dangerous-by-design server: delete_database is
// destructive, read_secret returns (fake) credentials, send_email and http_post reach the outside
// world. The example policies use it for "backup before delete" and "no exfiltration after reading a
// secret". Nothing is deleted, sent or posted: every call is only pretended and recorded.

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import * as z from 'zod/v4';
import { recorded } from './lib/record.js';
import { ok } from './lib/results.js';
import { sequenceIds, stableId } from './lib/ids.js';
import { serveStdio } from './lib/serve.js';

const NAME = 'ops';

const server = new McpServer({ name: NAME, title: 'Operations', version: '1.0.0' });
const nextId = sequenceIds();
const database = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/)
  .describe('Database name, e.g. "orders_prod"');

server.registerTool(
  'backup_database',
  {
    title: 'Back up database',
    description: 'Take a full snapshot of a database.',
    inputSchema: { database },
    outputSchema: { database: z.string(), backup_id: z.string() },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  recorded(NAME, 'backup_database', ({ database: db }) => {
    const result = { database: db, backup_id: nextId('snap', db) };
    return ok(result, `Snapshot ${result.backup_id} of ${db} taken.`);
  }),
);

server.registerTool(
  'delete_database',
  {
    title: 'Delete database',
    description: 'Drop a database and all its data. Irreversible without a backup. (Example server: nothing is dropped.)',
    inputSchema: { database },
    outputSchema: { database: z.string(), deleted: z.literal(true) },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  },
  recorded(NAME, 'delete_database', ({ database: db }) => ok({ database: db, deleted: true }, `Database ${db} deleted.`)),
);

server.registerTool(
  'read_secret',
  {
    title: 'Read secret',
    description: 'Read a secret (API key, password) from the vault. (Example server: the value is fake.)',
    inputSchema: { name: z.string().min(1).max(128).describe('Secret name, e.g. "stripe/api_key"') },
    outputSchema: { name: z.string(), value: z.string(), version: z.number().int() },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  recorded(NAME, 'read_secret', ({ name }) => {
    // Recognisably fake and stable, so a test can look for it in anything that leaves later.
    const value = `fake-secret-${stableId('v', name).slice(2)}`;
    return ok({ name, value, version: 1 });
  }),
);

server.registerTool(
  'send_email',
  {
    title: 'Send email',
    description: 'Send an email to any address. (Example server: nothing is sent.)',
    inputSchema: {
      to: z.email().describe('Recipient address'),
      subject: z.string().min(1).max(200),
      body: z.string().max(100_000),
    },
    outputSchema: { to: z.string(), message_id: z.string(), status: z.literal('simulated') },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  recorded(NAME, 'send_email', ({ to, subject }) => {
    const result = { to, message_id: nextId('msg', to, subject), status: 'simulated' };
    return ok(result, `Email to ${to} accepted (simulated, not sent).`);
  }),
);

server.registerTool(
  'http_post',
  {
    title: 'HTTP POST',
    description: 'POST a body to an arbitrary URL. (Example server: no request is made.)',
    inputSchema: {
      url: z.url({ protocol: /^https?$/ }).describe('Target http(s) URL'),
      body: z.string().max(1_000_000).describe('Request body, sent as-is'),
    },
    outputSchema: { url: z.string(), status: z.number().int(), bytes: z.number().int(), simulated: z.literal(true) },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  recorded(NAME, 'http_post', ({ url, body }) => {
    const result = { url, status: 202, bytes: Buffer.byteLength(body), simulated: true };
    return ok(result, `POST ${url} (${result.bytes} bytes) accepted (simulated, not sent).`);
  }),
);

await serveStdio(server, NAME);
