import { describe, expect, test } from 'vitest';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { defaultInstance, expandEnv, parseConfig } from '../../src/config/index.js';
import { DEFAULT_EVALUATION_BUDGET } from '../../src/policy/index.js';
import { FIXTURES, POLICIES } from '../helpers/warden.js';

const base = `
mcpServers:
  crm: { command: node, args: [servers/crm.js], env: { MODE: demo } }
  ci: { url: "http://127.0.0.1:9100/mcp", headers: { Authorization: "Bearer \${CI_TOKEN}" }, prefix: "ci_" }
policy: { bundle: ${join(POLICIES, 'allow-all')} }
`;

describe('config', () => {
  test('derives a frozen config with defaults and absolute paths', () => {
    const c = parseConfig(base, join(FIXTURES, 'warden.yaml'), { CI_TOKEN: 't0k' });
    expect(c.servers).toEqual([
      {
        kind: 'stdio',
        name: 'crm',
        command: 'node',
        args: ['servers/crm.js'],
        env: { MODE: 'demo' },
        cwd: FIXTURES,
        prefix: '',
        timeoutMs: 60000,
        tools: { onChange: 'deny' },
      },
      {
        kind: 'http',
        name: 'ci',
        url: 'http://127.0.0.1:9100/mcp',
        headers: { Authorization: 'Bearer t0k' },
        prefix: 'ci_',
        timeoutMs: 60000,
        tools: { onChange: 'deny' },
      },
    ]);
    expect(c.policy).toEqual({
      bundle: join(POLICIES, 'allow-all'),
      entrypoint: 'mcp/decision',
      mode: 'enforce',
      watch: false,
      evaluation: DEFAULT_EVALUATION_BUDGET,
      limits: { compressedBytes: 64 * 1024 ** 2, uncompressedBytes: 256 * 1024 ** 2, files: 10_000 },
    });
    expect(c.audit.store).toBe(`sqlite:${join(FIXTURES, 'data/audit.db')}`);
    expect(c.audit.onFailure).toBe('deny');
    expect(c.session).toEqual({ historyWindow: 100, resultMaxChars: 512 });
    expect(c.limits).toEqual({ maxUriLength: 8192, argumentsMaxDepth: 64, argumentsMaxBytes: 1024 * 1024 });
    expect(Object.isFrozen(c) && Object.isFrozen(c.servers[0])).toBe(true);
  });

  test('mcpServers.<name>.tools.onChange: deny by default, monitor or accept as given', () => {
    const parse = (tools: string): ReturnType<typeof parseConfig> =>
      parseConfig(`mcpServers: { a: { command: x${tools} } }\npolicy: { bundle: . }`, '/tmp/w', {});
    expect(parse('').servers[0]!.tools).toEqual({ onChange: 'deny' });
    expect(parse(', tools: { onChange: monitor }').servers[0]!.tools).toEqual({ onChange: 'monitor' });
    expect(parse(', tools: { onChange: accept }').servers[0]!.tools).toEqual({ onChange: 'accept' });
    expect(() => parse(', tools: { onChange: allow }')).toThrow(/mcpServers\.a\.tools\.onChange/);
  });

  test('policy.evaluation: the budget as given, each key defaulted on its own', () => {
    const parse = (evaluation: string): ReturnType<typeof parseConfig> =>
      parseConfig(`mcpServers: { a: { command: x } }\npolicy: { bundle: ., evaluation: ${evaluation} }`, '/tmp/w', {});
    expect(parse('{ timeoutMs: 9, maxMemoryMb: 64 }').policy.evaluation).toEqual({ timeoutMs: 9, maxMemoryMb: 64 });
    expect(parse('{ timeoutMs: 40 }').policy.evaluation).toEqual({ timeoutMs: 40, maxMemoryMb: 256 });
    expect(() => parse('{ timeoutMs: 0 }')).toThrow(/policy\.evaluation\.timeoutMs: must be >= 1/);
    expect(() => parse('{ maxMemoryMb: 8 }')).toThrow(/policy\.evaluation\.maxMemoryMb: must be >= 32/);
    expect(() => parse('{ timeout: 5 }')).toThrow(/policy\.evaluation\.timeout: unknown key/);
  });

  test('JSON configs are read as JSON', () => {
    const c = parseConfig(
      JSON.stringify({ mcpServers: { a: { command: 'x' } }, policy: { bundle: join(POLICIES, 'allow-all') } }),
      '/tmp/w.json',
      {},
    );
    expect(c.servers[0]!.name).toBe('a');
  });

  test('policy.limits: sizes in bytes or with a unit, each defaulted on its own', () => {
    const withLimits = (limits: string): ReturnType<typeof parseConfig> =>
      parseConfig(
        `mcpServers: { a: { command: x } }\npolicy: { bundle: ${join(POLICIES, 'allow-all')}, limits: ${limits} }`,
        '/tmp/w.yaml',
        {},
      );
    expect(withLimits('{ compressedBytes: 1mb, uncompressedBytes: 1048576, files: 50 }').policy.limits).toEqual({
      compressedBytes: 1024 ** 2,
      uncompressedBytes: 1024 ** 2,
      files: 50,
    });
    expect(withLimits('{ uncompressedBytes: 1.5gb }').policy.limits).toEqual({
      compressedBytes: 64 * 1024 ** 2,
      uncompressedBytes: 1.5 * 1024 ** 3,
      files: 10_000,
    });
    expect(() => withLimits('{ files: 0 }')).toThrow(/policy\.limits\.files: must be >= 1/);
    expect(() => withLimits('{ compressedBytes: lots }')).toThrow(/policy\.limits\.compressedBytes/);
    const unknown = /policy\.limits\.entries: unknown key.*compressedBytes, uncompressedBytes, files/;
    expect(() => withLimits('{ entries: 5 }')).toThrow(unknown);
  });

  describe('instance: the replica name', () => {
    const withInstance = (line: string): ReturnType<typeof parseConfig> =>
      parseConfig(`mcpServers: { a: { command: x } }\npolicy: { bundle: . }\n${line}`, '/tmp/w.yaml', {
        POD_NAME: 'warden-7f9c-2',
        NODE_PATH: 'rack/4',
      });

    test('default: the host name, the same on every start of this machine', () => {
      expect(withInstance('').instance).toBe(defaultInstance(hostname()));
      expect(withInstance('').instance).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    });

    test.each([
      ['a plain name', 'web-1.example.com', 'web-1.example.com'],
      ['spaces and other characters become dashes', 'my host:1/ü', 'my-host-1--'],
      ['cut to 64', 'h'.repeat(80), 'h'.repeat(64)],
      ['nothing left: a fixed name', '', 'warden'],
    ])('defaultInstance: %s', (_n, host, expected) => {
      expect(defaultInstance(host)).toBe(expected);
    });

    test.each([
      ['as given', 'instance: eu-1_a.b', 'eu-1_a.b'],
      ['64 characters', `instance: ${'a'.repeat(64)}`, 'a'.repeat(64)],
      ['from the environment', 'instance: "${POD_NAME}"', 'warden-7f9c-2'],
      ['an environment default', 'instance: "${REPLICA:-r9}"', 'r9'],
    ])('%s', (_n, line, expected) => {
      expect(withInstance(line).instance).toBe(expected);
    });

    test.each([
      ['empty', 'instance: ""', /instance: must match pattern/],
      ['a space', 'instance: "a b"', /instance: must match pattern.*\(1 to 64 of A-Z a-z 0-9 \. _ -/],
      ['65 characters', `instance: ${'a'.repeat(65)}`, /at instance: "a{65}" is not a replica name.*1 to 64/],
      ['a slash from the environment', 'instance: "${NODE_PATH}"', /at instance: "rack\/4" is not a replica name/],
      ['not a string', 'instance: 7', /instance: must be string/],
    ])('refused: %s', (_n, line, expected) => {
      expect(() => withInstance(line)).toThrow(expected);
    });
  });

  test('${VAR:-default} and unset variables', () => {
    expect(expandEnv({ a: '${X:-fallback}', b: ['${Y}'] }, { Y: 'y' })).toEqual({ a: 'fallback', b: ['y'] });
    expect(() => expandEnv({ a: { b: '${NOPE}' } }, {})).toThrow(
      /config error at a\.b: environment variable NOPE is not set/,
    );
  });

  test.each([
    [
      'both command and url',
      'mcpServers: { a: { command: x, url: "http://h/mcp" } }\npolicy: { bundle: . }',
      /mcpServers\.a: has both command and url/,
    ],
    [
      'bad url',
      'mcpServers: { a: { url: "ftp://h" } }\npolicy: { bundle: . }',
      /mcpServers\.a\.url: .*http:\/\/ or https:\/\//,
    ],
    ['missing policy', 'mcpServers: { a: { command: x } }', /policy: required key is missing/],
    [
      'unknown nested key',
      'mcpServers: { a: { command: x, comand: y } }\npolicy: { bundle: . }',
      /mcpServers\.a\.comand: unknown key/,
    ],
    [
      'wrong type',
      'mcpServers: { a: { command: x, args: "one" } }\npolicy: { bundle: . }',
      /mcpServers\.a\.args: must be array/,
    ],
    [
      'one chain per replica on SQLite',
      'mcpServers: { a: { command: x } }\npolicy: { bundle: . }\naudit: { store: "sqlite:./a.db", chain: instance }',
      /at audit\.chain: "instance" .* needs a PostgreSQL store, and audit\.store is sqlite\. Fix: .*audit\.chain: shared/,
    ],
    [
      'one chain per replica with retention',
      'mcpServers: { a: { command: x } }\npolicy: { bundle: . }\n' +
        'audit: { store: "postgres://h/db", chain: instance, retention: { maxAgeDays: 9, archiveDir: /tmp/a } }',
      /at audit\.retention: retention archives the shared chain only .* audit\.chain: instance/,
    ],
    [
      'a zero URI cap',
      'mcpServers: { a: { command: x } }\npolicy: { bundle: . }\nlimits: { maxUriLength: 0 }',
      /limits\.maxUriLength: must be >= 1/,
    ],
  ])('%s', (_n, text, expected) => {
    expect(() => parseConfig(text, '/tmp/w.yaml', {})).toThrow(expected);
  });
});
