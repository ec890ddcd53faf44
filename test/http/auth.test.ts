import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { assertAuthAllowsHost, createAuthenticator, isLoopback } from '../../src/http/index.js';
import type { AuthConfig, Principal } from '../../src/config/index.js';
import { POLICIES, SERVERS, eventually, nodeServer, tempDir, textOf } from '../helpers/warden.js';
import {
  INITIALIZE,
  MCP_HEADERS,
  connectHttp,
  rawRequest,
  startHttpWarden,
  type InProcessWarden,
} from '../helpers/http.js';

const ISSUER = 'https://idp.example.com/';
const AUDIENCE = 'https://warden.example.com/mcp';
const LOCAL: Principal = { sub: 'local', roles: [], claims: {} };

/** `null` leaves the claim out. */
interface SignOptions {
  iss?: string;
  aud?: string;
  exp?: string | number | null;
  iat?: number | null;
  kid?: string;
  sub?: string | null;
}

interface Keys {
  jwks: { keys: JWK[] };
  sign(claims: Record<string, unknown>, options?: SignOptions): Promise<string>;
}

/** An RS256 key pair published as a JWKS, and a signer for tokens with sensible defaults. */
async function makeKeys(kid: string): Promise<Keys> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return {
    jwks: { keys: [jwk] },
    sign: (claims, o = {}) => {
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: o.kid ?? kid })
        .setIssuer(o.iss ?? ISSUER)
        .setAudience(o.aud ?? AUDIENCE);
      if (o.iat !== null) jwt.setIssuedAt(o.iat);
      if (o.exp !== null) jwt.setExpirationTime(o.exp ?? '5m');
      if (o.sub !== null) jwt.setSubject(o.sub ?? 'carol');
      return jwt.sign(privateKey);
    },
  };
}

describe('JWT auth against a JWKS file (through the real HTTP front)', () => {
  let w: InProcessWarden;
  let keys: Keys;
  let other: Keys;

  beforeAll(async () => {
    keys = await makeKeys('k1');
    // Same kid, different key: a forged token that names a real key id.
    other = await makeKeys('k1');
    const dir = tempDir('jwks');
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(keys.jwks));
    w = await startHttpWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'core') },
      auth: {
        type: 'jwt',
        jwks: join(dir, 'jwks.json'),
        issuer: ISSUER,
        audience: AUDIENCE,
        rolesClaim: 'realm_access.roles',
      },
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  test('a valid token opens a session; sub, roles (nested claim) and claims land in input.principal', async () => {
    const token = await keys.sign({
      realm_access: { roles: ['release-manager', 'developer'] },
      email: 'carol@example.com',
    });
    const { client, transport } = await connectHttp(w.url, { token });
    try {
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'jwt hello' } }))).toBe('jwt hello');
      const event = await eventually(() =>
        w
          .decisions()
          .find(
            (d) => (d['input'] as { call: { arguments: { message?: string } } }).call.arguments.message === 'jwt hello',
          ),
      );
      const principal = (event['input'] as { principal: Principal }).principal;
      expect(principal.sub).toBe('carol');
      expect(principal.roles).toEqual(['release-manager', 'developer']);
      expect(principal.claims).toMatchObject({ iss: ISSUER, aud: AUDIENCE, email: 'carol@example.com', sub: 'carol' });
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  const cases: Record<string, { token: (k: Keys, o: Keys) => Promise<string>; description: RegExp }> = {
    'bad signature': { token: (_k, o) => o.sign({}), description: /signature does not verify/ },
    'unknown key id': { token: (k) => k.sign({}, { kid: 'k9' }), description: /signature does not verify/ },
    'wrong issuer': { token: (k) => k.sign({}, { iss: 'https://evil.example.com/' }), description: /another issuer/ },
    'wrong audience': {
      token: (k) => k.sign({}, { aud: 'https://other.example.com/mcp' }),
      description: /not meant for this resource/,
    },
    expired: { token: (k) => k.sign({}, { exp: Math.floor(Date.now() / 1000) - 120 }), description: /expired/ },
    'no sub': { token: (k) => k.sign({}, { sub: null }), description: /no sub claim/ },
    'no exp (required by default)': {
      token: (k) => k.sign({}, { exp: null }),
      description: /no exp claim, and Warden accepts only tokens that expire \(auth\.requireExp\); have the issuer/,
    },
    'not a JWT': { token: () => Promise.resolve('definitely.not.ajwt'), description: /malformed/ },
  };
  test.each(Object.keys(cases))('401 invalid_token: %s', async (name) => {
    const { token, description } = cases[name]!;
    const res = await rawRequest(`${w.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${await token(keys, other)}` },
      body: INITIALIZE,
    });
    expect(res.status).toBe(401);
    const challenge = res.headers['www-authenticate'] as string;
    expect(challenge).toContain(`resource_metadata="${w.url}/.well-known/oauth-protected-resource"`);
    expect(challenge).toContain('error="invalid_token"');
    expect(challenge).toMatch(description);
    expect(w.front.sessionCount).toBe(0);
  });

  test('the SDK client sees the refusal', async () => {
    await expect(connectHttp(w.url, { token: await other.sign({}) })).rejects.toThrow(/invalid_token/);
  });

  test('metadata lists the issuer as authorization server when none is configured', async () => {
    const res = await rawRequest(`${w.url}/.well-known/oauth-protected-resource`);
    expect(res.json()).toEqual({
      resource: `${w.url}/mcp`,
      authorization_servers: [ISSUER],
      bearer_methods_supported: ['header'],
      resource_name: 'mcp-warden',
    });
  });
});

