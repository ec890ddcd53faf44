import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { ConfigError, describeError } from '../common/index.js';
import type { AuthConfig, Principal } from '../config/index.js';

/**
 * Why a request was refused, as a stable snake_case code (a metric label) and a message for the
 * client's `error_description`. `token_given` picks `error="invalid_token"` in the challenge.
 */
export interface AuthFailure {
  readonly ok: false;
  readonly code:
    | 'missing_token'
    | 'malformed_header'
    | 'unknown_token'
    | 'expired'
    | 'missing_exp'
    | 'too_old'
    | 'bad_signature'
    | 'wrong_issuer'
    | 'wrong_audience'
    | 'invalid_claims'
    | 'invalid_token'
    | 'jwks_unavailable';
  readonly message: string;
  readonly tokenGiven: boolean;
}

export type AuthResult = { readonly ok: true; readonly principal: Principal } | AuthFailure;

/** Turns an `Authorization` header into a principal. One per configured `auth`. */
export interface Authenticator {
  readonly type: AuthConfig['type'];
  authenticate(authorization: string | undefined): Promise<AuthResult>;
}

/**
 * Builds the authenticator for `auth`. JWKS files are read now, so a bad file fails at start.
 *
 * @example
 * ```ts
 * const auth = createAuthenticator(config.auth, config.identity);
 * const result = await auth.authenticate(req.headers.authorization);
 * if (result.ok) openSession(transport, result.principal);
 * ```
 */
export function createAuthenticator(auth: AuthConfig, localIdentity: Principal): Authenticator {
  switch (auth.type) {
    case 'none':
      // Loopback only (checked by assertAuthAllowsHost): the caller is the local user.
      return { type: 'none', authenticate: () => Promise.resolve({ ok: true, principal: localIdentity }) };
    case 'bearer':
      return bearerAuthenticator(auth.tokens);
    case 'jwt':
      return jwtAuthenticator(auth);
  }
}

/** Refuses `auth: none` on any address but loopback, saying why and how to fix it. */
export function assertAuthAllowsHost(auth: AuthConfig, host: string): void {
  if (auth.type !== 'none' || isLoopback(host)) return;
  throw new ConfigError(
    'auth_required',
    `refusing to serve HTTP on ${host} without authentication: auth.type is none (the default), which is allowed only on a loopback address, ` +
      'because anyone who can reach the port could call every tool as the local user. ' +
      'Fix: bind a loopback address (--host 127.0.0.1), or set auth in the config to type bearer (static tokens) or jwt (tokens from your identity provider); see docs/http.md.',
  );
}

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h.startsWith('::ffff:127.');
}

function bearerToken(authorization: string | undefined): { token: string } | AuthFailure {
  if (authorization === undefined || authorization === '') {
    return {
      ok: false,
      code: 'missing_token',
      message: 'an Authorization: Bearer token is required',
      tokenGiven: false,
    };
  }
  const m = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(authorization);
  if (!m)
    return {
      ok: false,
      code: 'malformed_header',
      message: 'the Authorization header must be "Bearer <token>"',
      tokenGiven: true,
    };
  return { token: m[1] as string };
}

