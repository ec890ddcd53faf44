import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unifiedDiff } from '../../src/cli/diff.js';
import { parseJsonc } from '../../src/cli/jsonc.js';
import { tempDir } from '../helpers/warden.js';

describe('parseJsonc (client configs)', () => {
  test('reads comments and trailing commas as VS Code does, and says it saw comments', () => {
    const r = parseJsonc('{\n  // a comment\n  "servers": { "a": { "args": ["x", "y",], }, }, /* block */\n}\n');
    expect(r.value).toEqual({ servers: { a: { args: ['x', 'y'] } } });
    expect(r.comments).toBe(true);
    expect(parseJsonc('{"a": 1}').comments).toBe(false);
  });

  test.each<[string, string, string]>([
    ['missing comma', '{\n  "a": 1\n  "b": 2\n}', "line 3, column 3: expected ',' or '}' after the value of \"a\""],
    ['single quotes', "{ 'a': 1 }", "line 1, column 3: expected a property name in double quotes or '}'"],
    ['unclosed string', '{ "a": "x\n}', 'line 1, column 8: a string is never closed'],
    ['truncated', '{ "a": [1, 2', "line 1, column 13: expected ',' or ']' in a list, found end of file"],
    ['unclosed comment', '{ /* x', 'line 1, column 3: a /* comment is never closed'],
    ['trailing garbage', '{} x', 'line 1, column 4: unexpected character "x" after the end of the document'],
  ])('%s: line and column, whatever Node version', (_name, text, message) => {
    expect(() => parseJsonc(text)).toThrow(message);
  });

  test('"__proto__" is an ordinary key', () => {
    const v = parseJsonc('{"__proto__": {"x": 1}}').value as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });
});

describe('unifiedDiff', () => {
  test.each<[string, string, string]>([
    ['replace a block', 'a\nb\nc\nd\ne\nf\ng\nh\n', 'a\nb\nX\nY\nd\ne\nf\ng\nh\n'],
    [
      'append and remove far apart',
      Array.from({ length: 30 }, (_, i) => `l${i}`).join('\n') + '\n',
      ['l0', 'new', ...Array.from({ length: 28 }, (_, i) => `l${i + 1}`)].join('\n') + '\nend\n',
    ],
    ['from nothing', '', 'one\ntwo\n'],
  ])('%s: `patch` applies it and gets the new text', (_name, before, after) => {
    const dir = tempDir('diff');
    writeFileSync(join(dir, 'f.json'), before);
    const diff = unifiedDiff(before, after, 'a/f.json', 'b/f.json');
    expect(diff.startsWith('--- a/f.json\n+++ b/f.json\n@@ ')).toBe(true);
    const r = spawnSync('patch', ['-p1', '--quiet'], { cwd: dir, input: diff, encoding: 'utf8' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(join(dir, 'f.json'), 'utf8')).toBe(after);
  });

  test('no change, no diff', () => {
    expect(unifiedDiff('same\n', 'same\n', 'a', 'b')).toBe('');
  });
});