describe('JWT auth: auth.maxTokenAgeSec, and auth.requireExp turned off (through the real HTTP front)', () => {
  let w: InProcessWarden;
  let keys: Keys;
  const now = (): number => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    keys = await makeKeys('age-1');
    const dir = tempDir('jwks');
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(keys.jwks));
    w = await startHttpWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'allow-all') },
      auth: {
        type: 'jwt',
        jwks: join(dir, 'jwks.json'),
        issuer: ISSUER,
        audience: AUDIENCE,
        requireExp: false,
        maxTokenAgeSec: 300,
      },
    });
  });
  afterAll(async () => {
    await w?.close();
  });

  const refuse = async (token: string): Promise<string> => {
    const headers = { ...MCP_HEADERS, authorization: `Bearer ${token}` };
    const res = await rawRequest(`${w.url}/mcp`, { method: 'POST', headers, body: INITIALIZE });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ error: 'invalid_token' });
    return res.headers['www-authenticate'] as string;
  };

  test('a token issued longer ago than maxTokenAgeSec is refused, even with a valid exp', async () => {
    const challenge = await refuse(await keys.sign({}, { iat: now() - 3600, exp: now() + 3600 }));
    expect(challenge).toContain('error="invalid_token"');
    const description = 'the token was issued more than 300 s ago, the most auth.maxTokenAgeSec allows; get a fresh';
    expect(challenge).toContain(`error_description="${description} one"`);
  });

  test('with maxTokenAgeSec, a token without iat is refused', async () => {
    expect(await refuse(await keys.sign({}, { iat: null }))).toMatch(/no iat claim, which auth\.maxTokenAgeSec needs/);
  });

  test('a fresh token is accepted; with requireExp false, so is one without exp', async () => {
    for (const token of [await keys.sign({}, { iat: now() - 60 }), await keys.sign({}, { exp: null })]) {
      const { client, transport } = await connectHttp(w.url, { token });
      try {
        expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'fresh' } }))).toBe('fresh');
      } finally {
        await transport.terminateSession();
        await client.close();
      }
    }
  });

  test('refusals are counted by reason', async () => {
    const metrics = (await rawRequest(`${w.url}/metrics`)).body;
    expect(metrics).toMatch(/^warden_http_auth_failures_total\{reason="too_old"\} 1$/m);
    expect(metrics).toMatch(/^warden_http_auth_failures_total\{reason="invalid_claims"\} 1$/m);
  });
});

