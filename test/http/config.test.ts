import { describe, expect, test } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { parseConfig } from '../../src/config/index.js';
import { createOriginGuard } from '../../src/http/index.js';
import { POLICIES, ROOT, tempDir } from '../helpers/warden.js';

const BASE = { mcpServers: { a: { command: 'node' } }, policy: { bundle: join(POLICIES, 'allow-all') } };
const parse = (extra: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
  parseConfig(YAML.stringify({ ...BASE, ...extra }), join(ROOT, 'test/.tmp/inline.yaml'), env);

describe('config: http and auth', () => {
  test('defaults: 4 MB body, 30 min idle, 256 sessions (16 a principal), loopback guards, resumable SSE, auth none', () => {
    const c = parse({});
    expect(c.http).toEqual({
      bodyLimit: 4 * 1024 * 1024,
      idleTimeoutMs: 1_800_000,
      maxSessions: 256,
      maxSessionsPerPrincipal: 16,
      allowedHosts: undefined,
      allowedOrigins: undefined,
      publicUrl: undefined,
      sse: { retryMs: 2000, pollAfterMs: 0, replayBytes: 256 * 1024 },
    });
    expect(c.auth).toEqual({ type: 'none', authorizationServers: [] });
  });

  test.each([
    [1024, 1024],
    ['512kb', 512 * 1024],
    ['1.5 MB', 1.5 * 1024 * 1024],
    ['100b', 100],
  ])('bodyLimit %s = %s bytes', (value, bytes) => {
    expect(parse({ http: { bodyLimit: value } }).http.bodyLimit).toBe(bytes);
  });

  test('http.sse: retry, polling and the replay bound, sizes as for bodyLimit', () => {
    const c = parse({ http: { sse: { retryMs: 100, pollAfterMs: 25_000, replayBytes: '1mb' } } });
    expect(c.http.sse).toEqual({ retryMs: 100, pollAfterMs: 25_000, replayBytes: 1024 * 1024 });
    expect(() => parse({ http: { sse: { pollAfterMs: -1 } } })).toThrow(/pollAfterMs/);
  });

  test('bearer tokens are expanded from the environment and mapped to principals', () => {
    const c = parse(
      { auth: { type: 'bearer', tokens: [{ token: '${TOKEN_ALICE}', sub: 'alice', roles: ['dev'] }] } },
      { TOKEN_ALICE: 'a'.repeat(32) },
    );
    expect(c.auth).toEqual({
      type: 'bearer',
      authorizationServers: [],
      tokens: [{ token: 'a'.repeat(32), principal: { sub: 'alice', roles: ['dev'], claims: {} } }],
    });
  });

  test('jwt: a file path resolves against the config directory; an audience string becomes a list', () => {
    const dir = tempDir('cfg');
    writeFileSync(join(dir, 'jwks.json'), '{"keys":[]}');
    const c = parseConfig(
      YAML.stringify({ ...BASE, auth: { type: 'jwt', jwks: 'jwks.json', issuer: 'https://i', audience: 'warden' } }),
      join(dir, 'warden.yaml'),
      {},
    );
    expect(c.auth).toMatchObject({
      type: 'jwt',
      jwks: { kind: 'file', path: join(dir, 'jwks.json') },
      audience: ['warden'],
      rolesClaim: 'roles',
      clockToleranceSec: 0,
    });
    expect(c.auth).toMatchObject({ requireExp: true, maxTokenAgeSec: undefined });
    expect(
      parse({ auth: { type: 'jwt', jwks: 'https://idp/jwks', issuer: 'https://i', audience: ['a', 'b'] } }).auth,
    ).toMatchObject({ jwks: { kind: 'url', url: 'https://idp/jwks' }, audience: ['a', 'b'] });
  });

  const invalid: Record<string, [Record<string, unknown>, RegExp]> = {
    'jwt without issuer': [
      { auth: { type: 'jwt', jwks: 'https://idp/jwks', audience: 'w' } },
      /auth\.issuer: type jwt requires jwks, issuer and audience; issuer is missing/,
    ],
    'jwt without audience': [
      { auth: { type: 'jwt', jwks: 'https://idp/jwks', issuer: 'i' } },
      /auth\.audience: .*audience is missing/,
    ],
    'jwt without jwks': [{ auth: { type: 'jwt', issuer: 'i', audience: 'w' } }, /auth\.jwks: .*jwks is missing/],
    'jwt with a missing jwks file': [
      { auth: { type: 'jwt', jwks: 'nope.json', issuer: 'i', audience: 'w' } },
      /auth\.jwks: .*nope\.json does not exist/,
    ],
    'bearer without tokens': [{ auth: { type: 'bearer' } }, /auth\.tokens: type bearer needs at least one token/],
    'a short bearer token': [
      { auth: { type: 'bearer', tokens: [{ token: 'short', sub: 'a' }] } },
      /auth\.tokens\[0\]\.token: is 5 characters; at least 16/,
    ],
    'duplicate bearer tokens': [
      {
        auth: {
          type: 'bearer',
          tokens: [
            { token: 'x'.repeat(20), sub: 'a' },
            { token: 'x'.repeat(20), sub: 'b' },
          ],
        },
      },
      /auth\.tokens\[1\]\.token: is the same as an earlier token/,
    ],
    'a jwt key under bearer': [
      { auth: { type: 'bearer', issuer: 'i', tokens: [{ token: 'x'.repeat(20), sub: 'a' }] } },
      /auth\.issuer: does not apply to type bearer\. Fix: remove it, or set type to jwt/,
    ],
    'tokens under none': [{ auth: { type: 'none', tokens: [] } }, /auth\.tokens: does not apply to type none/],
    'a token age under bearer': [
      { auth: { type: 'bearer', maxTokenAgeSec: 60, tokens: [{ token: 'x'.repeat(20), sub: 'a' }] } },
      /auth\.maxTokenAgeSec: does not apply to type bearer\. Fix: remove it, or set type to jwt/,
    ],
    'an unknown auth type': [{ auth: { type: 'basic' } }, /auth\.type: must be one of "none", "bearer", "jwt"/],
    'a bad body limit': [{ http: { bodyLimit: 'lots' } }, /http\.bodyLimit/],
    'an origin with a path': [{ http: { allowedOrigins: ['https://app.example.com/x'] } }, /http\.allowedOrigins\[0\]/],
    'an unknown http key': [{ http: { port: 80 } }, /http\.port: unknown key/],
    'a zero session cap': [{ http: { maxSessionsPerPrincipal: 0 } }, /http\.maxSessionsPerPrincipal: must be >= 1/],
  };
  test.each(Object.keys(invalid))('refuses %s, naming the key', (name) => {
    const [extra, message] = invalid[name]!;
    expect(() => parse(extra)).toThrow(message);
  });
});

describe('Host and Origin guard', () => {
  const http = parse({}).http;

  test('defaults: the bound host and loopback names with the port', () => {
    const g = createOriginGuard(http, '127.0.0.1', 8080);
    expect(g.hosts).toEqual(['127.0.0.1:8080', 'localhost:8080', '[::1]:8080']);
    expect(g.origins).toBe('hosts');
    expect(g.checkOrigin('http://localhost:8080')).toBeNull();
    expect(g.checkOrigin('https://127.0.0.1:8080')).toBeNull();
    expect(g.checkOrigin('http://localhost:8081')).toMatch(/not allowed/);
    expect(g.checkOrigin('http://evil.example:8080')).toMatch(/not allowed/);
    expect(g.checkOrigin('null')).toMatch(/not allowed/);
  });

  test.each([
    ['127.0.0.1:8080', true],
    ['LOCALHOST:8080', true],
    ['[::1]:8080', true],
    ['localhost:8081', false],
    ['localhost', false],
    ['evil.example:8080', false],
    [undefined, false],
  ])('default host check %s -> %s', (host, ok) => {
    expect(createOriginGuard(http, '127.0.0.1', 8080).checkHost(host) === null).toBe(ok);
  });

  test('publicUrl adds its host and origin; a wildcard bind adds no host of its own', () => {
    const g = createOriginGuard(parse({ http: { publicUrl: 'https://warden.example.com/' } }).http, '0.0.0.0', 8080);
    expect(g.hosts).toEqual(['localhost:8080', '127.0.0.1:8080', '[::1]:8080', 'warden.example.com']);
    expect(g.checkHost('warden.example.com')).toBeNull();
    expect(g.checkOrigin('https://warden.example.com')).toBeNull();
    expect(g.checkOrigin('https://evil.example.com')).toMatch(/not allowed/);
  });

  test('configured hosts: without a port any port matches; a bare IPv6 address is bracketed', () => {
    const g = createOriginGuard(
      parse({ http: { allowedHosts: ['warden.internal', 'gw:443', '::1'] } }).http,
      '0.0.0.0',
      8080,
    );
    expect(g.checkHost('warden.internal:1234')).toBeNull();
    expect(g.checkHost('gw:443')).toBeNull();
    expect(g.checkHost('gw:80')).toMatch(/not allowed/);
    expect(g.checkHost('[::1]:5')).toBeNull();
    expect(g.checkHost('localhost:8080')).toMatch(/Fix: add it to http.allowedHosts/);
  });

  test('configured origins replace the default', () => {
    const g = createOriginGuard(
      parse({ http: { allowedOrigins: ['https://app.example.com'] } }).http,
      '127.0.0.1',
      8080,
    );
    expect(g.checkOrigin('https://app.example.com')).toBeNull();
    expect(g.checkOrigin('http://localhost:8080')).toMatch(/not allowed/);
  });

  test('requests without Origin (non-browser clients) pass', () => {
    expect(createOriginGuard(http, '127.0.0.1', 1).checkOrigin(undefined)).toBeNull();
  });
});
