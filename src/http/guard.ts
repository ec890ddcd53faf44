import type { HttpConfig } from '../config/index.js';

/** The Host and Origin values one front end accepts (DNS-rebinding protection). */
export interface OriginGuard {
  readonly hosts: readonly string[];
  /** Configured origins, or 'hosts': any http(s) origin whose host is an allowed Host. */
  readonly origins: readonly string[] | 'hosts';
  /** Null when accepted, otherwise why not (for the 403 body). */
  checkHost(host: string | undefined): string | null;
  checkOrigin(origin: string | undefined): string | null;
}

/**
 * Builds the guard for a bound address. Defaults: the bound host, localhost, 127.0.0.1 and [::1],
 * each with the bound port, plus the host of `publicUrl`; an origin is accepted when its host is an
 * allowed Host. A configured host without a port matches that host on any port.
 *
 * Why always on, even with auth: a page on evil.example whose name is rebound to 127.0.0.1 reaches
 * a local Warden from the user's browser; its Host and Origin are the only tell.
 *
 * @example
 * ```ts
 * const guard = createOriginGuard(config.http, '127.0.0.1', 8080);
 * guard.checkHost('evil.example:8080'); // 'Host evil.example:8080 is not allowed ...'
 * ```
 */
export function createOriginGuard(http: HttpConfig, boundHost: string, port: number): OriginGuard {
  const withPort = (h: string): string => `${h}:${port}`;
  const bracket = (h: string): string => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);
  const publicHost = http.publicUrl ? new URL(http.publicUrl).host.toLowerCase() : null;
  const hosts =
    http.allowedHosts?.map(normalizeHost) ??
    unique([
      ...(isWildcard(boundHost) ? [] : [withPort(bracket(boundHost.toLowerCase()))]),
      withPort('localhost'),
      withPort('127.0.0.1'),
      withPort('[::1]'),
      ...(publicHost ? [publicHost] : []),
    ]);
  const origins = http.allowedOrigins ?? 'hosts';

  const hostMatches = (value: string): boolean => {
    const v = value.toLowerCase();
    const bare = stripPort(v);
    return hosts.some((h) => (hasPort(h) ? h === v : h === bare));
  };

  const originHostAllowed = (o: string): boolean => {
    try {
      const u = new URL(o);
      return (u.protocol === 'http:' || u.protocol === 'https:') && hostMatches(u.host);
    } catch {
      return false;
    }
  };

  return {
    hosts,
    origins,
    checkHost(host) {
      if (!host) return 'the Host header is missing';
      if (hostMatches(host)) return null;
      return `Host ${host} is not allowed (DNS-rebinding protection). Allowed: ${hosts.join(', ')}. Fix: add it to http.allowedHosts, or set http.publicUrl.`;
    },
    checkOrigin(origin) {
      // Only browsers send Origin; MCP clients outside a browser do not.
      if (origin === undefined) return null;
      const o = origin.toLowerCase();
      if (origins === 'hosts' ? originHostAllowed(o) : origins.includes(o)) return null;
      return `Origin ${origin} is not allowed (DNS-rebinding protection). Fix: add it to http.allowedOrigins.`;
    },
  };
}

// A bare IPv6 address in config ("::1") gets the brackets a Host header carries.
function normalizeHost(host: string): string {
  const h = host.toLowerCase();
  return (h.match(/:/g)?.length ?? 0) > 1 && !h.startsWith('[') ? `[${h}]` : h;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

function hasPort(host: string): boolean {
  return /:\d+$/.test(host) && (!host.startsWith('[') || host.includes(']:'));
}

function stripPort(host: string): string {
  return hasPort(host) ? host.slice(0, host.lastIndexOf(':')) : host;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
