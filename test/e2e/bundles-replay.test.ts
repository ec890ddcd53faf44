import { beforeAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { openAuditStore } from '../../src/audit/index.js';
import { replayRecords, type ReplayReport } from '../../src/reports/index.js';
import { CLI, SERVERS, nodeServer, startWarden, tempDir } from '../helpers/warden.js';
import { writeTree } from '../policy/bundle-helpers.js';

// The recorded policy denies one message; the new one changes four decisions in ways that depend on
// the session's history (a failure earlier, how often echo was called, denials included), so the
// report is only right if replay rebuilds each input as the pipeline built it.
const V1 = `package mcp

default decision := {"allow": true, "reasons": [], "monitored": [], "obligations": {}}

decision := {"allow": false, "reasons": reasons, "monitored": [], "obligations": {}} if count(reasons) > 0

reasons contains {"rule": "v1.no_forbidden", "message": "echo must not say forbidden"} if {
\tinput.call.name == "echo"
\tinput.call.arguments.message == "forbidden"
}

# History-dependent in v1 too: a third count in one session is denied.
reasons contains {"rule": "v1.count_budget", "message": "count at most twice"} if {
\tinput.call.name == "count"
\tinput.summary.count.calls >= 2
}
`;

const V2 = `package mcp

default decision := {"allow": true, "reasons": [], "monitored": [], "obligations": {}}

decision := {"allow": false, "reasons": reasons, "monitored": [], "obligations": {}} if count(reasons) > 0

decision := {"allow": true, "reasons": [], "monitored": [], "obligations": {"approval": {"required": true, "reason": "ok needs a second pair of eyes"}}} if {
\tcount(reasons) == 0
\tinput.call.name == "echo"
\tinput.call.arguments.message == "ok"
}

reasons contains {"rule": "v2.no_structured_after_failure", "message": "no structured after a failed call"} if {
\tinput.call.name == "structured"
\tsome h in input.history
\th.outcome == "error"
}

reasons contains {"rule": "v2.echo_budget", "message": "count only while echo was called under twice"} if {
\tinput.call.name == "count"
\tinput.summary.echo.calls >= 2
}

reasons contains {"rule": "v1.count_budget", "message": "count at most twice"} if {
\tinput.call.name == "count"
\tinput.summary.count.calls >= 2
}
`;

describe('warden replay on a recorded session set', () => {
  const dir = tempDir('replay');
  const store = `sqlite:${join(dir, 'audit.db')}`;
  const v1 = writeTree(join(dir, 'v1'), { 'mcp/decision.rego': V1 });
  const v2 = writeTree(join(dir, 'v2'), { 'mcp/decision.rego': V2 });
  const ids: string[] = [];
  const logged: Record<string, unknown>[] = [];
  let between = '';

  const session = async (calls: [string, Record<string, unknown>][]): Promise<void> => {
    const w = await startWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: v1 },
      audit: { store },
    });
    try {
      for (const [name, args] of calls) await w.client.callTool({ name, arguments: args });
      ids.push(String((w.decisions()[0]!['custom'] as { session_id: string }).session_id));
    } finally {
      await w.close();
    }
    logged.push(...w.decisions().map((d) => d['input'] as Record<string, unknown>));
  };

  beforeAll(async () => {
    await session([
      ['echo', { message: 'hello' }], // 1 allow
      ['fail', { message: 'boom' }], // 2 allow, outcome error
      ['structured', { value: 'abc' }], // 3 allow -> v2 deny (a failure before it)
      ['echo', { message: 'forbidden' }], // 4 deny -> v2 allow
      ['count', {}], // 5 allow -> v2 deny (echo called twice: the denial counts)
      ['count', {}], // 6 allow -> v2 deny (same)
      ['count', {}], // 7 deny (third count), both
    ]);
    await new Promise((r) => setTimeout(r, 50));
    between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 50));
    await session([
      ['structured', { value: 'x' }], // 1 allow, both
      ['echo', { message: 'forbidden' }], // 2 deny -> v2 allow
      ['echo', { message: 'ok' }], // 3 allow -> v2 approval
    ]);
  }, 120_000);

  const replay = (...args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [CLI, 'replay', '--store', store, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test('each rebuilt input document is the one the pipeline built, but for what the trail does not keep', async () => {
    const rebuilt: Record<string, unknown>[] = [];
    const capture = {
      evaluate: (input: unknown) => {
        rebuilt.push(structuredClone(input) as Record<string, unknown>);
        return {
          decision: { allow: true, reasons: [], monitored: [], obligations: {} },
          revision: 'capture',
          bundle: 'capture',
          result: {},
          evalNs: 0,
        };
      },
    };
    const audit = await openAuditStore(store, { readOnly: true });
    try {
      await replayRecords(await audit.read({}), {
        policy: capture,
        session: { historyWindow: 200, resultMaxChars: 2048 },
      });
    } finally {
      await audit.close();
    }
    // History times come from record timestamps (within a few ms of the pipeline's clock); the
    // call's own time, annotations and the session start are recorded and rebuilt exactly.
    const normalize = (input: Record<string, unknown>): unknown =>
      JSON.parse(
        JSON.stringify(input, (key, value: unknown) =>
          ['at', 'at_ms', 'duration_ms'].includes(key) ? undefined : value,
        ),
      );
    expect(rebuilt).toHaveLength(logged.length);
    expect(rebuilt.map(normalize)).toEqual(logged.map(normalize));
    for (const [i, input] of rebuilt.entries())
      expect(Math.abs((input['now_ms'] as number) - (logged[i]!['now_ms'] as number))).toBeLessThan(50);
  });

  test('against the recorded policy itself: every decision reproduced, nothing changes', () => {
    const r = replay('--bundle', v1, '--format', 'json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as ReplayReport;
    expect(report).toMatchObject({ sessions: 2, decisions: 10, changed: 0, changes: [] });
  });

  test('against the new policy: exactly the changed decisions, with session, seq, tool, old -> new and rules', () => {
    const r = replay('--bundle', v2, '--format', 'json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as ReplayReport & { bundle: { revision: string } };
    expect(report.bundle.revision).toMatch(/^sha256:/);
    expect(report.decisions).toBe(10);
    expect(
      report.changes.map((c) => [
        c.session_id,
        c.seq,
        c.tool,
        c.old,
        c.new,
        c.new_rules.length ? c.new_rules : c.old_rules,
      ]),
    ).toEqual([
      [ids[0], 3, 'structured', 'allow', 'deny', ['v2.no_structured_after_failure']],
      [ids[0], 4, 'echo', 'deny', 'allow', ['v1.no_forbidden']],
      [ids[0], 5, 'count', 'allow', 'deny', ['v2.echo_budget']],
      [ids[0], 6, 'count', 'allow', 'deny', ['v2.echo_budget']],
      [ids[1], 2, 'echo', 'deny', 'allow', ['v1.no_forbidden']],
      [ids[1], 3, 'echo', 'allow', 'approval', []],
    ]);
    expect(report.by_change).toEqual({ 'allow-to-deny': 3, 'deny-to-allow': 2, 'allow-to-approval': 1 });
    // The trail keeps each call's annotations, so replay rebuilds input.call exactly.
    expect(report.inexact.annotations_missing).toBe(0);
  });

  test('--since compares only later decisions (history still rebuilt); table output; --fail-on gates CI', () => {
    const since = replay('--bundle', v2, '--format', 'json', '--since', between);
    const report = JSON.parse(since.stdout) as ReplayReport;
    expect(report.decisions).toBe(3);
    expect(report.changes.map((c) => [c.seq, c.change])).toEqual([
      [2, 'deny-to-allow'],
      [3, 'allow-to-approval'],
    ]);

    const table = replay('--bundle', v2);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      /10 decisions in 2 sessions: 6 would change \(3 allow→deny, 2 deny→allow, 1 allow→approval\)/,
    );
    expect(table.stdout).toMatch(/SESSION\s+SEQ\s+TOOL\s+OLD → NEW\s+RULES/);
    expect(table.stdout).toMatch(
      new RegExp(`${ids[0]!.slice(0, 8)}\\s+3\\s+structured\\s+allow → deny\\s+v2.no_structured_after_failure`),
    );
    expect(table.stderr).toBe(''); // no progress bar when stderr is not a terminal

    const gate = replay('--bundle', v2, '--fail-on', 'allow-to-deny,deny-to-allow');
    expect(gate.code).toBe(1);
    expect(gate.stderr).toMatch(/--fail-on matched: allow-to-deny \(3\), deny-to-allow \(2\)/);
    expect(replay('--bundle', v2, '--fail-on', 'deny-to-approval').code).toBe(0);
    expect(replay('--bundle', v2, '--since', between, '--fail-on', 'allow-to-deny').code).toBe(0);
    const usage = replay('--bundle', v2, '--fail-on', 'sideways');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown change sideways/);
  });
});
