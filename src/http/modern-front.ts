import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpError, ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  createMcpHandler,
  isLegacyRequest,
  ProtocolError,
  Server as ModernServer,
  type McpHttpHandler,
  type McpRequestContext,
  type ServerCapabilities,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { Request, Response } from 'express';
import { describeError, type Logger } from '../common/index.js';
import type { Principal } from '../config/index.js';
import { WARDEN_NAME, WARDEN_VERSION, type ProxySession, type Warden } from '../proxy/index.js';

/** The stateless revision this front serves beside the handshake-era sessions of front.ts. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

const SESSION_HEADER = 'mcp-session-id';
const PROTOCOL_VERSION_META = 'io.modelcontextprotocol/protocolVersion';
const CLIENT_INFO_META = 'io.modelcontextprotocol/clientInfo';
/** A relayed call may wait minutes for a person's approval; Warden's own hold timeout ends it first. */
const RELAY_TIMEOUT_MS = 24 * 60 * 60 * 1000;
/**
 * The requests a 2026-07-28 client sends that Warden relays. `ping`, `logging/setLevel` and
 * `resources/subscribe|unsubscribe` are gone from this revision; `subscriptions/listen` is not
 * relayed yet (docs/protocol.md).
 */
const RELAYED_METHODS = {
  'tools/list': 'tools',
  'tools/call': 'tools',
  'resources/list': 'resources',
  'resources/templates/list': 'resources',
  'resources/read': 'resources',
  'prompts/list': 'prompts',
  'prompts/get': 'prompts',
  'completion/complete': 'completions',
} as const;
type RelayedMethod = keyof typeof RELAYED_METHODS;
/** Every list Warden merges comes from handshake-era servers, which give no TTL: the merge's is 0. */
const LIST_CACHE = { ttlMs: 0, cacheScope: 'private' } as const;

export interface ModernFrontOptions {
  warden: Warden;
  logger: Logger;
  /** `http.idleTimeoutMs`: a history scope without a request for this long is closed (0: never). */
  idleTimeoutMs: number;
}

/**
 * One history scope of 2026-07-28 traffic: the requests of one principal within one W3C trace (or
 * without one), as docs/protocol.md describes. It is an ordinary Warden session (policy history,
 * approvals, audit records, downstream connections), driven through an in-process handshake-era
 * client: the call pipeline, the approval gate and the downstream pool serve both eras unchanged.
 */
interface Scope {
  readonly key: string;
  readonly session: ProxySession;
  readonly client: Client;
  lastUsed: number;
  inflight: number;
}

/** What the front hands the per-request server factory through the SDK's `authInfo`. */
interface ScopeTicket {
  principal: Principal;
  scopeKey: string;
  clientInfo: { name: string; version: string };
}

/**
 * Serves MCP 2026-07-28 on `/mcp`: requests without a session whose envelope names the stateless
 * revision. The v2 SDK's handler does the wire work (era classification, `_meta` envelope,
 * `Mcp-Method`/`Mcp-Name` header checks, `server/discover`, `resultType`, error statuses); this
 * layer only binds each request to its history scope and relays it to that scope's session.
 */
export class ModernFront {
  private readonly handler: McpHttpHandler;
  private readonly scopes = new Map<string, Promise<Scope>>();
  private readonly reaper: NodeJS.Timeout | undefined;

  constructor(private readonly options: ModernFrontOptions) {
    this.handler = createMcpHandler((ctx) => this.serverFor(ctx), {
      legacy: 'reject',
      onerror: (err) => options.logger.debug('2026-07-28 request refused or failed', { error: describeError(err) }),
    });
    if (options.idleTimeoutMs > 0) {
      this.reaper = setInterval(() => void this.reapIdle(), Math.min(options.idleTimeoutMs, 30_000));
      this.reaper.unref();
    }
  }

  /** Whether this request belongs to the stateless revision (no session header, not an initialize). */
  async accepts(req: Request): Promise<boolean> {
    if (req.method !== 'POST' || req.headers[SESSION_HEADER] !== undefined) return false;
    return !(await isLegacyRequest(webRequest(req), req.body));
  }

