import { describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setPolicyMode } from '../../src/cli/policy-mode.js';
import { tempDir } from '../helpers/warden.js';

const SERVERS = 'mcpServers:\n  a: { url: "http://127.0.0.1:1/mcp" }   # a remote server\n';

function write(name: string, text: string): string {
  const path = join(tempDir('mode'), name);
  writeFileSync(path, text);
  return path;
}

describe('warden policy enforce|monitor', () => {
  test.each<[string, string, string]>([
    [
      'block map with comments',
      `${SERVERS}# the policy\npolicy:\n  bundle: builtin:shipped   # pre-built\n  mode: monitor   # for now\n` +
        'audit: { store: "memory:" }\n',
      '  mode: enforce   # for now\n',
    ],
    [
      'flow map',
      `${SERVERS}policy: { bundle: builtin:shipped, mode: 'monitor' }  # inline\naudit: { store: "memory:" }\n`,
      'policy: { bundle: builtin:shipped, mode: enforce }  # inline\n',
    ],
  ])('%s: only the value changes', (_name, text, line) => {
    const path = write('warden.yaml', text);
    expect(setPolicyMode(path, 'enforce')).toEqual({ path, changed: true, from: 'monitor' });
    const after = readFileSync(path, 'utf8');
    expect(after).toContain(line);
    expect(after.split('\n').filter((l, i) => l !== text.split('\n')[i])).toEqual([line.trimEnd()]);
    expect(setPolicyMode(path, 'enforce')).toMatchObject({ changed: false, from: 'enforce' });
  });

  test('monitor on a config without mode (enforce by default) adds the key', () => {
    const path = write('warden.yaml', `${SERVERS}policy:\n  bundle: builtin:shipped\naudit: { store: "memory:" }\n`);
    expect(setPolicyMode(path, 'enforce').changed).toBe(false);
    expect(setPolicyMode(path, 'monitor')).toMatchObject({ changed: true, from: 'enforce' });
    expect(readFileSync(path, 'utf8')).toContain('  mode: monitor\n');
    expect(readFileSync(path, 'utf8')).toContain('# a remote server');
  });

  test('a JSON config keeps its indentation', () => {
    const path = write(
      'warden.json',
      JSON.stringify(
        {
          mcpServers: { a: { url: 'http://127.0.0.1:1/mcp' } },
          policy: { bundle: 'builtin:shipped', mode: 'monitor' },
          audit: { store: 'memory:' },
        },
        null,
        4,
      ),
    );
    setPolicyMode(path, 'enforce');
    expect(readFileSync(path, 'utf8')).toContain('\n        "mode": "enforce"\n');
  });

  test.each<[string, string, string, RegExp]>([
    ['missing file', '', 'nothere.yaml', /config file not found: .*nothere\.yaml\. Fix: pass --config/],
    [
      'no policy',
      `${SERVERS}audit: { store: "memory:" }\n`,
      'warden.yaml',
      /at policy: missing or not a map\. Fix: add policy:/,
    ],
    [
      'would not load',
      `${SERVERS}policy: { bundle: /nonexistent, mode: monitor }\n`,
      'warden.yaml',
      /would not load after setting policy\.mode to enforce: .*\/nonexistent does not exist/,
    ],
  ])('%s: says what and how to fix, writes nothing', (_name, text, name, message) => {
    const path = name === 'nothere.yaml' ? join(tempDir('mode'), name) : write(name, text);
    expect(() => setPolicyMode(path, 'enforce')).toThrow(message);
    if (text) expect(readFileSync(path, 'utf8')).toBe(text);
  });
});
