import { describe, expect, test } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { parseConfig } from '../../src/config/index.js';
import { policyStatusFile, runtimeSpecFromConfig } from '../../src/bundles/index.js';
import { POLICIES, tempDir } from '../helpers/warden.js';
import { copyFixture } from '../policy/bundle-helpers.js';

// policy.bundles / services / verification are OPA's config shape; these cases pin how Warden
// resolves them into the runtime's bundle specs, and the start-up errors for the usual mistakes.
const servers = { mcpServers: { a: { command: 'node' } } };

describe('policy bundles config', () => {
  const dir = tempDir('policy-config');
  const team = copyFixture('team-payments', 'cfg-team');
  writeFileSync(join(dir, 'pub.pem'), '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n');
  const parse = (
    policy: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ): ReturnType<typeof parseConfig> =>
    parseConfig(YAML.stringify({ ...servers, policy, ...extra }), join(dir, 'warden.yaml'), { TOKEN: 't0k' });

  test('services, resources, polling, signing and keys resolve into bundle specs', () => {
    const config = parse({
      services: {
        platform: {
          url: 'https://bundles.example.com/',
          headers: { 'X-Tenant': 'acme' },
          credentials: { bearer: { token: '${TOKEN}' } },
        },
      },
      bundles: {
        base: {
          service: 'platform',
          resource: '/warden/base.tar.gz',
          polling: { min_delay_seconds: 5, max_delay_seconds: 10, long_polling_timeout_seconds: 30 },
          signing: { keyid: 'ci', scope: 'write' },
        },
        defaults: { service: 'platform' },
        direct: { resource: 'https://cdn.example.com/x.tar.gz' },
        team: { path: team, watch: true },
      },
      verification: {
        keys: { ci: { algorithm: 'EdDSA', key_file: './pub.pem' }, hmac: { algorithm: 'HS256', key: 'secret' } },
        exclude_files: ['docs/*'],
      },
      watch: false,
    });
    const options = runtimeSpecFromConfig(config);
    expect(options.nameFromManifest).toBe(false);
    expect(options.statusFile).toBe(join(dir, 'data', 'policy-status.json'));
    const [base, defaults, direct, teamSpec] = options.bundles;
    expect(base).toMatchObject({
      name: 'base',
      url: 'https://bundles.example.com/warden/base.tar.gz',
      headers: { 'X-Tenant': 'acme', Authorization: 'Bearer t0k' },
      polling: { minDelaySeconds: 5, maxDelaySeconds: 10, longPollingTimeoutSeconds: 30 },
      verification: { keyid: 'ci', scope: 'write', excludeFiles: ['docs/*'] },
    });
    expect(base!.verification!.keys['ci']!.key).toContain('BEGIN PUBLIC KEY');
    expect(defaults).toMatchObject({ url: 'https://bundles.example.com/bundles/defaults' });
    expect(direct).toMatchObject({ url: 'https://cdn.example.com/x.tar.gz', headers: {} });
    expect(teamSpec).toMatchObject({
      name: 'team',
      path: team,
      watch: true,
      verification: { excludeFiles: ['docs/*'] },
    });
    expect(config.policy.bundle).toBe('https://bundles.example.com/warden/base.tar.gz');
  });

  test('policy.bundle keeps its old meaning, and may be a bundle URL', () => {
    const local = parse(
      { bundle: join(POLICIES, 'allow-all'), watch: true },
      { audit: { store: `sqlite:${join(dir, 'db/audit.db')}` } },
    );
    expect(runtimeSpecFromConfig(local)).toMatchObject({
      bundles: [{ name: 'policy', path: join(POLICIES, 'allow-all') }],
      watch: true,
      nameFromManifest: true,
    });
    expect(policyStatusFile(local)).toBe(join(dir, 'db', 'policy-status.json'));
    const remote = parse({ bundle: 'https://bundles.example.com/p.tar.gz', statusFile: './state/status.json' });
    const limits = { compressedBytes: 64 * 1024 ** 2, uncompressedBytes: 256 * 1024 ** 2, files: 10_000 };
    const remoteSpec = { name: 'policy', url: 'https://bundles.example.com/p.tar.gz', limits };
    expect(runtimeSpecFromConfig(remote).bundles).toEqual([remoteSpec]);
    expect(policyStatusFile(remote)).toBe(join(dir, 'state/status.json'));
  });

  test('policy.limits reach every bundle source', () => {
    const limits = { compressedBytes: '1mb', uncompressedBytes: '2mb', files: 5 };
    const one = parse({ bundle: join(POLICIES, 'allow-all'), limits });
    const two = { a: { path: join(POLICIES, 'allow-all') }, b: { resource: 'https://x.example/b.tar.gz' } };
    const several = parse({ bundles: two, limits });
    const expected = { compressedBytes: 1024 ** 2, uncompressedBytes: 2 * 1024 ** 2, files: 5 };
    for (const spec of [...runtimeSpecFromConfig(one).bundles, ...runtimeSpecFromConfig(several).bundles]) {
      expect(spec.limits).toEqual(expected);
    }
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    [
      'both bundle and bundles',
      { bundle: 'x', bundles: { a: { path: '.' } } },
      /policy\.bundle: set either policy\.bundle .* or policy\.bundles/,
    ],
    ['neither', { mode: 'enforce' }, /policy\.bundle: required key is missing/],
    [
      'a bundle with neither path nor resource',
      { bundles: { a: { polling: { min_delay_seconds: 1 } } } },
      /policy\.bundles\.a: has neither path nor resource/,
    ],
    [
      'a bundle with both',
      { bundles: { a: { path: '.', resource: 'https://x/y' } } },
      /policy\.bundles\.a: has both path and resource/,
    ],
    ['an unknown service', { bundles: { a: { service: 'nope' } } }, /policy\.bundles\.a\.service: no service "nope"/],
    [
      'a relative resource without a service',
      { bundles: { a: { resource: 'b/c.tar.gz' } } },
      /policy\.bundles\.a\.resource: "b\/c\.tar\.gz" is not a URL/,
    ],
    [
      'signing without keys',
      { bundles: { a: { path: '.', signing: { keyid: 'k' } } } },
      /policy\.bundles\.a\.signing: there are no keys/,
    ],
    [
      'min delay above max',
      { bundles: { a: { resource: 'https://x/y', polling: { min_delay_seconds: 9, max_delay_seconds: 3 } } } },
      /min_delay_seconds \(9\) is greater than max_delay_seconds \(3\)/,
    ],
    ['a missing path', { bundles: { a: { path: './nowhere' } } }, /policy\.bundles\.a\.path: .*nowhere does not exist/],
    [
      'key and key_file',
      { bundle: '.', verification: { keys: { k: { key: 'x', key_file: './pub.pem' } } } },
      /verification\.keys\.k: give exactly one of key .* and key_file/,
    ],
    [
      'an unreadable key_file',
      { bundle: '.', verification: { keys: { k: { key_file: './missing.pem' } } } },
      /verification\.keys\.k\.key_file: cannot read/,
    ],
    [
      'a keyid that is not a key',
      { bundle: '.', verification: { keys: { k: { key: 'x' } }, keyid: 'other' } },
      /verification\.keyid: no key "other"/,
    ],
    [
      'an unknown algorithm',
      { bundle: '.', verification: { keys: { k: { key: 'x', algorithm: 'none' } } } },
      /algorithm: must be one of/,
    ],
    [
      'an unknown bundle key',
      { bundles: { a: { path: '.', persist: true } } },
      /policy\.bundles\.a\.persist: unknown key/,
    ],
  ])('refused at start: %s', (_name, policy, message) => {
    expect(() => parse(policy)).toThrow(message);
  });

  test('decisionLogs.service', () => {
    const config = parse(
      { bundle: '.' },
      {
        decisionLogs: { service: { url: 'https://collector.example.com/logs', headers: { A: 'b' }, minDelayMs: 200 } },
      },
    );
    expect(config.decisionLogs.service).toEqual({
      url: 'https://collector.example.com/logs',
      headers: { A: 'b' },
      minDelayMs: 200,
      maxDelayMs: 10_000,
      maxBufferRecords: 10_000,
      timeoutMs: 10_000,
    });
    expect(() => parse({ bundle: '.' }, { decisionLogs: { service: { url: 'ftp://x' } } })).toThrow(
      /decisionLogs\.service\.url/,
    );
    expect(() =>
      parse({ bundle: '.' }, { decisionLogs: { service: { url: 'https://x', minDelayMs: 5000, maxDelayMs: 100 } } }),
    ).toThrow(/minDelayMs \(5000\) is greater than maxDelayMs \(100\)/);
  });
});