  async handle(req: Request, res: Response, principal: Principal): Promise<void> {
    const ticket = scopeTicket(req.body, principal);
    const aborted = new AbortController();
    res.on('close', () => aborted.abort());
    const response = await this.handler.fetch(webRequest(req, aborted.signal), {
      parsedBody: req.body,
      authInfo: { token: '', clientId: principal.sub, scopes: [], extra: { ticket } },
    });
    await sendResponse(res, response);
  }

  /** Open history scopes, for the session caps and metrics of the HTTP front. */
  get openScopes(): number {
    return this.scopes.size;
  }

  async close(): Promise<void> {
    if (this.reaper) clearInterval(this.reaper);
    await this.handler.close().catch(() => undefined);
    const scopes = [...this.scopes.values()];
    this.scopes.clear();
    await Promise.all(scopes.map((s) => s.then((scope) => scope.session.close()).catch(() => undefined)));
  }

  private async serverFor(ctx: McpRequestContext): Promise<ModernServer> {
    const ticket = ctx.authInfo?.extra?.['ticket'] as ScopeTicket | undefined;
    if (!ticket) throw new Error('2026-07-28 request reached the server factory without its scope');
    const scope = await this.scope(ticket);
    const capabilities = (scope.session.pool?.capabilities() ?? {}) as ServerCapabilities;
    const server = new ModernServer(
      { name: WARDEN_NAME, version: WARDEN_VERSION },
      {
        capabilities,
        cacheHints: {
          'tools/list': LIST_CACHE,
          'prompts/list': LIST_CACHE,
          'resources/list': LIST_CACHE,
          'resources/templates/list': LIST_CACHE,
          'resources/read': LIST_CACHE,
          'server/discover': LIST_CACHE,
        },
      },
    );
    // Each relayed method has its own handler, so any other method is the SDK's -32601 at HTTP 404.
    for (const [method, capability] of Object.entries(RELAYED_METHODS) as [RelayedMethod, keyof ServerCapabilities][]) {
      if (!capabilities[capability]) continue; // the SDK refuses a handler for an undeclared capability
      server.setRequestHandler(method, ((request: { params?: Record<string, unknown> }, reqCtx: ServerContext) =>
        this.relay(scope, method, request.params ?? {}, reqCtx)) as never);
    }
    return server;
  }

  private async relay(
    scope: Scope,
    method: string,
    params: Record<string, unknown>,
    ctx: ServerContext,
  ): Promise<Record<string, unknown>> {
    scope.lastUsed = Date.now();
    scope.inflight += 1;
    try {
      const meta = { ...(ctx.mcpReq._meta ?? {}), ...envelopeMeta(ctx) };
      const result = await scope.client.request({ method, params: { ...params, _meta: meta } }, ResultSchema, {
        signal: ctx.mcpReq.signal,
        timeout: RELAY_TIMEOUT_MS,
        resetTimeoutOnProgress: true,
      });
      return result as Record<string, unknown>;
    } catch (err) {
      if (err instanceof McpError) throw new ProtocolError(err.code, stripPrefix(err.message, err.code), err.data);
      throw err;
    } finally {
      scope.inflight -= 1;
      scope.lastUsed = Date.now();
    }
  }

  /** The scope's session, opened on its first request; concurrent first requests share one. */
  private scope(ticket: ScopeTicket): Promise<Scope> {
    let scope = this.scopes.get(ticket.scopeKey);
    if (!scope) {
      scope = this.openScope(ticket);
      this.scopes.set(ticket.scopeKey, scope);
      scope.catch(() => this.scopes.delete(ticket.scopeKey));
    }
    return scope;
  }

