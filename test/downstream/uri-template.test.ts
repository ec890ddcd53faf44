import { describe, expect, test } from 'vitest';
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import { compileUriTemplate, type MatchMeter } from '../../src/downstream/index.js';

// How Warden matched before (src/downstream/pool.ts at 4a02549): each expression became `.+?`.
// Kept here as the reference for `loose`, on inputs short enough for its backtracking.
function previousMatcher(template: string): RegExp {
  const parts = template.split(/\{[^}]*\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.+?')}$`);
}

// [template, uri, strict, loose]. `strict` is what the SDK's UriTemplate.match says (asserted
// below too), `loose` what the previous matcher said.
const CASES: [string, string, boolean, boolean][] = [
  ['file:///{dir}/{file}', 'file:///docs/a.md', true, true],
  ['file:///{dir}/{file}', 'file:///docs/sub/a.md', false, true],
  ['file:///{dir}/{file}', 'file:///docs/', false, false],
  ['file:///{dir}/{file}', 'file:///a,b/c', false, true],
  ['file:///{dir}/{file}', 'file:///a/b\n', true, false],
  ['file:///{dir}/{file}', 'http://docs/a.md', false, false],
  ['test://template/{id}/data', 'test://template/42/data', true, true],
  ['test://template/{id}/data', 'test://template//data', false, false],
  ['repo://{+path}', 'repo://src/lib/a.ts', true, true],
  ['repo://{+path}', 'repo://', false, false],
  ['doc://page{#section}', 'doc://page#intro', true, true],
  ['file:///report{.ext}', 'file:///report.pdf', true, true],
  ['file:///report{.ext}', 'file:///reportpdf', false, true],
  ['file:///report{.ext}', 'file:///report', false, false],
  ['api://v1{/segments*}', 'api://v1/users', true, true],
  ['api://v1{/segments*}', 'api://v1/users,42', true, true],
  ['api://v1{/segments*}', 'api://v1/users/42', false, true],
  ['batch://{ids*}', 'batch://1,2,3', true, true],
  ['batch://{ids*}', 'batch://1,,2', false, true],
  ['batch://{ids*}', 'batch://1,', false, true],
  ['batch://{ids}', 'batch://1,2', false, true],
  ['search://items{?q,limit}', 'search://items?q=shoes&limit=10', true, true],
  ['search://items{?q,limit}', 'search://items?q=shoes', false, true],
  ['search://items{?q,limit}', 'search://items?limit=10&q=shoes', false, true],
  ['search://items{?q,limit}', 'search://items?q=a&b&limit=1', false, true],
  ['list://all?sort=asc{&page}', 'list://all?sort=asc&page=2', true, true],
  ['db://{schema}.{table}', 'db://public.users', true, true],
  ['static://readme', 'static://readme', true, true],
  ['static://readme', 'static://readme2', false, false],
  ['u://{a}{b}', 'u://x', false, false],
  ['u://{a}{b}', 'u://xy', true, true],
];

describe('compileUriTemplate', () => {
  test.each(CASES)('%s ~ %j: strict %s, loose %s', (template, uri, strict, loose) => {
    const t = compileUriTemplate(template);
    expect(t.matches(uri, 'strict')).toBe(strict);
    expect(t.matches(uri, 'loose')).toBe(loose);
  });

  test.each(CASES)('strict agrees with the SDK, loose with the previous matcher: %s ~ %j', (template, uri) => {
    const t = compileUriTemplate(template);
    expect(t.matches(uri, 'strict')).toBe(new UriTemplate(template).match(uri) !== null);
    expect(t.matches(uri, 'loose')).toBe(previousMatcher(template).test(uri));
  });

  test('an unclosed expression is literal text, as before', () => {
    const t = compileUriTemplate('weird://{oops');
    expect(t.matches('weird://{oops', 'strict')).toBe(true);
    expect(t.matches('weird://{oops', 'loose')).toBe(true);
    expect(t.matches('weird://x', 'loose')).toBe(false);
  });

  // Inputs that made the previous matcher backtrack: hundreds of thousands of candidate splits.
  // Each character is examined at most once per edge of the automaton, whatever the input.
  const N = 250_000;
  const ADVERSARIAL: [string, string, boolean][] = [
    ['file:///{dir}/{file}', `file:///${'/'.repeat(N)}\n`, false],
    ['file:///{dir}/{file}.txt', `file:///cache/${'/'.repeat(N)}slow`, false],
    ['file:///{dir}/{file}.txt', `file:///${'a/'.repeat(N / 2)}x.txt`, true],
    ['{a}/{b}/{c}/{d}/{e}/{f}', `${'/'.repeat(N)}\n`, false],
    ['x{+a}y{+b}y{+c}z', `x${'y'.repeat(N)}`, false],
    ['search://{q}{?a,b,c}', `search://${'?a='.repeat(Math.floor(N / 3))}`, true],
    ['batch://{ids*}', `batch://${'1,'.repeat(N / 2)}`, true],
  ];
  test.each(ADVERSARIAL)('%s, a 250 KB adversarial URI (case %#): bounded steps', (template, uri, looseResult) => {
    const t = compileUriTemplate(template);
    const bound = uri.length * 2 * (template.length + 2);
    for (const mode of ['strict', 'loose'] as const) {
      const meter: MatchMeter = { steps: 0 };
      const matched = t.matches(uri, mode, meter);
      if (mode === 'loose') expect(matched).toBe(looseResult);
      expect(meter.steps).toBeGreaterThan(0);
      expect(meter.steps).toBeLessThanOrEqual(bound);
    }
  });

  test('work grows linearly with the URI: twice the length, at most twice the steps', () => {
    const t = compileUriTemplate('file:///{dir}/{file}.txt');
    const steps = (n: number): number => {
      const meter: MatchMeter = { steps: 0 };
      t.matches(`file:///${'/'.repeat(n)}x`, 'loose', meter);
      return meter.steps;
    };
    expect(steps(200_000)).toBeLessThanOrEqual(2 * steps(100_000) + 16);
  });

  test('a URI that leaves the template early stops early', () => {
    const meter: MatchMeter = { steps: 0 };
    expect(compileUriTemplate('file:///{dir}/{file}').matches(`http://${'x'.repeat(N)}`, 'loose', meter)).toBe(false);
    expect(meter.steps).toBeLessThan(10);
  });
});
