import { describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PolicyEngine, SDK_BUILTINS } from '../../src/policy/index.js';
import { compileDirectory, findOpa } from '../../src/bundles/index.js';
import { tempDir } from '../helpers/warden.js';

// The Go implementation (`opa eval`, Rego target) is the oracle: every host builtin Warden supplies
// to the Wasm module must give the same answer for the same expression.
const EXPRESSIONS: Record<string, string> = {
  parse_rfc3339: 'time.parse_rfc3339_ns("2024-02-29T23:59:58.123456789+02:00")',
  parse_duration: 'time.parse_duration_ns("1h30m15.5s")',
  parse_duration_neg: 'time.parse_duration_ns("-300ms")',
  parse_ns: 'time.parse_ns("2006-01-02 15:04", "2024-07-04 09:30")',
  parse_ns_zone: 'time.parse_ns("2006-01-02T15:04:05Z07:00", "2024-07-04T09:30:00-05:00")',
  date: 'time.date(1709251198000000000)',
  date_tz: 'time.date([1709251198000000000, "Asia/Tokyo"])',
  clock: 'time.clock(1709251198000000000)',
  clock_tz: 'time.clock([1709251198000000000, "America/New_York"])',
  weekday: 'time.weekday(1709251198000000000)',
  add_date: 'time.add_date(1709251198000000000, 0, 1, 1)',
  diff: 'time.diff(1709251198000000000, 1600000000000000000)',
  format: 'time.format(1709251198123000000)',
  format_layout: 'time.format([1709251198000000000, "UTC", "Mon, 02 Jan 2006 15:04:05 MST"])',
  format_tz: 'time.format([1709251198000000000, "Europe/Paris", "2006-01-02T15:04:05Z07:00"])',
  sha256: 'crypto.sha256("warden")',
  sha1: 'crypto.sha1("warden")',
  md5: 'crypto.md5("warden")',
  hmac: 'crypto.hmac.sha256("message", "key")',
  units_bytes: 'units.parse_bytes("1.5GiB")',
  units_bytes_dec: 'units.parse_bytes("10KB")',
  units: 'units.parse("2.5M")',
  units_milli: 'units.parse("5m")',
  sprintf: 'sprintf("%s has %d calls", ["run_tests", 3])',
};

describe('host builtins match OPA', () => {
  const dir = tempDir('builtins');
  const rules = Object.entries(EXPRESSIONS)
    .map(([name, expr]) => `r_${name} := ${expr}`)
    .join('\n');
  writeFileSync(
    join(dir, 'b.rego'),
    `package b\n\n${rules}\n\nall := {${Object.keys(EXPRESSIONS)
      .map((n) => `"${n}": r_${n}`)
      .join(', ')}}\n`,
  );
  const oracle = JSON.parse(
    execFileSync(findOpa(), ['eval', '--format', 'json', '-d', dir, 'data.b.all'], { encoding: 'utf8' }),
  ).result[0].expressions[0].value as Record<string, unknown>;

  test.each(Object.keys(EXPRESSIONS))('%s', async (name) => {
    const bundle = await compileDirectory(dir, 'b/all');
    const engine = await PolicyEngine.load(bundle, 'b/all').catch((e: unknown) => e);
    // The decision schema does not apply to this entrypoint: read the raw result.
    const evaluation = (engine as PolicyEngine).evaluate({});
    const value = (evaluation.result as Record<string, unknown>)[name];
    const expected = oracle[name];
    if (typeof expected === 'number' && Math.abs(expected) > Number.MAX_SAFE_INTEGER) {
      // Nanosecond timestamps exceed 2^53: JavaScript numbers keep them to within a microsecond.
      expect(Math.abs((value as number) - expected)).toBeLessThan(1000);
    } else {
      expect(value).toEqual(expected);
    }
  });

  test('uuid.rfc4122 is stable for one key within an evaluation', async () => {
    const d = tempDir('uuid');
    writeFileSync(
      join(d, 'u.rego'),
      'package u\n\nsame := uuid.rfc4122("k") == uuid.rfc4122("k")\n\nall := {"same": same, "id": uuid.rfc4122("k")}\n',
    );
    const engine = await PolicyEngine.load(await compileDirectory(d, 'u/all'), 'u/all');
    const r = engine.evaluate({}).result as { same: boolean; id: string };
    expect(r.same).toBe(true);
    expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

test('SDK_BUILTINS mirrors what opa-wasm implements itself', () => {
  const require = createRequire(import.meta.url);
  const sdkDir = join(require.resolve('@open-policy-agent/opa-wasm'), '..');
  const index = readFileSync(join(sdkDir, 'builtins/index.js'), 'utf8');
  const modules = [...index.matchAll(/require\("\.\/(\w+)"\)/g)].map((m) => m[1]!);
  const names = new Set<string>();
  for (const mod of modules) {
    const exported = require(join(sdkDir, 'builtins', `${mod}.js`)) as Record<string, unknown>;
    for (const key of Object.keys(exported)) names.add(key);
  }
  expect([...names].sort()).toEqual([...SDK_BUILTINS].sort());
});
