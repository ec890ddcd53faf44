// Helpers to run the official MCP conformance suite (@modelcontextprotocol/conformance) against
// a URL and to start our conformance fixture server. Used by direct.test.ts and by the
// through-Warden variants, so both compare the same summary shape.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const RUNNER = fileURLToPath(new URL('../../scripts/conformance.mjs', import.meta.url));

/** The fixture server implementing every server scenario of the suite (`--stdio` or `--http PORT`). */
export const FIXTURE_SERVER = fileURLToPath(new URL('../fixtures/conformance/server.mjs', import.meta.url));

/** Where the runner keeps the suite's per-run result directories. */
export const CONFORMANCE_OUT = fileURLToPath(new URL('../.tmp/conformance/', import.meta.url));

/**
 * Warnings the suite raises against a conformant server, by scenario and check id.
 *
 * server-sse-polling: conformance 0.1.16 probes with `mcp-protocol-version: 2025-03-26`, and the
 * SDK (rightly) sends SEP-1699 priming events, with their `retry` field, only to clients at
 * 2025-11-25 or later; so a server that implements resumability is still told it sends neither.
 * Fixed upstream in modelcontextprotocol/conformance#366; direct.test.ts proves the fixture passes
 * the scenario cleanly with that fix applied.
 */
export const KNOWN_WARNINGS: Readonly<Record<string, readonly string[]>> = {
  'server-sse-polling': ['server-sse-priming-event', 'server-sse-retry-field'],
};

export interface CheckBrief {
  id: string;
  message: string;
}

export interface ScenarioResult {
  /** No FAILURE check: the suite's own verdict. */
  passed: boolean;
  /** Counted for the revision (with `requirements`; extension and pending scenarios are not). */
  scored: boolean;
  checks: { success: number; failure: number; warning: number; info: number };
  failures: CheckBrief[];
  warnings: CheckBrief[];
  /** The suite's `server-<scenario>-<timestamp>` directory holding checks.json, or null if it wrote none. */
  result_dir: string | null;
}

/** The JSON document scripts/conformance.mjs prints. */
export interface Summary {
  version: number;
  suite: string;
  node: string;
  url: string;
  output_dir: string;
  duration_ms: number;
  suite_exit_codes: Array<number | string | null>;
  total: number;
  passed: number;
  failed: number;
  warnings: number;
  /** The revision whose frozen requirements were run (`--requirements`), or null for the 0.1.16 suite. */
  requirements: string | null;
  scored: { total: number; passed: number };
  scenarios: Record<string, ScenarioResult>;
}

export interface RunOptions {
  /** Run only these scenarios (default: the whole suite, pending scenarios included). */
  scenarios?: string[];
  /** Another build of the suite's CLI (a patched copy, say) instead of the installed one. */
  harness?: string;
  /** Kill the suite after this long (default 120 s). */
  timeoutMs?: number;
  /** Run the scenarios a spec revision requires (suite 0.2.0-alpha.12), e.g. '2026-07-28'. */
  requirements?: string;
}

/**
 * Run the suite's server scenarios against `url` under Node 22 (installed on first use by
 * scripts/node22.sh) and return its summary. Failing scenarios are data, not errors: this
 * rejects only when the runner itself cannot run.
 *
 * @example
 * const fixture = await startFixtureHttp();
 * try {
 *   const summary = await runConformance(fixture.url);
 *   expect(summary.failed).toBe(0);
 * } finally {
 *   await fixture.close();
 * }
 */
export async function runConformance(url: string, options: RunOptions = {}): Promise<Summary> {
  const args = [RUNNER, '--url', url, '--out', CONFORMANCE_OUT];
  for (const name of options.scenarios ?? []) args.push('--scenario', name);
  if (options.harness) args.push('--harness', options.harness);
  if (options.timeoutMs) args.push('--timeout', String(options.timeoutMs));
  if (options.requirements) args.push('--requirements', options.requirements);

  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  // 0: all passed, 1: some failed; anything else means no summary.
  if (code !== 0 && code !== 1) {
    throw new Error(`scripts/conformance.mjs exited with ${code}: ${stderr.trim() || stdout.trim()}`);
  }
  return JSON.parse(stdout) as Summary;
}

/** Names of scenarios that did not pass. */
export function failedScenarios(summary: Summary): string[] {
  return Object.entries(summary.scenarios)
    .filter(([, result]) => !result.passed)
    .map(([name]) => name);
}

/** `scenario: check-id` for every WARNING check not listed in KNOWN_WARNINGS. */
export function unexpectedWarnings(summary: Summary): string[] {
  return Object.entries(summary.scenarios).flatMap(([name, result]) =>
    result.warnings
      .filter((warning) => !(KNOWN_WARNINGS[name] ?? []).includes(warning.id))
      .map((warning) => `${name}: ${warning.id}`),
  );
}

export interface RunningFixture {
  /** `http://localhost:PORT/mcp`: a localhost name, which the DNS-rebinding scenario requires. */
  url: string;
  close(): Promise<void>;
}

/**
 * Start the fixture in Streamable HTTP mode on a free loopback port (bound to 127.0.0.1).
 * The fixture picks the port itself (`--http 0`) and prints its URL, so there is no
 * probe-then-bind race with other test workers.
 */
export async function startFixtureHttp(): Promise<RunningFixture> {
  const child = spawn(process.execPath, [FIXTURE_SERVER, '--http', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => reject(new Error(`fixture did not report its URL in 15 s: ${stderr}`)), 15_000);
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const match = /listening on (http:\/\/\S+)/.exec(stdout);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`fixture exited (${code ?? signal}) before listening: ${stderr}`));
      });
    });
    return { url, close: () => stop(child) };
  } catch (error) {
    await stop(child);
    throw error;
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}