describe('JWT auth against a JWKS URL', () => {
  let jwksServer: Server;
  let w: InProcessWarden;
  let keys: Keys;
  let fetches = 0;

  beforeAll(async () => {
    keys = await makeKeys('url-1');
    jwksServer = createServer((req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(keys.jwks));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', () => r()));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    w = await startHttpWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'allow-all') },
      auth: {
        type: 'jwt',
        jwks: jwksUrl,
        issuer: ISSUER,
        audience: [AUDIENCE, 'other-aud'],
        authorizationServers: ['https://login.example.com'],
      },
    });
  });
  afterAll(async () => {
    await w?.close();
    await new Promise((r) => jwksServer?.close(r));
  });

  test('fetches the keys, accepts a valid token (roles from the default claim), refuses an expired one', async () => {
    const token = await keys.sign({ roles: ['ops'] }, { aud: 'other-aud' });
    const { client, transport } = await connectHttp(w.url, { token });
    try {
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'via url' } }))).toBe('via url');
      expect(fetches).toBeGreaterThan(0);
    } finally {
      await transport.terminateSession();
      await client.close();
    }
    const expired = await keys.sign({}, { exp: Math.floor(Date.now() / 1000) - 60 });
    const res = await rawRequest(`${w.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${expired}` },
      body: INITIALIZE,
    });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('expired');
    expect((await rawRequest(`${w.url}/.well-known/oauth-protected-resource`)).json()).toMatchObject({
      authorization_servers: ['https://login.example.com'],
    });
  });
});

describe('authenticators (unit)', () => {
  const bearer: AuthConfig = {
    type: 'bearer',
    authorizationServers: [],
    tokens: [
      { token: 'alice-0123456789abcdef', principal: { sub: 'alice', roles: ['dev'], claims: {} } },
      { token: 'bob-0123456789abcdef01', principal: { sub: 'bob', roles: [], claims: {} } },
    ],
  };

  test.each([
    ['Bearer alice-0123456789abcdef', 'alice'],
    ['bearer bob-0123456789abcdef01', 'bob'],
    ['Bearer alice-0123456789abcdeX', 'unknown_token'],
    ['Bearer alice-0123456789abcdef extra', 'malformed_header'],
    ['Basic YWxpY2U6cHc=', 'malformed_header'],
    [undefined, 'missing_token'],
  ])('bearer: %s -> %s', async (header, expected) => {
    const result = await createAuthenticator(bearer, LOCAL).authenticate(header);
    expect(result.ok ? result.principal.sub : result.code).toBe(expected);
  });

  test('none: every request is the local identity', async () => {
    expect(
      await createAuthenticator({ type: 'none', authorizationServers: [] }, LOCAL).authenticate(undefined),
    ).toEqual({ ok: true, principal: LOCAL });
  });

  test.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['warden.example.com', false],
  ])('isLoopback(%s) = %s', (host, expected) => {
    expect(isLoopback(host)).toBe(expected);
  });

  test('auth none is refused off loopback, with the reason and the fix; allowed with auth', () => {
    expect(() => assertAuthAllowsHost({ type: 'none', authorizationServers: [] }, '0.0.0.0')).toThrow(
      /refusing to serve HTTP on 0.0.0.0 without authentication.*Fix: bind a loopback address \(--host 127.0.0.1\), or set auth/,
    );
    expect(() => assertAuthAllowsHost({ type: 'none', authorizationServers: [] }, '127.0.0.1')).not.toThrow();
    expect(() => assertAuthAllowsHost(bearer, '0.0.0.0')).not.toThrow();
  });
});
