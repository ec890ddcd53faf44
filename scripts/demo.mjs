#!/usr/bin/env node
// `make demo`: a scripted MCP session through Warden, printed so that a person can follow it.
//
// It starts the built proxy exactly as Claude Desktop would (`node dist/cli/main.js serve --config
// examples/warden.yaml`, MCP over stdio) in front of the four example servers, with the shipped
// policy (policy/). For each of the brief's workflows it makes the calls out of order (Warden
// blocks them and says why), then in order (they go through). Every step states what it expects;
// the demo checks Warden's answer and the servers' own call log (WARDEN_EXAMPLE_LOG: a blocked call
// must never reach its server) and exits 1 if anything differs, so it doubles as a smoke test.
//
// Then it starts the dashboard on the same records (`warden serve --http`, same config and data
// directory) and prints its URL. In a terminal it keeps the dashboard running until Ctrl-C; when
// stdout is not a terminal (tests, CI) it checks that the dashboard answers and stops it.
//
// Env: WARDEN_DATA_DIR puts the audit DB and decision log somewhere other than data/ (see
// examples/warden.yaml); WARDEN_DEMO_PORT the dashboard's port (default 8780, any free port if
// taken); NO_COLOR / FORCE_COLOR as usual; WARDEN_OPA names the opa binary.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as ModernClient, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist/cli/main.js');
const CONFIG = join(ROOT, 'examples/warden.yaml');
const DATA = process.env.WARDEN_DATA_DIR ? resolve(process.env.WARDEN_DATA_DIR) : join(ROOT, 'data');
const DECISIONS = join(DATA, 'decisions.jsonl');
const AUDIT_DB = join(DATA, 'audit.db');
const DENIAL_META = 'mcp-warden.dev/decision';

// --- output --------------------------------------------------------------------------------------
const colour = process.env.FORCE_COLOR
  ? process.env.FORCE_COLOR !== '0'
  : process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code) => (s) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint('1');
const dim = paint('2');
const red = paint('31');
const green = paint('32');
const yellow = paint('33');
const cyan = paint('36');
const out = (line = '') => process.stdout.write(`${line}\n`);

/** `key=value` pairs of the arguments that identify the call; long text is cut. */
function keyArgs(args) {
  return Object.entries(args)
    .map(([k, v]) => {
      let s = typeof v === 'string' ? v : JSON.stringify(v);
      if (s.length > 28) s = `${s.slice(0, 25)}...`;
      return `${k}=${typeof v === 'string' && /\s|^$/.test(s) ? JSON.stringify(s) : s}`;
    })
    .join(' ');
}

function textOf(result) {
  return (result.content ?? [])
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('\n');
}

// --- the session ---------------------------------------------------------------------------------
if (!existsSync(CLI)) {
  console.error(`demo: ${relative(process.cwd(), CLI)} is missing; run \`make demo\` (or \`npm run build\`) first.`);
  process.exit(1);
}
if (!process.env.WARDEN_OPA && existsSync(join(ROOT, '.tools/bin/opa')))
  process.env.WARDEN_OPA = join(ROOT, '.tools/bin/opa');

const scratch = mkdtempSync(join(tmpdir(), 'warden-demo-'));
const callLog = join(scratch, 'executed.jsonl');
const transport = new StdioClientTransport({
  command: process.execPath,
  args: [CLI, 'serve', '--config', CONFIG],
  // The SDK hands a child only a few variables by default; Warden needs these to pass on.
  env: {
    ...getDefaultEnvironment(),
    WARDEN_EXAMPLE_LOG: callLog,
    ...(process.env.WARDEN_OPA ? { WARDEN_OPA: process.env.WARDEN_OPA } : {}),
    ...(process.env.WARDEN_DATA_DIR ? { WARDEN_DATA_DIR: DATA } : {}),
    // The e2e subset on Node 22/24 loads native addons built for that Node through it.
    ...(process.env.NODE_OPTIONS ? { NODE_OPTIONS: process.env.NODE_OPTIONS } : {}),
  },
  cwd: ROOT,
  stderr: 'pipe',
});
let wardenStderr = '';
transport.stderr?.on('data', (chunk) => (wardenStderr += chunk.toString('utf8')));
// The scripted client can answer approval requests (MCP elicitation), like a person in Claude
// Desktop would: Warden asks through it when a call needs approval. Answers come from this queue.
const client = new Client({ name: 'warden-demo', version: '1.0.0' }, { capabilities: { elicitation: {} } });
const approvalAnswers = [];
let approvalsGranted = 0;
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  const answer = approvalAnswers.shift() ?? { action: 'cancel' };
  if (answer.action === 'accept') approvalsGranted++;
  out(`        ${cyan('? Warden asks the person at the client:')} ${request.params.message}`);
  out(
    `        ${cyan(`  the person answers: ${answer.action}${answer.content?.comment ? ` ("${answer.content.comment}")` : ''}`)}`,
  );
  return answer;
});

