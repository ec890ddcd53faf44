#!/usr/bin/env node
// ci: a build pipeline. The example policies only let deploy_to_production through after run_tests
// and security_scan passed for the same service in the session. Failures are triggered by name
// ("flaky", "broken", "vulnerable"), by env CI_FAIL_TESTS=1 or by simulate_failure: true.
// CI_DEPLOY_MS=<ms> makes deploy_to_production take that long (a slow rollout, for tests of calls
// made while a deploy is still running).

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import * as z from 'zod/v4';
import { recorded } from './lib/record.js';
import { fail, ok } from './lib/results.js';
import { stableId } from './lib/ids.js';
import { serveStdio } from './lib/serve.js';

const NAME = 'ci';
const SUITES = ['unit', 'integration', 'e2e', 'all'];
const SEVERITIES = ['low', 'medium', 'high', 'critical'];

const server = new McpServer({ name: NAME, title: 'CI/CD', version: '1.0.0' });
const service = z
  .string()
  .min(1)
  .max(100)
  .describe('Service (repository) name, e.g. "billing-api"');

server.registerTool(
  'run_tests',
  {
    title: 'Run tests',
    description:
      'Run the test suite of a service and report passed and failed counts. Returns isError when any test fails.',
    inputSchema: {
      service,
      suite: z.enum(SUITES).optional().describe('Which suite to run; default all'),
      simulate_failure: z.boolean().optional().describe('Force a failing run (for demos and tests)'),
    },
    outputSchema: { service: z.string(), suite: z.enum(SUITES), passed: z.number().int(), failed: z.number().int() },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  recorded(NAME, 'run_tests', ({ service: name, suite = 'all', simulate_failure }) => {
    const failing =
      simulate_failure === true || /flaky|broken/i.test(name) || process.env.CI_FAIL_TESTS === '1';
    const total = { unit: 120, integration: 34, e2e: 9, all: 163 }[suite];
    const failed = failing ? Math.max(1, Math.round(total * 0.02)) : 0;
    const result = { service: name, suite, passed: total - failed, failed };
    if (failing) return fail(`${failed} of ${total} ${suite} tests failed for ${name}.\n${JSON.stringify(result)}`, result);
    return ok(result, `All ${total} ${suite} tests passed for ${name}.`);
  }),
);

server.registerTool(
  'security_scan',
  {
    title: 'Security scan',
    description:
      'Scan a service and its dependencies for known vulnerabilities. Returns isError when critical findings exist.',
    inputSchema: { service },
    outputSchema: {
      service: z.string(),
      findings: z.array(z.object({ id: z.string(), severity: z.enum(SEVERITIES), title: z.string() })),
      critical: z.number().int(),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  },
  recorded(NAME, 'security_scan', ({ service: name }) => {
    const findings = [{ id: 'LINT-0001', severity: 'low', title: 'Outdated transitive dev dependency' }];
    if (/vulnerable/i.test(name)) {
      findings.push(
        { id: 'VULN-2024-0001', severity: 'critical', title: 'Remote code execution in template engine' },
        { id: 'VULN-2024-0002', severity: 'high', title: 'Path traversal in static file handler' },
      );
    }
    const result = { service: name, findings, critical: findings.filter((f) => f.severity === 'critical').length };
    if (result.critical > 0) {
      return fail(`${result.critical} critical finding(s) in ${name}.\n${JSON.stringify(result)}`, result);
    }
    return ok(result, `No critical findings in ${name}.`);
  }),
);

server.registerTool(
  'deploy_to_production',
  {
    title: 'Deploy to production',
    description: 'Roll out a version of a service to production, replacing the running version.',
    inputSchema: {
      service,
      version: z.string().min(1).max(64).optional().describe('Version or git ref; default: build of the main branch'),
    },
    outputSchema: { service: z.string(), version: z.string(), url: z.string() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  },
  recorded(NAME, 'deploy_to_production', async ({ service: name, version }) => {
    const rollout = Number(process.env.CI_DEPLOY_MS ?? 0);
    if (rollout > 0) await new Promise((resolve) => setTimeout(resolve, rollout));
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'service';
    const result = {
      service: name,
      version: version ?? `main-${stableId('build', name).slice(6, 13)}`,
      url: `https://${slug}.example.com`,
    };
    return ok(result, `Deployed ${name}@${result.version} to ${result.url}.`);
  }),
);

await serveStdio(server, NAME);
