#!/usr/bin/env node
// crm: a customer-records service. Onboarding is the story the example policies tell:
// validate_customer_data -> create_account -> send_welcome_email, and backup_customer_record before
// anything that changes a record. Nothing leaves the process: emails are pretended and recorded.

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import * as z from 'zod/v4';
import { recorded } from './lib/record.js';
import { fail, ok } from './lib/results.js';
import { sequenceIds, stableId } from './lib/ids.js';
import { serveStdio } from './lib/serve.js';

const NAME = 'crm';
// Deliberately simple: "something@something.tld", no spaces. Good enough to reject typos.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/;
const PLANS = ['free', 'pro', 'enterprise'];

const server = new McpServer({ name: NAME, title: 'CRM', version: '1.0.0' });
const nextId = sequenceIds();
const customerId = z.string().min(1).max(64).describe('Customer identifier, e.g. "cus_1042"');

server.registerTool(
  'validate_customer_data',
  {
    title: 'Validate customer data',
    description:
      'Check a customer record before onboarding: the name must be present and the email well formed. ' +
      'Returns isError with the reasons when the data is not acceptable.',
    // name and email are optional in the schema on purpose: judging bad data is this tool's job, so
    // it must receive it rather than have the SDK reject the call before the handler runs.
    inputSchema: {
      customer_id: customerId,
      name: z.string().optional().describe('Full name of the customer'),
      email: z.string().optional().describe('Contact email address'),
    },
    outputSchema: { customer_id: z.string(), valid: z.literal(true) },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  recorded(NAME, 'validate_customer_data', ({ customer_id, name, email }) => {
    const problems = [];
    if (!name || !name.trim()) problems.push('name is missing');
    if (!email || !email.trim()) problems.push('email is missing');
    else if (!EMAIL.test(email.trim())) problems.push(`email "${email}" is not a valid address`);
    if (problems.length > 0) {
      return fail(`Customer ${customer_id} is invalid: ${problems.join('; ')}.`);
    }
    return ok({ customer_id, valid: true }, `Customer ${customer_id} is valid.`);
  }),
);

server.registerTool(
  'create_account',
  {
    title: 'Create account',
    description: 'Open a billing account for a customer on the given plan (default "free").',
    inputSchema: {
      customer_id: customerId,
      plan: z.enum(PLANS).optional().describe(`Plan: ${PLANS.join(', ')}; default free`),
    },
    outputSchema: { customer_id: z.string(), account_id: z.string(), plan: z.enum(PLANS) },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  recorded(NAME, 'create_account', ({ customer_id, plan }) => {
    const account = { customer_id, account_id: stableId('acct', customer_id), plan: plan ?? 'free' };
    return ok(account, `Created account ${account.account_id} (${account.plan}) for ${customer_id}.`);
  }),
);

server.registerTool(
  'backup_customer_record',
  {
    title: 'Back up customer record',
    description: 'Snapshot a customer record so that later changes can be rolled back.',
    inputSchema: { customer_id: customerId },
    outputSchema: { customer_id: z.string(), backup_id: z.string() },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  recorded(NAME, 'backup_customer_record', ({ customer_id }) => {
    const backup = { customer_id, backup_id: nextId('bkp', customer_id) };
    return ok(backup, `Backed up ${customer_id} as ${backup.backup_id}.`);
  }),
);

server.registerTool(
  'send_welcome_email',
  {
    title: 'Send welcome email',
    description: 'Send the standard welcome email to a newly onboarded customer. (Example server: nothing is sent.)',
    inputSchema: { customer_id: customerId },
    outputSchema: { customer_id: z.string(), message_id: z.string(), template: z.literal('welcome') },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  recorded(NAME, 'send_welcome_email', ({ customer_id }) => {
    const sent = { customer_id, message_id: nextId('msg', customer_id, 'welcome'), template: 'welcome' };
    return ok(sent, `Welcome email queued for ${customer_id}.`);
  }),
);

server.registerTool(
  'send_customer_email',
  {
    title: 'Send customer email',
    description: 'Send a free-form email to a customer. (Example server: nothing is sent.)',
    inputSchema: {
      customer_id: customerId,
      subject: z.string().min(1).max(200).describe('Subject line'),
      body: z.string().max(20_000).describe('Plain-text body'),
    },
    outputSchema: { customer_id: z.string(), message_id: z.string() },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  recorded(NAME, 'send_customer_email', ({ customer_id, subject }) => {
    const sent = { customer_id, message_id: nextId('msg', customer_id, subject) };
    return ok(sent, `Email "${subject}" queued for ${customer_id}.`);
  }),
);

await serveStdio(server, NAME);