/** Lines the example servers wrote for calls they actually executed. */
function executedCount() {
  if (!existsSync(callLog)) return 0;
  return readFileSync(callLog, 'utf8')
    .split('\n')
    .filter((l) => l.trim()).length;
}

const problems = [];
const deniedIds = [];
let calls = 0;

/**
 * One call and what the script expects of it:
 * - `allow`: Warden lets it through, the server runs it and it succeeds;
 * - `fail`: Warden lets it through, the server runs it and reports an error (failing tests, bad data);
 * - a rule id (`workflow.step_order`, `warden.approval_required`, ...): Warden denies it with that rule.
 */
async function step(name, args, expected, note) {
  calls++;
  const before = executedCount();
  let result;
  try {
    result = await client.callTool({ name, arguments: args });
  } catch (err) {
    result = {
      isError: true,
      content: [{ type: 'text', text: `(JSON-RPC error) ${err instanceof Error ? err.message : String(err)}` }],
    };
  }
  const ran = executedCount() > before;
  const meta = result._meta?.[DENIAL_META];
  const text = textOf(result);
  const denied = meta?.allow === false;
  const rules = denied ? meta.reasons.map((r) => r.rule) : [];
  const got = denied
    ? `denied (${[...new Set(rules)].join(', ')})`
    : result.isError
      ? 'allowed, tool failed'
      : 'allowed';

  const label = `${bold(name)}  ${dim(keyArgs(args))}`;
  if (denied) {
    deniedIds.push(meta.decision_id);
    out(`    ${red('✘')} ${label}`);
    for (const r of meta.reasons) out(`        ${red('denied:')} ${r.message} ${dim(`[${r.rule}]`)}`);
  } else if (result.isError) {
    out(`    ${yellow('⚠')} ${label}`);
    out(`        ${yellow('ran, and the tool reported an error:')} ${text.split('\n')[0]}`);
  } else {
    out(`    ${green('✔')} ${label}`);
    out(`        ${dim(text.split('\n')[0])}`);
  }
  if (note) out(`        ${cyan(`→ ${note}`)}`);

  const ok =
    expected === 'allow'
      ? !denied && !result.isError && ran
      : expected === 'fail'
        ? !denied && result.isError === true
        : denied && rules.includes(expected) && !ran;
  if (!ok) {
    const why =
      denied && ran
        ? `; and the server executed a call Warden denied`
        : !denied && !ran && expected === 'allow'
          ? '; and the server never executed it'
          : '';
    const msg = `${name} ${keyArgs(args)}: expected ${expected === 'allow' || expected === 'fail' ? expected : `denied by ${expected}`}, got ${got}${why}`;
    problems.push(msg);
    out(`        ${red(bold(`UNEXPECTED: ${msg}`))}`);
  }
}

function section(n, title, subtitle) {
  out();
  out(bold(`${n}. ${title}`));
  out(dim(`   ${subtitle}`));
}
const phase = (title) => out(`  ${cyan(title)}`);

