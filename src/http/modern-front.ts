import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createMcpHandler, isLegacyRequest, type McpHttpHandler } from '@modelcontextprotocol/server';
import type { Request, Response } from 'express';
import { describeError, type Logger } from '../common/index.js';
import type { Principal } from '../config/index.js';
import { ModernRelay, scopeTicket, type ModernRelayOptions, type ScopeTicket } from '../proxy/index.js';

const SESSION_HEADER = 'mcp-session-id';

/**
 * Serves MCP 2026-07-28 on `/mcp`: requests without a session whose envelope names the stateless
 * revision. The v2 SDK's handler does the wire work (era classification, `_meta` envelope,
 * `Mcp-Method`/`Mcp-Name` header checks, `server/discover`, `resultType`, error statuses); the
 * relay (src/proxy/modern-relay.ts) binds each request to its history scope (docs/protocol.md).
 */
export class ModernFront {
  private readonly handler: McpHttpHandler;
  private readonly relay: ModernRelay;

  constructor(options: ModernRelayOptions & { logger: Logger }) {
    this.relay = new ModernRelay(options);
    this.handler = createMcpHandler(
      (ctx) => {
        const ticket = ctx.authInfo?.extra?.['ticket'] as ScopeTicket | undefined;
        if (!ticket) throw new Error('2026-07-28 request reached the server factory without its scope');
        return this.relay.serverFor(ticket);
      },
      {
        legacy: 'reject',
        onerror: (err) => options.logger.debug('2026-07-28 request refused or failed', { error: describeError(err) }),
      },
    );
  }

  /** Whether this request belongs to the stateless revision (no session header, not an initialize). */
  async accepts(req: Request): Promise<boolean> {
    if (req.method !== 'POST' || req.headers[SESSION_HEADER] !== undefined) return false;
    return !(await isLegacyRequest(webRequest(req), req.body));
  }

  /** Whether this request would open a new history scope (which counts against the session caps). */
  opensScope(req: Request, principal: Principal): boolean {
    return !this.relay.hasScope(ticketOf(req, principal));
  }

  /** Open history scopes, of one principal (by the front's principal key) or all. */
  scopeCount(principalKey?: string): number {
    return this.relay.scopeCount(principalKey);
  }

  async handle(req: Request, res: Response, principal: Principal): Promise<void> {
    const ticket = ticketOf(req, principal);
    const aborted = new AbortController();
    res.on('close', () => aborted.abort());
    const response = await this.handler.fetch(webRequest(req, aborted.signal), {
      parsedBody: req.body,
      authInfo: { token: '', clientId: principal.sub, scopes: [], extra: { ticket } },
    });
    await sendResponse(res, response);
  }

  async close(): Promise<void> {
    await this.handler.close().catch(() => undefined);
    await this.relay.close();
  }
}

/** Over HTTP a request's scope is its principal and the trace id of its traceparent. */
function ticketOf(req: Request, principal: Principal): ScopeTicket {
  const meta = (req.body as { params?: { _meta?: Record<string, unknown> } } | undefined)?.params?._meta ?? {};
  return scopeTicket(principal, meta);
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
