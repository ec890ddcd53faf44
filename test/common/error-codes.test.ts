// The catalogue of error codes (src/common/error-codes.ts) and its page (docs/errors.md) list the same
// codes, each once, so neither can grow a code the other lacks; the JSON-RPC codes that the sdk also
// names have the sdk's values.
import { readFileSync } from 'node:fs';
import { ProtocolErrorCode } from '@modelcontextprotocol/server';
import { describe, expect, test } from 'vitest';
import { JsonRpcErrorCode, WardenErrorCode } from '../../src/common/index.js';

const DOC = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

/** The table rows of the `## heading` section of docs/errors.md, as their cells (backticks dropped). */
function rows(heading: string): string[][] {
  const start = DOC.indexOf(`\n## ${heading}\n`);
  expect(start, `docs/errors.md has a section "## ${heading}"`).toBeGreaterThanOrEqual(0);
  const end = DOC.indexOf('\n## ', start + 1);
  const section = DOC.slice(start, end === -1 ? undefined : end);
  return section
    .split('\n')
    .filter((line) => /^\| `/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim().replace(/^`(.*)`$/, '$1')),
    );
}

const sorted = <T>(list: T[]): T[] => [...list].sort();

describe('WardenErrorCode', () => {
  test('docs/errors.md lists exactly its codes, each once', () => {
    const table = rows('Warden error codes');
    for (const row of table) expect(row, 'a row is | code | when; what to do |').toHaveLength(2);
    const documented = table.map(([code]) => code!);
    expect(sorted(documented)).toEqual(sorted(Object.values(WardenErrorCode)));
  });

  test('its codes are distinct snake_case, fit for a metric label', () => {
    const codes = Object.values(WardenErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
  });
});

describe('JsonRpcErrorCode', () => {
  test('docs/errors.md lists exactly its codes with their names, each once', () => {
    const table = rows('JSON-RPC error codes');
    for (const row of table) expect(row, 'a row is | code | name | when; what to do |').toHaveLength(3);
    const documented = table.map(([code, name]) => `${code} ${name}`);
    const listed = Object.entries(JsonRpcErrorCode).map(([name, code]) => `${code} ${name}`);
    expect(sorted(documented)).toEqual(sorted(listed));
  });

  test('its values are distinct, and those the sdk names have the sdk value', () => {
    const codes = Object.values(JsonRpcErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    const sdk = ProtocolErrorCode as unknown as Record<string, number>;
    const shared = Object.entries(JsonRpcErrorCode).filter(([name]) => name in sdk);
    expect(shared.map(([name]) => name)).toEqual([
      'ParseError',
      'MethodNotFound',
      'InvalidParams',
      'InternalError',
      'ResourceNotFound',
      'UnsupportedProtocolVersion',
    ]);
    for (const [name, code] of shared) expect(code, name).toBe(sdk[name]);
  });
});