async function session() {
  section(
    1,
    'Customer onboarding',
    'validate_customer_data → create_account → backup_customer_record → send_welcome_email, per customer_id',
  );
  phase('Out of order: blocked');
  await step('create_account', { customer_id: 'cus_ada', plan: 'pro' }, 'workflow.step_order');
  await step('send_welcome_email', { customer_id: 'cus_ada' }, 'workflow.step_order');
  await step(
    'send_customer_email',
    { customer_id: 'cus_ada', subject: 'Hello', body: 'Welcome aboard' },
    'workflow.step_order',
  );
  phase('In order: allowed');
  await step(
    'validate_customer_data',
    { customer_id: 'cus_ada', name: 'Ada Lovelace', email: 'ada@example.com' },
    'allow',
  );
  await step('create_account', { customer_id: 'cus_ada', plan: 'pro' }, 'allow');
  await step('backup_customer_record', { customer_id: 'cus_ada' }, 'allow');
  await step('send_welcome_email', { customer_id: 'cus_ada' }, 'allow');
  await step('send_customer_email', { customer_id: 'cus_ada', subject: 'Hello', body: 'Welcome aboard' }, 'allow');
  phase("Per customer: Ada's validation does not open Grace's account, nor does invalid data");
  await step('create_account', { customer_id: 'cus_grace' }, 'workflow.step_order');
  await step(
    'validate_customer_data',
    { customer_id: 'cus_grace', name: 'Grace Hopper', email: 'not-an-address' },
    'fail',
  );
  await step('create_account', { customer_id: 'cus_grace' }, 'workflow.step_order');

  section(
    2,
    'Financial processing',
    'fraud_check must approve the same payment before payment_processing; every financial call is audited',
  );
  phase('Out of order: blocked');
  await step('payment_processing', { payment_id: 'pay_1001', amount: 250 }, 'workflow.step_order');
  phase('In order: allowed');
  await step('fraud_check', { payment_id: 'pay_1001', amount: 250 }, 'allow');
  await step('payment_processing', { payment_id: 'pay_1001', amount: 250 }, 'allow');
  phase('A high-risk check blocks the payment');
  await step('fraud_check', { payment_id: 'pay_1002', amount: 25000 }, 'allow');
  await step('payment_processing', { payment_id: 'pay_1002', amount: 25000 }, 'workflow.result_rejected');

  section(
    3,
    'Production deployment',
    'run_tests and security_scan must pass for the service, then a release manager approves the deploy',
  );
  phase('Out of order: blocked');
  await step('deploy_to_production', { service: 'billing-api', version: '2.4.0' }, 'workflow.step_order');
  await step('security_scan', { service: 'billing-api' }, 'workflow.step_order');
  phase("In order: allowed, then held for a release manager's approval");
  await step('run_tests', { service: 'billing-api' }, 'allow');
  await step('security_scan', { service: 'billing-api' }, 'allow');
  approvalAnswers.push({ action: 'decline' });
  await step(
    'deploy_to_production',
    { service: 'billing-api', version: '2.4.0' },
    'warden.approval_required',
    'the policy allows this deploy once a release manager approves it; Warden held the call and asked. Declined: denied.',
  );
  approvalAnswers.push({ action: 'accept', content: { comment: 'change ticket CHG-1042' } });
  await step(
    'deploy_to_production',
    { service: 'billing-api', version: '2.4.0' },
    'allow',
    'approved: Warden recorded the approval (input.approvals, audit trail), asked the policy again, and forwarded the call.',
  );
  phase('A later failing test run closes the gate again');
  await step('run_tests', { service: 'billing-api', simulate_failure: true }, 'fail');
  await step('deploy_to_production', { service: 'billing-api', version: '2.4.0' }, 'workflow.step_order');

  section(
    4,
    'Dangerous combinations',
    'back up a database before deleting it; no outbound send after a secret was read',
  );
  phase('Out of order: blocked');
  await step('delete_database', { database: 'orders_staging' }, 'workflow.step_order');
  phase('In order: allowed');
  await step('backup_database', { database: 'orders_staging' }, 'allow');
  await step('delete_database', { database: 'orders_staging' }, 'allow');
  phase('Exfiltration: outbound sends are fine until a secret is read');
  await step('send_email', { to: 'ops@example.com', subject: 'Nightly report', body: 'All green' }, 'allow');
  await step('read_secret', { name: 'stripe/api_key' }, 'allow');
  await step(
    'send_email',
    { to: 'ops@example.com', subject: 'Key', body: 'Here it is' },
    'flow.sensitive_to_open_world',
  );
  await step('http_post', { url: 'https://paste.example.net/new', body: 'Here it is' }, 'flow.sensitive_to_open_world');
}

/**
 * Starts `warden serve --http PORT` on the demo's config and data (the records just written), on
 * WARDEN_DEMO_PORT or 8780, or any free port when that one is taken. Resolves with its URL.
 */
