import { randomUUID } from 'node:crypto';
import { accessSync, constants as fsConstants } from 'node:fs';
import { createServer, type Server as NodeHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import express, { type NextFunction, type Request, type Response } from 'express';
import { describeError, JsonRpcErrorCode, type Logger } from '../common/index.js';
import type { Principal, WardenConfig } from '../config/index.js';
import { createWarden } from '../boot/index.js';
import { composeObservers, type Warden, type ProxySession } from '../proxy/index.js';
import { assertAuthAllowsHost, createAuthenticator, type AuthFailure, type Authenticator } from './auth.js';
import { createAdminRouter } from './admin.js';
import { mountDashboard } from './dashboard.js';
import { ModernFront } from './modern-front.js';
import { createOriginGuard, type OriginGuard } from './guard.js';
import { LiveEvents } from './live-events.js';
import { ReplayBuffer } from './replay-buffer.js';
import { WardenMetrics } from './metrics.js';

export interface HttpServerOptions {
  config: WardenConfig;
  logger: Logger;
  /** 0 picks a free port (read it from the result). */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
}

/** A running HTTP front end and the Warden behind it. */
export interface HttpServerHandle {
  readonly warden: Warden;
  readonly metrics: WardenMetrics;
  readonly host: string;
  readonly port: number;
  /** `http://host:port` as bound (not `publicUrl`). */
  readonly url: string;
  /** Open MCP sessions. */
  readonly sessionCount: number;
  /** Closes every session (and its downstream servers), the listener, then the Warden. */
  close(): Promise<void>;
}

interface HttpSession {
  id: string | undefined;
  readonly transport: StreamableHTTPServerTransport;
  proxy: ProxySession | null;
  readonly principalKey: string;
  inflight: number;
  lastActive: number;
  closing: Promise<void> | null;
}

const MCP_PATH = '/mcp';
const METADATA_PATH = '/.well-known/oauth-protected-resource';
const SESSION_HEADER = 'mcp-session-id';

/**
 * Starts Warden's Streamable HTTP front end: MCP at `/mcp` (one Warden session, with its own
 * downstream connections, per MCP session), health and readiness probes, Prometheus metrics, the
 * OAuth protected-resource metadata, the admin API with its live event stream (`/admin`, which
 * opens the admin approval channel) and the dashboard (`/`). Fails before listening when the config is unsafe
 * (`auth: none` off loopback) or the JWKS file is unreadable.
 *
 * @example
 * ```ts
 * const front = await startHttpServer({ config: loadConfig('warden.yaml'), logger, port: 0 });
 * const client = new Client({ name: 'x', version: '1' });
 * await client.connect(new StreamableHTTPClientTransport(new URL(`${front.url}/mcp`)));
 * await front.close();
 * ```
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const { config, logger } = options;
  const host = (options.host ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  assertAuthAllowsHost(config.auth, host);
  const authenticator = createAuthenticator(config.auth, config.identity);
  if ((host === '0.0.0.0' || host === '::') && !config.http.allowedHosts && !config.http.publicUrl) {
    logger.warn(
      'listening on every interface without http.allowedHosts or http.publicUrl: only localhost Host headers are accepted. Fix: set http.publicUrl to the URL clients use, or list their Host values in http.allowedHosts.',
      { host },
    );
  }
  const metrics = new WardenMetrics();
  const live = new LiveEvents();
  const warden = await createWarden(config, logger, { observer: composeObservers(metrics.observer, live.observer) });
  let front: HttpFront;
  try {
    live.attach(warden);
    front = new HttpFront(warden, config, logger, authenticator, metrics, live);
    await front.listen(options.port, host);
  } catch (err) {
    live.close();
    await warden.close();
    throw err;
  }
  const address = front.address();
  const urlHost = address.address.includes(':') ? `[${address.address}]` : address.address;
  return {
    warden,
    metrics,
    host: address.address,
    port: address.port,
    url: `http://${urlHost}:${address.port}`,
    get sessionCount() {
      return front.sessionCount;
    },
    close: async () => {
      try {
        await front.close();
      } finally {
        await warden.close();
      }
    },
  };
}

class HttpFront {
  private readonly sessions = new Map<string, HttpSession>();
  /** Sessions whose initialize is still being answered (no id yet). */
  private readonly pending = new Set<HttpSession>();
  private readonly server: NodeHttpServer;
  private guard: OriginGuard | null = null;
  private reaper: NodeJS.Timeout | null = null;
  private closed = false;
  /** 2026-07-28 requests: no sessions, a history scope per principal and trace (modern-front.ts). */
  private readonly modern: ModernFront;

  constructor(
    private readonly warden: Warden,
    private readonly config: WardenConfig,
    private readonly logger: Logger,
    private readonly auth: Authenticator,
    private readonly metrics: WardenMetrics,
    private readonly live: LiveEvents,
  ) {
    metrics.attach({
      sessionsOpen: () => this.sessions.size,
      downstreamStates: () =>
        [...this.sessions.values()].flatMap(
          (s) => s.proxy?.pool?.servers.map((d) => ({ server: d.name, up: d.status === 'up' })) ?? [],
        ),
    });
    this.modern = new ModernFront({
      warden,
      logger,
      idleTimeoutMs: config.http.idleTimeoutMs,
      stateKey: config.approval.stateKey,
      stateTtlMs: config.approval.timeoutMs,
    });
    this.server = createServer(this.buildApp());
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolvePromise, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.guard = createOriginGuard(this.config.http, host, this.address().port);
        this.startReaper();
        resolvePromise();
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reaper) clearInterval(this.reaper);
    this.live.close();
    const all = [...this.sessions.values(), ...this.pending];
    await Promise.allSettled([...all.map((s) => this.closeSession(s, 'shutdown')), this.modern.close()]);
    await new Promise<void>((r) => {
      this.server.close(() => r());
      // SSE streams and keep-alive sockets would hold close() open.
      this.server.closeAllConnections();
    });
  }

  private startReaper(): void {
    const timeout = this.config.http.idleTimeoutMs;
    if (timeout <= 0) return;
    const every = Math.max(50, Math.min(Math.floor(timeout / 4), 60_000));
    this.reaper = setInterval(() => {
      const cutoff = Date.now() - timeout;
      for (const s of this.sessions.values()) {
        if (s.inflight === 0 && s.lastActive < cutoff) void this.closeSession(s, 'idle');
      }
    }, every);
    this.reaper.unref();
  }

  /** Ends one MCP session: its Warden session, downstream servers (by process group) and transport. */
  private closeSession(
    s: HttpSession,
    why: 'deleted' | 'idle' | 'shutdown' | 'transport closed' | 'initialize failed',
  ): Promise<void> {
    s.closing ??= (async () => {
      if (s.id) this.sessions.delete(s.id);
      this.pending.delete(s);
      try {
        if (s.proxy) await s.proxy.close();
        await s.transport.close().catch(() => undefined);
      } catch (err) {
        this.logger.warn('session did not close cleanly', { mcp_session_id: s.id, error: describeError(err) });
      }
      this.logger.info('http session closed', { mcp_session_id: s.id, session_id: s.proxy?.session.id, why });
    })();
    return s.closing;
  }

  private buildApp(): express.Express {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);

    // Probes answer before Host validation: they reveal one bit and change nothing, and kubelet and
    // load balancers send the pod or instance address as Host.
    app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
    app.get(
      '/readyz',
      (_req, res, next) =>
        void this.readiness().then(
          ({ ready, checks }) => res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks }),
          next,
        ),
    );

    app.use((req, res, next) => {
      const guard = this.guard as OriginGuard;
      const refused = guard.checkHost(req.headers.host) ?? guard.checkOrigin(req.headers.origin);
      if (refused) {
        this.logger.warn('request refused: host/origin', {
          host: req.headers.host,
          origin: req.headers.origin,
          path: req.path,
        });
        return void jsonRpcError(res, 403, JsonRpcErrorCode.ServerError, refused);
      }
      if (req.headers.origin) cors(req, res);
      if (req.method === 'OPTIONS' && req.headers.origin) return void res.status(204).end();
      next();
    });

    app.get('/metrics', (_req, res, next) => {
      this.metrics.render().then((text) => res.type(this.metrics.contentType).send(text), next);
    });

    app.get([METADATA_PATH, `${METADATA_PATH}${MCP_PATH}`], (req, res) => {
      if (this.config.auth.type === 'none')
        return void res
          .status(404)
          .json({ error: 'not_found', error_description: 'this Warden does not require authentication' });
      const base = this.baseUrl(req);
      const servers =
        this.config.auth.authorizationServers.length > 0
          ? this.config.auth.authorizationServers
          : this.config.auth.type === 'jwt'
            ? [this.config.auth.issuer]
            : [];
      res.json({
        resource: `${base}${MCP_PATH}`,
        ...(servers.length > 0 ? { authorization_servers: servers } : {}),
        bearer_methods_supported: ['header'],
        resource_name: 'mcp-warden',
      });
    });

    app.all(
      MCP_PATH,
      (req, res, next) => void this.authenticate(req, res, next),
      express.json({ limit: this.config.http.bodyLimit }),
      (req, res, next) => void this.handleMcp(req, res).catch(next),
    );

    // The admin API and the dashboard (docs/admin-api.md): same authentication as /mcp.
    app.use(
      '/admin',
      createAdminRouter({
        warden: this.warden,
        config: this.config,
        logger: this.logger,
        live: this.live,
        authenticate: (req, res, next) => void this.authenticate(req, res, next),
      }),
    );
    mountDashboard(app);

    app.use((_req, res) => void res.status(404).json({ error: 'not_found' }));
    app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
      if (res.headersSent) return next(err);
      const e = err as { type?: string; status?: number };
      if (e.type === 'entity.too.large')
        return void jsonRpcError(
          res,
          413,
          JsonRpcErrorCode.ServerError,
          `request body is larger than http.bodyLimit (${this.config.http.bodyLimit} bytes)`,
        );
      if (e.type === 'entity.parse.failed')
        return void jsonRpcError(
          res,
          400,
          JsonRpcErrorCode.ParseError,
          'Parse error: the request body is not valid JSON',
        );
      this.logger.error('http request failed', { error: describeError(err) });
      jsonRpcError(
        res,
        typeof e.status === 'number' && e.status >= 400 ? e.status : 500,
        JsonRpcErrorCode.InternalError,
        'Internal error',
      );
    });
    return app;
  }

  // Behind a reverse proxy the client-facing URL is publicUrl; otherwise the Host the client used
  // (already validated against the allowed list, so it cannot point the client elsewhere).
  private baseUrl(req: Request): string {
    return this.config.http.publicUrl ?? `http://${req.headers.host ?? ''}`;
  }

  private async authenticate(req: Request, res: Response, next: NextFunction): Promise<void> {
    let result;
    try {
      result = await this.auth.authenticate(req.headers.authorization);
    } catch (err) {
      this.logger.error('authentication failed unexpectedly', { error: describeError(err) });
      result = {
        ok: false,
        code: 'invalid_token',
        message: 'the token could not be verified',
        tokenGiven: true,
      } as AuthFailure;
    }
    if (result.ok) {
      res.locals['principal'] = result.principal;
      return next();
    }
    this.metrics.authFailed(result.code);
    this.logger.info('request refused: authentication', { reason: result.code, path: req.path });
    if (result.code === 'jwks_unavailable') {
      // Our failure, not the client's: a 401 would make it throw away a good token.
      return void jsonRpcError(
        res,
        503,
        JsonRpcErrorCode.ServerError,
        'authentication is temporarily unavailable: the signing keys could not be loaded',
      );
    }
    const challenge = [`Bearer resource_metadata="${this.baseUrl(req)}${METADATA_PATH}"`];
    if (result.tokenGiven)
      challenge.push(`error="invalid_token"`, `error_description="${result.message.replace(/"/g, "'")}"`);
    res.set('WWW-Authenticate', challenge.join(', '));
    res
      .status(401)
      .json({ error: result.tokenGiven ? 'invalid_token' : 'unauthorized', error_description: result.message });
  }

  private async handleMcp(req: Request, res: Response): Promise<void> {
    if (!['GET', 'POST', 'DELETE'].includes(req.method)) {
      res.set('Allow', 'GET, POST, DELETE');
      return jsonRpcError(res, 405, JsonRpcErrorCode.ServerError, 'Method not allowed');
    }
    const principal = res.locals['principal'] as Principal;
    const sessionId = req.headers[SESSION_HEADER];
    if (typeof sessionId === 'string') {
      const s = this.sessions.get(sessionId);
      // A session belongs to the principal that opened it: someone else's token finds no session
      // (404, as for an unknown id), so session ids cannot be probed or hijacked across principals.
      if (!s || s.principalKey !== principalKey(principal)) {
        if (s)
          this.logger.warn('request refused: session belongs to another principal', {
            mcp_session_id: sessionId,
            principal: principal.sub,
          });
        return jsonRpcError(res, 404, JsonRpcErrorCode.SessionNotFound, 'Session not found');
      }
      this.pollLater(s, req, res);
      return this.track(s, res, () => s.transport.handleRequest(req, res, req.body));
    }
    if (await this.modern.accepts(req)) {
      if (this.closed) return jsonRpcError(res, 503, JsonRpcErrorCode.ServerError, 'Warden is shutting down');
      // A new history scope starts a session (every stdio server): it counts against the caps.
      if (this.modern.opensScope(req, principal) && this.refuseOverCap(req, res, principal)) return;
      return this.modern.handle(req, res, principal);
    }
    if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
      return jsonRpcError(
        res,
        400,
        JsonRpcErrorCode.ServerError,
        'Bad Request: no valid Mcp-Session-Id header; only an initialize request may open a session',
      );
    }
    if (this.closed) return jsonRpcError(res, 503, JsonRpcErrorCode.ServerError, 'Warden is shutting down');
    if (this.refuseOverCap(req, res, principal)) return;
    return this.openSession(req, res, principal);
  }

  /**
   * Refuses an initialize when the principal, or Warden, already holds as many sessions as allowed
   * (each one runs every stdio server). Sessions still initializing count: the check and the
   * entry's `pending.add` in openSession run in one tick, so concurrent initializes cannot race it.
   */
  private refuseOverCap(req: Request, res: Response, principal: Principal): boolean {
    const { maxSessions, maxSessionsPerPrincipal, idleTimeoutMs } = this.config.http;
    const sessions = [...this.sessions.values(), ...this.pending];
    const key = principalKey(principal);
    const mine = sessions.filter((s) => s.principalKey === key).length + this.modern.scopeCount(key);
    const total = sessions.length + this.modern.scopeCount();
    const reason = mine >= maxSessionsPerPrincipal ? 'per_principal' : total >= maxSessions ? 'total' : null;
    if (!reason) return false;
    const idle =
      idleTimeoutMs > 0
        ? `, or wait until idle ones are closed (after http.idleTimeoutMs, ${idleTimeoutMs} ms without a request)`
        : ' (idle ones are never closed here: http.idleTimeoutMs is 0)';
    const free =
      'end sessions no longer in use (DELETE /mcp with their Mcp-Session-Id; SDK clients: ' +
      `transport.terminateSession())${idle}`;
    const [limit, configKey, message] =
      reason === 'per_principal'
        ? [
            maxSessionsPerPrincipal,
            'http.maxSessionsPerPrincipal',
            `${principal.sub} already has ${mine} open MCP sessions, the most http.maxSessionsPerPrincipal ` +
              `allows (${maxSessionsPerPrincipal}). Fix: ${free}; or ask the operator to raise ` +
              'http.maxSessionsPerPrincipal.',
          ]
        : [
            maxSessions,
            'http.maxSessions',
            `Warden has ${total} open MCP sessions, the most http.maxSessions allows (${maxSessions}). ` +
              `Fix: try again once sessions end; clients can ${free}; or ask the operator to raise http.maxSessions.`,
          ];
    this.metrics.sessionRefused(reason);
    this.logger.warn('session refused: limit reached', { principal: principal.sub, reason, limit, open: total });
    const id = (req.body as { id?: unknown }).id ?? null;
    // 429: this principal's own sessions are the problem; 503: Warden is full, whoever asks.
    res.status(reason === 'per_principal' ? 429 : 503).json({
      jsonrpc: '2.0',
      id,
      error: { code: JsonRpcErrorCode.ServerError, message, data: { reason, limit, config_key: configKey } },
    });
    return true;
  }

  private async openSession(req: Request, res: Response, principal: Principal): Promise<void> {
    let entry!: HttpSession;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      maxRequestBodySize: this.config.http.bodyLimit,
      // Resumable streams (2025-11-25): a priming event first, then events a client can resume from.
      eventStore: new ReplayBuffer(this.config.http.sse.replayBytes),
      retryInterval: this.config.http.sse.retryMs,
      onsessioninitialized: (id) => {
        entry.id = id;
        this.pending.delete(entry);
        this.sessions.set(id, entry);
      },
      onsessionclosed: () => void this.closeSession(entry, 'deleted'),
    });
    entry = {
      id: undefined,
      transport,
      proxy: null,
      principalKey: principalKey(principal),
      inflight: 0,
      lastActive: Date.now(),
      closing: null,
    };
    this.pending.add(entry);
    try {
      entry.proxy = await this.warden.openSession(transport, principal);
      // Wrapped after openSession, which installs its own handler: runs when the transport closes
      // for any reason, so the entry never outlives its session.
      const inner = transport.onclose;
      transport.onclose = () => {
        inner?.();
        void this.closeSession(entry, 'transport closed');
      };
      // A session whose downstream servers fail to start answers initialize with the error; drop it.
      entry.proxy.ready.catch(() => void this.closeSession(entry, 'initialize failed'));
    } catch (err) {
      this.pending.delete(entry);
      this.logger.error('session could not be opened', { principal: principal.sub, error: describeError(err) });
      const id = (req.body as { id?: unknown }).id ?? null;
      if (!res.headersSent)
        res
          .status(500)
          .json({ jsonrpc: '2.0', id, error: { code: JsonRpcErrorCode.InternalError, message: describeError(err) } });
      return;
    }
    await this.track(entry, res, () => transport.handleRequest(req, res, req.body));
    if (!entry.id) {
      // The transport refused the initialize (bad headers, protocol version): nothing to keep.
      await this.closeSession(entry, 'initialize failed');
      return;
    }
    this.logger.info('http session opened', {
      mcp_session_id: entry.id,
      session_id: entry.proxy.session.id,
      principal: principal.sub,
    });
  }

  /**
   * With `http.sse.pollAfterMs`: a request whose SSE stream is still open that long is closed, so
   * that the client resumes it (after the priming event's `retry`) and no connection sits idle
   * behind a load balancer while a call waits for an approver or a slow tool. The SDK closes only
   * streams the client can resume (2025-11-25 and later, primed); the answer is kept for the resume.
   */
  private pollLater(s: HttpSession, req: Request, res: Response): void {
    const after = this.config.http.sse.pollAfterMs;
    const id = (req.body as { id?: unknown; method?: unknown } | undefined)?.id;
    if (after <= 0 || req.method !== 'POST' || (typeof id !== 'string' && typeof id !== 'number')) return;
    const timer = setTimeout(() => {
      this.logger.debug('sse stream closed for polling', { mcp_session_id: s.id, request_id: id });
      s.transport.closeSSEStream(id);
    }, after);
    timer.unref();
    res.once('close', () => clearTimeout(timer));
  }

  /** Counts the request as activity until its response (or SSE stream) ends. */
  private async track(s: HttpSession, res: Response, handle: () => Promise<void>): Promise<void> {
    s.inflight++;
    s.lastActive = Date.now();
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      s.inflight--;
      s.lastActive = Date.now();
    };
    res.once('close', finish);
    try {
      await handle();
    } catch (err) {
      finish();
      throw err;
    }
  }

  private async readiness(): Promise<{ ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> }> {
    const checks: Record<string, { ok: boolean; detail?: string }> = {};
    const revision = this.warden.policy.revision;
    checks['policy'] = revision ? { ok: true, detail: revision } : { ok: false, detail: 'no policy bundle is loaded' };
    try {
      await withTimeout(this.warden.audit.head(), 2000);
      checks['audit'] = { ok: true };
    } catch (err) {
      checks['audit'] = { ok: false, detail: describeError(err) };
    }
    const missing = this.config.servers.flatMap((s) =>
      s.kind === 'stdio' && !commandExists(s.command, s.cwd, s.env['PATH'])
        ? [`${s.name}: ${s.command} not found`]
        : [],
    );
    checks['downstream'] =
      missing.length === 0
        ? { ok: true, detail: `${this.config.servers.length} servers configured` }
        : { ok: false, detail: missing.join('; ') };
    if (this.closed) checks['shutdown'] = { ok: false, detail: 'shutting down' };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }
}