  private async openScope(ticket: ScopeTicket): Promise<Scope> {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const session = await this.options.warden.openSession(serverSide, ticket.principal);
    // Server-to-client requests are not relayed into an input_required round yet: the scope's
    // client declares no sampling, elicitation or roots, so servers and the approval gate know.
    const client = new Client(ticket.clientInfo, { capabilities: {} });
    try {
      await client.connect(clientSide);
      await session.ready;
    } catch (err) {
      await session.close();
      throw err;
    }
    const scope: Scope = { key: ticket.scopeKey, session, client, lastUsed: Date.now(), inflight: 0 };
    session.session.client = ticket.clientInfo;
    this.options.logger.info('2026-07-28 history scope opened', {
      session_id: session.session.id,
      principal: ticket.principal.sub,
    });
    return scope;
  }

  private async reapIdle(): Promise<void> {
    const cutoff = Date.now() - this.options.idleTimeoutMs;
    for (const [key, pending] of this.scopes) {
      const scope = await pending.catch(() => null);
      if (!scope || scope.inflight > 0 || scope.lastUsed > cutoff) continue;
      this.scopes.delete(key);
      this.options.logger.info('2026-07-28 history scope closed: idle', { session_id: scope.session.session.id });
      await scope.session.close().catch(() => undefined);
    }
  }
}

/**
 * The history scope of a stateless request: its principal, and the trace id of its W3C
 * `traceparent` when `_meta` carries one. Two principals never share a scope.
 */
function scopeTicket(body: unknown, principal: Principal): ScopeTicket {
  const meta = ((body as { params?: { _meta?: Record<string, unknown> } })?.params?._meta ?? {}) as Record<
    string,
    unknown
  >;
  const trace = traceId(meta['traceparent']);
  const info = meta[CLIENT_INFO_META] as { name?: unknown; version?: unknown } | undefined;
  const clientInfo = {
    name: typeof info?.name === 'string' ? info.name : 'unnamed-client',
    version: typeof info?.version === 'string' ? info.version : '0',
  };
  return {
    principal,
    scopeKey: JSON.stringify([principal.sub, principal.claims['iss'] ?? null, trace ?? null]),
    clientInfo,
  };
}

/** The trace id of a W3C traceparent (`00-<32 hex>-<16 hex>-<2 hex>`), or undefined if malformed. */
export function traceId(traceparent: unknown): string | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent.trim());
  return match && !/^0+$/.test(match[1]!) ? match[1] : undefined;
}

/** The envelope keys the SDK lifted out of `_meta`, put back so the policy input sees the era. */
function envelopeMeta(ctx: ServerContext): Record<string, unknown> {
  const envelope = (ctx.mcpReq.envelope ?? {}) as Record<string, unknown>;
  return {
    [PROTOCOL_VERSION_META]: envelope['protocolVersion'] ?? MODERN_PROTOCOL_VERSION,
    ...(envelope['clientInfo'] ? { [CLIENT_INFO_META]: envelope['clientInfo'] } : {}),
  };
}

function stripPrefix(message: string, code: number): string {
  const prefix = `MCP error ${code}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

/** The express request as a web Request; express.json already read the body, so it is re-serialized. */
function webRequest(req: Request, signal?: AbortSignal): globalThis.Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) value.forEach((v) => headers.append(name, v));
    else if (value !== undefined) headers.set(name, value);
  }
  headers.delete('content-length');
  const body = req.method === 'POST' ? JSON.stringify(req.body ?? null) : undefined;
  return new globalThis.Request(`http://${req.headers.host ?? '127.0.0.1'}${req.originalUrl}`, {
    method: req.method,
    headers,
    ...(body !== undefined ? { body } : {}),
    ...(signal ? { signal } : {}),
  });
}

async function sendResponse(res: Response, response: globalThis.Response): Promise<void> {
  res.status(response.status);
  response.headers.forEach((value, name) => res.setHeader(name, value));
  if (!response.body) return void res.end();
  res.flushHeaders();
  await new Promise<void>((resolve) => {
    const stream = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    stream.on('error', () => resolve());
    res.on('close', () => resolve());
    stream.pipe(res);
  });
}