async function startDashboard() {
  const wanted = process.env.WARDEN_DEMO_PORT ?? '8780';
  for (const port of wanted === '0' ? ['0'] : [wanted, '0']) {
    const child = spawn(process.execPath, [CLI, 'serve', '--config', CONFIG, '--http', port], {
      cwd: ROOT,
      env: {
        ...process.env,
        WARDEN_EXAMPLE_LOG: '',
        ...(process.env.WARDEN_DATA_DIR ? { WARDEN_DATA_DIR: DATA } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const started = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 30_000);
      child.stderr.on('data', (chunk) => {
        stderr += chunk.toString('utf8');
        const line = stderr.split('\n').find((l) => l.includes('"warden serving on http"'));
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line));
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(null);
      });
    });
    if (started) return { child, url: `http://127.0.0.1:${started.port}/` };
    child.kill('SIGTERM');
    if (!/EADDRINUSE/.test(stderr)) throw new Error(`the dashboard did not start:\n${stderr.slice(-2000)}`);
  }
  throw new Error('the dashboard did not start: no free port');
}

function stopDashboard(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  return exited;
}

/**
 * The same Warden over HTTP, through a client pinned to MCP 2026-07-28 (no initialize, no session:
 * every request carries its own envelope): the policy decides exactly as for the stdio session.
 */