function principalKey(p: Principal): string {
  return JSON.stringify([p.sub, p.claims['iss'] ?? null]);
}

function jsonRpcError(res: Response, status: number, code: number, message: string): void {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

// Browsers need these to read MCP responses cross-origin; only ever set for an allowed Origin.
function cors(req: Request, res: Response): void {
  res.set('Access-Control-Allow-Origin', req.headers.origin as string);
  res.vary('Origin');
  res.set('Access-Control-Expose-Headers', 'Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate');
  if (req.method === 'OPTIONS') {
    res.set('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
    res.set(
      'Access-Control-Allow-Headers',
      'Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID',
    );
    res.set('Access-Control-Max-Age', '600');
  }
}

function commandExists(command: string, cwd: string, pathOverride: string | undefined): boolean {
  // Windows resolves through PATHEXT and the SDK's cross-spawn; not worth second-guessing here.
  if (process.platform === 'win32') return true;
  const candidates =
    command.includes('/') || isAbsolute(command)
      ? [resolve(cwd, command)]
      : (pathOverride ?? process.env['PATH'] ?? '')
          .split(delimiter)
          .filter(Boolean)
          .map((d) => join(d, command));
  return candidates.some((c) => {
    try {
      accessSync(c, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolvePromise(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(describeError(e)));
      },
    );
  });
}