function bearerAuthenticator(tokens: readonly { token: string; principal: Principal }[]): Authenticator {
  // Digests have one length, so timingSafeEqual applies; every entry is compared, so the time taken
  // does not tell which (or whether a) token matched.
  const known = tokens.map((t) => ({ digest: sha256(t.token), principal: t.principal }));
  return {
    type: 'bearer',
    authenticate: (authorization) => {
      const parsed = bearerToken(authorization);
      if ('ok' in parsed) return Promise.resolve(parsed);
      const digest = sha256(parsed.token);
      let principal: Principal | null = null;
      for (const entry of known) {
        if (timingSafeEqual(digest, entry.digest)) principal = entry.principal;
      }
      return Promise.resolve(
        principal
          ? { ok: true, principal }
          : { ok: false, code: 'unknown_token', message: 'the token is not valid', tokenGiven: true },
      );
    },
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function jwtAuthenticator(auth: Extract<AuthConfig, { type: 'jwt' }>): Authenticator {
  let keys: JWTVerifyGetKey;
  if (auth.jwks.kind === 'url') {
    // Keys are fetched on first use and cached; an unknown kid triggers one refetch (key rotation).
    keys = createRemoteJWKSet(new URL(auth.jwks.url), { timeoutDuration: 5000, cooldownDuration: 30_000 });
  } else {
    const path = auth.jwks.path;
    try {
      keys = createLocalJWKSet(JSON.parse(readFileSync(path, 'utf8')) as Parameters<typeof createLocalJWKSet>[0]);
    } catch (err) {
      throw new ConfigError(
        'config_invalid',
        `config error at auth.jwks: ${path} is not a JWKS document ({"keys": [...]}): ${describeError(err)}. Fix: export your issuer's public keys as a JWKS JSON file.`,
        { cause: err },
      );
    }
  }
  const options = {
    issuer: auth.issuer,
    audience: [...auth.audience],
    clockTolerance: auth.clockToleranceSec,
    ...(auth.algorithms ? { algorithms: [...auth.algorithms] } : {}),
    // jose checks exp only when the token has one: requiring it is what makes every token expire.
    ...(auth.requireExp ? { requiredClaims: ['exp'] } : {}),
    ...(auth.maxTokenAgeSec !== undefined ? { maxTokenAge: auth.maxTokenAgeSec } : {}),
  };
  return {
    type: 'jwt',
    authenticate: async (authorization) => {
      const parsed = bearerToken(authorization);
      if ('ok' in parsed) return parsed;
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(parsed.token, keys, options));
      } catch (err) {
        return jwtFailure(err, auth);
      }
      if (typeof payload.sub !== 'string' || payload.sub === '') {
        return { ok: false, code: 'invalid_claims', message: 'the token has no sub claim', tokenGiven: true };
      }
      return {
        ok: true,
        principal: Object.freeze({
          sub: payload.sub,
          roles: Object.freeze(readRoles(payload, auth.rolesClaim)),
          claims: Object.freeze({ ...payload }),
        }),
      };
    },
  };
}

function jwtFailure(err: unknown, auth: Extract<AuthConfig, { type: 'jwt' }>): AuthFailure {
  const fail = (code: AuthFailure['code'], message: string): AuthFailure => ({
    ok: false,
    code,
    message,
    tokenGiven: true,
  });
  if (err instanceof joseErrors.JWTExpired && err.claim === 'iat') {
    const age = `${auth.maxTokenAgeSec} s ago, the most auth.maxTokenAgeSec allows`;
    return fail('too_old', `the token was issued more than ${age}; get a fresh one`);
  }
  if (err instanceof joseErrors.JWTExpired) return fail('expired', 'the token has expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed && err.reason === 'missing') {
    if (err.claim === 'exp') {
      const why = 'Warden accepts only tokens that expire (auth.requireExp)';
      return fail('missing_exp', `the token has no exp claim, and ${why}; have the issuer set exp`);
    }
    if (err.claim === 'iat') {
      const why = 'which auth.maxTokenAgeSec needs to tell its age';
      return fail('invalid_claims', `the token has no iat claim, ${why}; have the issuer set iat`);
    }
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return fail('wrong_issuer', 'the token was issued by another issuer');
    if (err.claim === 'aud') return fail('wrong_audience', 'the token is not meant for this resource (aud)');
    return fail('invalid_claims', `the token's ${err.claim} claim is not valid: ${err.reason}`);
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey)
    return fail('bad_signature', 'the token signature does not verify');
  if (err instanceof joseErrors.JWKSTimeout || (err instanceof joseErrors.JOSEError && err.code === 'ERR_JWKS_INVALID'))
    return fail('jwks_unavailable', 'the signing keys could not be loaded');
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return fail('bad_signature', 'the token is signed with an algorithm that is not accepted');
  if (err instanceof TypeError || (err instanceof Error && /fetch|ECONNREFUSED|network/i.test(err.message)))
    return fail('jwks_unavailable', 'the signing keys could not be loaded');
  return fail('invalid_token', 'the token is malformed');
}

// An exact claim name wins (namespaced claims such as https://example.com/roles contain dots);
// otherwise dots reach nested claims (realm_access.roles). A space-separated string (like scope) is split.
// Own properties only: a token that lacks the claim must not find Object.prototype's members.
function readRoles(payload: JWTPayload, claim: string): string[] {
  const own = (v: unknown, key: string): unknown =>
    v && typeof v === 'object' && Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
  let value = own(payload, claim);
  if (value === undefined) {
    value = payload;
    for (const part of claim.split('.')) value = own(value, part);
  }
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}