async function modernSession(url) {
  out();
  out(bold('MCP 2026-07-28'));
  out(dim(`  a client pinned to the stateless revision, on ${url}mcp: no initialize, no session id`));
  const modern = new ModernClient(
    { name: 'warden-demo-modern', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  try {
    await modern.connect(new StreamableHTTPClientTransport(new URL(`${url}mcp`)));
    const steps = [
      ['deploy_to_production', { service: 'billing-api', version: '2.5.0' }, false],
      ['run_tests', { service: 'billing-api' }, true],
    ];
    for (const [name, args, allowed] of steps) {
      calls++;
      const result = await modern.callTool({ name, arguments: args });
      const meta = result._meta?.[DENIAL_META];
      const denied = meta?.allow === false;
      if (denied) {
        out(`    ${red('✘')} ${bold(name)}  ${dim(keyArgs(args))}`);
        for (const r of meta.reasons) out(`        ${red('denied:')} ${r.message} ${dim(`[${r.rule}]`)}`);
      } else {
        out(`    ${green('✔')} ${bold(name)}  ${dim(keyArgs(args))}`);
        out(`        ${dim(textOf(result).split('\n')[0])}`);
      }
      if (denied === allowed || (allowed && result.isError))
        problems.push(
          `2026-07-28 client: ${name} was ${denied ? 'denied' : 'allowed'}, expected ${allowed ? 'allowed' : 'denied'}`,
        );
    }
  } catch (err) {
    problems.push(`2026-07-28 client: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await modern.close().catch(() => undefined);
  }
}

/** Reads this session's decision-log lines (found through a denied call's decision id). */
async function sessionDecisions() {
  const deadline = Date.now() + 3000;
  for (;;) {
    const lines = [];
    for (const line of existsSync(DECISIONS) ? readFileSync(DECISIONS, 'utf8').split('\n') : []) {
      if (!line.trim()) continue;
      try {
        lines.push(JSON.parse(line));
      } catch {
        break; // a line still being written; the next poll reads it whole
      }
    }
    const anchor = lines.find((d) => d.decision_id === deniedIds[0]);
    // The call decisions; each result's decision (mcp/result) is logged apart.
    const mine = anchor
      ? lines.filter((d) => d.path !== 'mcp/result' && d.custom?.session_id === anchor.custom.session_id)
      : [];
    if (mine.length >= calls || Date.now() > deadline) return mine;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const started = Date.now();
out(bold('Warden demo: a scripted MCP session through the governance proxy'));
out(dim(`  warden   node ${relative(ROOT, CLI)} serve --config ${relative(ROOT, CONFIG)}  (MCP over stdio)`));
out(dim('  servers  crm, payments, ci, ops (examples/servers/)    policy  policy/ (the shipped workflow templates)'));
out(
  dim(
    `  legend   ${'✔'} allowed and executed   ${'✘'} denied by Warden, never reached the server   ${'⚠'} allowed, the tool itself failed`,
  ),
);

let exitCode = 0;
let dashboard = null;
try {
  try {
    await client.connect(transport);
  } catch (err) {
    throw new Error(
      `Warden did not start: ${err instanceof Error ? err.message : String(err)}\n--- warden stderr ---\n${wardenStderr}`,
    );
  }
  await session();
  await client.close();

  const decisions = await sessionDecisions();
  const financial = decisions.filter((d) =>
    ['fraud_check', 'payment_processing', 'refund_payment'].includes(d.input?.call?.name),
  );
  const audited = financial.filter((d) => d.result?.obligations?.audit?.required === true);
  const deniedCount = decisions.filter((d) => d.custom?.allow === false).length;
  out();
  out(bold('Records'));
  out(
    `  ${decisions.length} decisions logged for this session (${deniedCount} denied); ${audited.length} of ${financial.length} financial decisions carry obligations.audit.required`,
  );
  // One decision per call, plus one re-evaluation for each approval granted.
  const expectedDecisions = calls + approvalsGranted;
  if (decisions.length !== expectedDecisions)
    problems.push(
      `expected ${expectedDecisions} decision-log lines for this session (${calls} calls, ${approvalsGranted} re-evaluated after approval), found ${decisions.length}`,
    );
  if (financial.length === 0 || audited.length !== financial.length)
    problems.push('every financial decision should carry obligations.audit.required');
  out(`  decision log  ${DECISIONS}   (one JSON line per decision, OPA decision-log format)`);
  out(`  audit trail   ${AUDIT_DB}   (SQLite, hash-chained)`);

  out();
  out(bold('Dashboard'));
  try {
    dashboard = await startDashboard();
    const [compliance, chain] = await Promise.all(
      ['admin/compliance', 'admin/audit/verify'].map((p) => fetch(dashboard.url + p).then((r) => r.json())),
    );
    out(`  Dashboard: ${dashboard.url}`);
    out(`  the same records, live: sessions and their workflow steps, decisions, approvals, audit reports, compliance`);
    out(
      `  compliance score ${compliance.score === null ? 'n/a' : `${Math.round(compliance.score * 100)}%`} over ${compliance.sessions.total} session(s), ${compliance.calls.violations} violation(s); ` +
        `hash chain ${chain.ok ? `verified (${chain.count} records)` : `FAILED at record ${chain.seq}`}`,
    );
    if (!chain.ok) problems.push(`the audit trail's hash chain does not verify: record ${chain.seq} ${chain.problem}`);
    out(dim('  admin API: /admin (docs/admin-api.md); compliance scoring: docs/compliance.md'));
  } catch (err) {
    problems.push(`dashboard: ${err instanceof Error ? err.message : String(err)}`);
  }

  if (dashboard) await modernSession(dashboard.url);

  out();
  out(bold('Try it yourself'));
  out('  Claude Desktop: add Warden to claude_desktop_config.json');
  out('    {');
  out('      "mcpServers": {');
  out('        "warden": {');
  out(`          "command": ${JSON.stringify(process.execPath)},`);
  out(`          "args": [${[CLI, 'serve', '--config', CONFIG].map((a) => JSON.stringify(a)).join(', ')}]`);
  out('        }');
  out('      }');
  out('    }');
  out('  MCP Inspector:');
  out(`    npx @modelcontextprotocol/inspector node dist/cli/main.js serve --config examples/warden.yaml`);
  out(dim('  Both start the same config: the four example servers behind Warden with the shipped policy.'));
} catch (err) {
  problems.push(err instanceof Error ? err.message : String(err));
} finally {
  await client.close().catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
}

out();
if (problems.length) {
  exitCode = 1;
  out(red(bold(`Demo FAILED: ${problems.length} step(s) did not behave as expected:`)));
  for (const p of problems) out(red(`  - ${p}`));
  if (wardenStderr) process.stderr.write(`--- warden stderr (last 2000 chars) ---\n${wardenStderr.slice(-2000)}\n`);
} else {
  out(green(`Demo OK: ${calls} calls, every outcome as expected (${((Date.now() - started) / 1000).toFixed(1)} s).`));
}
if (dashboard && exitCode === 0 && process.stdout.isTTY) {
  out();
  out(`${bold('Dashboard running at')} ${cyan(dashboard.url)}  ${dim('(Ctrl-C to stop)')}`);
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    dashboard.child.once('exit', resolve);
  });
} else if (dashboard) {
  out(dim('  (stdout is not a terminal, so the dashboard stops now; run `make demo` in a terminal to keep it open)'));
}
await stopDashboard(dashboard?.child);
process.exit(exitCode);
