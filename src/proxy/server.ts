import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  ErrorCode,
  McpError,
  ResultSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  type JSONRPCRequest,
  type Notification,
  type Progress,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { ApprovalChannel } from '../approval/index.js';
import { DownstreamError, describeError, JsonRpcErrorCode, type Logger } from '../common/index.js';
import type { DownstreamPool, DownstreamServer, ListKind } from '../downstream/index.js';
import type { PendingCall, Session } from '../session/index.js';
import type { CallPipeline, ForwardContext, PipelineOutcome } from './pipeline.js';
import { denialText } from './verdict.js';
import type { ListFilter, ListItemKind } from './visibility.js';

/** Key of Warden's own entry in a denied result's `_meta` (and a denial error's `data`). */
export const DECISION_META_KEY = 'mcp-warden.dev/decision';

/**
 * `_meta` key naming the 2026-07-28 round a relayed call belongs to (src/http/modern-front.ts): the
 * approval gate's elicitation carries it back, so the front can answer that call's round.
 */
export const ROUND_META_KEY = 'mcp-warden.dev/round';

export interface ProxyServerOptions {
  pool: DownstreamPool;
  pipeline: CallPipeline;
  session: Session;
  logger: Logger;
  serverInfo: { name: string; version: string };
  capabilities: ServerCapabilities;
  /** Longest resource URI accepted (`limits.maxUriLength`); longer ones are refused before routing. */
  maxUriLength: number;
  /** Which list entries this session's principal sees (`mcp/visible`); unset: every entry. */
  lists?: ListFilter;
  instructions?: string;
  onInitialized?(server: Server): void;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
type Params = Record<string, unknown>;

/** The relay's hooks for messages a downstream server starts (wired into the session's pool). */
export interface UpstreamRelay {
  notify(serverName: string, notification: Notification): void;
  request(
    serverName: string,
    request: { method: string; params?: Params },
    signal: AbortSignal,
  ): Promise<Record<string, unknown>>;
}

type Handler = (params: Params, extra: Extra) => Promise<Record<string, unknown>>;

/** What the handlers of one proxy server share: its session's parts, and the calls in flight. */
interface ProxyContext {
  server: Server;
  pool: DownstreamPool;
  pipeline: CallPipeline;
  session: Session;
  logger: Logger;
  /** Longest resource URI accepted (`limits.maxUriLength`). */
  maxUriLength: number;
  lists: ListFilter | undefined;
  /**
   * Calls in flight per downstream server: what that server sends meanwhile (elicitation,
   * sampling, logs) rides the call's own request, so over HTTP it reaches the call's SSE stream.
   */
  inflight: Map<string, Extra[]>;
  /** The session's `logging/setLevel`, which a 2026-07-28 server gets in each request's envelope. */
  logLevel: { value: string | undefined };
}

/**
 * The MCP server clients talk to. Relayed requests go through `fallbackRequestHandler` so params
 * and results pass as raw JSON: the SDK's typed schemas would drop fields they do not know, and
 * its tools/call wrapper would re-validate results that are the downstream server's to shape.
 */
export function createProxyServer(options: ProxyServerOptions): { server: Server; relay: UpstreamRelay } {
  const { pool, pipeline, session, logger, maxUriLength } = options;
  const server = new Server(options.serverInfo, {
    capabilities: options.capabilities,
    ...(options.instructions ? { instructions: options.instructions } : {}),
  });
  const ctx: ProxyContext = {
    server,
    pool,
    pipeline,
    session,
    logger,
    maxUriLength,
    lists: options.lists,
    inflight: new Map(),
    logLevel: { value: undefined },
  };
  registerInitialized(ctx, options.onInitialized);
  registerRelayedRequests(server, {
    ...toolHandlers(ctx),
    ...resourceHandlers(ctx),
    ...promptHandlers(ctx),
    ...completionHandlers(ctx),
  });
  registerLoggingHandler(ctx);
  registerRootsHandler(ctx);
  return { server, relay: upstreamRelay(ctx) };
}

function registerInitialized(ctx: ProxyContext, onInitialized: ProxyServerOptions['onInitialized']): void {
  const { server, session } = ctx;
  server.oninitialized = () => {
    const client = server.getClientVersion();
    if (client) session.client = { name: client.name, version: client.version };
    onInitialized?.(server);
  };
}

function registerRelayedRequests(server: Server, handlers: Record<string, Handler>): void {
  server.fallbackRequestHandler = async (request, extra) => {
    const handler = handlers[request.method];
    if (!handler) throw new McpError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
    return handler(((request as JSONRPCRequest).params ?? {}) as Params, extra) as never;
  };
}

function toolHandlers(ctx: ProxyContext): Record<string, Handler> {
  return {
    'tools/list': () => listTools(ctx),
    'tools/call': (params, extra) => callTool(ctx, params, extra),
  };
}

function resourceHandlers(ctx: ProxyContext): Record<string, Handler> {
  return {
    'resources/list': (params, extra) => listPage(ctx, 'resources', params, extra),
    'resources/templates/list': (params, extra) => listPage(ctx, 'resourceTemplates', params, extra),
    'resources/read': (params, extra) => readResource(ctx, params, extra),
    'resources/subscribe': (params, extra) => relayResource(ctx, 'resources/subscribe', params, extra),
    'resources/unsubscribe': (params, extra) => relayResource(ctx, 'resources/unsubscribe', params, extra),
  };
}

function promptHandlers(ctx: ProxyContext): Record<string, Handler> {
  return {
    'prompts/list': (params, extra) => listPage(ctx, 'prompts', params, extra),
    'prompts/get': (params, extra) => getPrompt(ctx, params, extra),
  };
}

function completionHandlers(ctx: ProxyContext): Record<string, Handler> {
  return {
    'completion/complete': (params, extra) => complete(ctx, params, extra),
  };
}

// Server answers logging/setLevel itself; Warden also passes the level to every server that logs
// (a handshake-era one by setLevel, a 2026-07-28 one in each request's envelope).
function registerLoggingHandler(ctx: ProxyContext): void {
  const { server, pool, logger } = ctx;
  server.setRequestHandler(SetLevelRequestSchema, async (request, extra) => {
    ctx.logLevel.value = request.params.level;
    await Promise.all(
      pool
        .offering('logging')
        .filter((s) => s.era !== 'modern')
        .map((s) =>
          s
            .request('logging/setLevel', request.params, { signal: extra.signal })
            .catch((err: unknown) =>
              logger.warn('logging/setLevel not accepted downstream', { server: s.name, error: describeError(err) }),
            ),
        ),
    );
    return {};
  });
}

function registerRootsHandler(ctx: ProxyContext): void {
  const { server, pool } = ctx;
  server.setNotificationHandler(RootsListChangedNotificationSchema, async (notification) => {
    await Promise.all(pool.servers.map((s) => s.notify(notification).catch(() => undefined)));
  });
}

async function callTool(ctx: ProxyContext, params: Params, extra: Extra): Promise<Record<string, unknown>> {
  const { pool, pipeline, session, logger } = ctx;
  const name = params['name'];
  if (typeof name !== 'string') throw new McpError(ErrorCode.InvalidParams, 'tools/call needs params.name (a string)');
  const args = params['arguments'] ?? {};
  if (typeof args !== 'object' || args === null || Array.isArray(args))
    throw new McpError(ErrorCode.InvalidParams, 'tools/call params.arguments must be an object');
  const route = pool.resolveTool(name);
  if (!route) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
  const annotations = (route.descriptor['annotations'] ?? {}) as Record<string, unknown>;
  const call: PendingCall = {
    kind: 'tool',
    server: route.server.name,
    tool: route.tool,
    name,
    arguments: args as Params,
    annotations,
    ...envelopeOf(params),
  };
  const outcome = await pipeline.run(
    session,
    call,
    (traced) => forward(ctx, route.server, 'tools/call', { ...params, name: route.tool }, extra, traced),
    approvalChannel(ctx, params, extra),
    // The tool as this session's server defines it: what the pinned definition is compared with.
    route.server.tools.find((t) => t.name === route.tool) ?? route.descriptor,
  );
  return toToolResult(name, route.server.name, outcome, logger);
}

/** How a held call's own client is asked: elicitation on the call's request, progress to keep it alive. */
function approvalChannel(ctx: ProxyContext, params: Params, extra: Extra): ApprovalChannel {
  const progressToken = (params['_meta'] as Params | undefined)?.['progressToken'];
  const round = (params['_meta'] as Params | undefined)?.[ROUND_META_KEY];
  const canElicit = !!ctx.server.getClientCapabilities()?.elicitation;
  return {
    signal: extra.signal,
    // A 2026-07-28 request may reach any replica: it cannot wait for an approver elsewhere.
    ...(envelopeOf(params).protocol_version !== undefined ? { stateless: true } : {}),
    ...(canElicit
      ? {
          elicit: (message: string, requestedSchema: Record<string, unknown>, signal: AbortSignal) =>
            extra.sendRequest(
              {
                method: 'elicitation/create',
                params: {
                  message,
                  requestedSchema,
                  ...(round !== undefined ? { _meta: { [ROUND_META_KEY]: round } } : {}),
                },
              } as ServerRequest,
              ResultSchema,
              { signal, timeout: 24 * 60 * 60 * 1000 },
            ) as Promise<{ action: string; content?: Record<string, unknown> }>,
        }
      : {}),
    ...(progressToken !== undefined
      ? {
          keepAlive: (heldMs: number) =>
            void extra
              .sendNotification({
                method: 'notifications/progress',
                params: { progressToken, progress: Math.round(heldMs / 1000), message: 'waiting for approval' },
              } as ServerNotification)
              .catch(() => undefined),
        }
      : {}),
  };
}

async function readResource(ctx: ProxyContext, params: Params, extra: Extra): Promise<Record<string, unknown>> {
  const { pipeline, session } = ctx;
  const uri = params['uri'];
  if (typeof uri !== 'string')
    throw new McpError(ErrorCode.InvalidParams, 'resources/read needs params.uri (a string)');
  const target = resourceServer(ctx, params, 'resources/read');
  const call: PendingCall = {
    kind: 'resource',
    server: target.name,
    tool: uri,
    name: uri,
    uri,
    arguments: {},
    annotations: {},
    ...envelopeOf(params),
  };
  const outcome = await pipeline.run(session, call, (traced) =>
    forward(ctx, target, 'resources/read', params, extra, traced),
  );
  return unwrap(uri, outcome);
}

async function getPrompt(ctx: ProxyContext, params: Params, extra: Extra): Promise<Record<string, unknown>> {
  const { pool, pipeline, session } = ctx;
  const name = params['name'];
  if (typeof name !== 'string') throw new McpError(ErrorCode.InvalidParams, 'prompts/get needs params.name (a string)');
  const route = pool.resolvePrompt(name);
  if (!route) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
  const args = (params['arguments'] ?? {}) as Params;
  const call: PendingCall = {
    kind: 'prompt',
    server: route.server.name,
    tool: route.name,
    name,
    arguments: args,
    annotations: {},
    ...envelopeOf(params),
  };
  return unwrap(
    name,
    await pipeline.run(session, call, (traced) =>
      forward(ctx, route.server, 'prompts/get', { ...params, name: route.name }, extra, traced),
    ),
  );
}

async function complete(ctx: ProxyContext, params: Params, extra: Extra): Promise<Record<string, unknown>> {
  const { pool } = ctx;
  const ref = params['ref'] as { type?: string; name?: string; uri?: string } | undefined;
  if (ref?.type === 'ref/prompt' && typeof ref.name === 'string') {
    const route = pool.resolvePrompt(ref.name);
    if (!route) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${ref.name}`);
    return forward(ctx, route.server, 'completion/complete', { ...params, ref: { ...ref, name: route.name } }, extra);
  }
  if (ref?.type === 'ref/resource' && typeof ref.uri === 'string') {
    checkUriLength(ctx, ref.uri, 'completion/complete', 'params.ref.uri');
    const target = pool.resolveResource(ref.uri);
    if (!target) throw new McpError(ErrorCode.InvalidParams, `No server offers resource template ${ref.uri}`);
    return forward(ctx, target, 'completion/complete', params, extra);
  }
  throw new McpError(
    ErrorCode.InvalidParams,
    'completion/complete needs params.ref of type ref/prompt or ref/resource',
  );
}

async function listTools(ctx: ProxyContext): Promise<Record<string, unknown>> {
  const { pool } = ctx;
  const entries = pool.listTools().map((tool) => ({ entry: tool, server: pool.resolveTool(tool.name)!.server.name }));
  return { tools: await visibleEntries(ctx, 'tool', entries) };
}

const LIST_ITEM_KIND: Record<ListKind, { kind: ListItemKind; field: string }> = {
  resources: { kind: 'resource', field: 'resources' },
  resourceTemplates: { kind: 'resource_template', field: 'resourceTemplates' },
  prompts: { kind: 'prompt', field: 'prompts' },
};

async function listPage(
  ctx: ProxyContext,
  kind: ListKind,
  params: Params,
  extra: Extra,
): Promise<Record<string, unknown>> {
  const cursor = typeof params['cursor'] === 'string' ? params['cursor'] : undefined;
  const { page, server } = await ctx.pool.listPageFrom(kind, cursor, { signal: extra.signal });
  const { kind: itemKind, field } = LIST_ITEM_KIND[kind];
  const items = (page[field] as Record<string, unknown>[] | undefined) ?? [];
  const entries = items.map((entry) => ({ entry, server: server ?? '' }));
  return { ...page, [field]: await visibleEntries(ctx, itemKind, entries) };
}

/** A list page's entries this session's principal may see: one `mcp/visible` evaluation per page. */
function visibleEntries(
  ctx: ProxyContext,
  kind: ListItemKind,
  entries: { entry: Record<string, unknown>; server: string }[],
): Promise<Record<string, unknown>[]> {
  const { lists, session } = ctx;
  if (!lists) return Promise.resolve(entries.map((e) => e.entry));
  return lists.visible({
    kind,
    principal: session.principal,
    session: { id: session.id, client: session.client },
    entries,
  });
}

function relayResource(
  ctx: ProxyContext,
  method: string,
  params: Params,
  extra: Extra,
): Promise<Record<string, unknown>> {
  return forward(ctx, resourceServer(ctx, params, method), method, params, extra);
}

function resourceServer(ctx: ProxyContext, params: Params, method: string): DownstreamServer {
  const uri = params['uri'];
  if (typeof uri !== 'string') throw new McpError(ErrorCode.InvalidParams, 'params.uri must be a string');
  checkUriLength(ctx, uri, method, 'params.uri');
  const target = ctx.pool.resolveResource(uri);
  if (!target) throw new McpError(JsonRpcErrorCode.ResourceNotFound, `Resource not found: ${uri}`, { uri });
  return target;
}

// Before routing: a URI is matched against every listed template, and it lands in the policy
// input, the decision log and the audit trail.
function checkUriLength(ctx: ProxyContext, uri: string, method: string, field: string): void {
  if (uri.length <= ctx.maxUriLength) return;
  throw new McpError(
    ErrorCode.InvalidParams,
    `${method}: ${field} is ${uri.length} characters long; Warden accepts resource URIs of at most ` +
      `${ctx.maxUriLength} characters (limits.maxUriLength). Fix: use a shorter URI, or raise ` +
      "limits.maxUriLength in Warden's config.",
    { limit: ctx.maxUriLength, length: uri.length, config_key: 'limits.maxUriLength' },
  );
}

/**
 * Sends a request downstream on behalf of the caller: cancellation follows the caller's signal,
 * and progress comes back under the caller's own token (the SDK issues its own downstream). A
 * traced call passes on its downstream span's `traceparent` in place of the client's.
 */
async function forward(
  ctx: ProxyContext,
  target: DownstreamServer,
  method: string,
  params: Params,
  extra: Extra,
  traced: ForwardContext = {},
): Promise<Record<string, unknown>> {
  const { inflight } = ctx;
  const meta = params['_meta'] as Params | undefined;
  const progressToken = meta?.['progressToken'];
  const forwardParams: Params = { ...params };
  if (meta || traced.traceparent) {
    // The caller's progress token is Warden's to map, and the 2026-07-28 envelope describes the
    // client's hop: downstream servers get Warden's own (its connection's) instead.
    const rest = Object.fromEntries(
      Object.entries(meta ?? {}).filter(
        ([key]) => key !== 'progressToken' && key !== ROUND_META_KEY && !key.startsWith(ENVELOPE_PREFIX),
      ),
    );
    if (traced.traceparent) rest['traceparent'] = traced.traceparent;
    if (Object.keys(rest).length) forwardParams['_meta'] = rest;
    else delete forwardParams['_meta'];
  }
  const onprogress =
    progressToken === undefined
      ? undefined
      : (p: Progress) =>
          void extra
            .sendNotification({
              method: 'notifications/progress',
              params: { ...p, progressToken },
            } as ServerNotification)
            .catch(() => undefined);
  // The caller's capabilities travel to a modern server with each request, so it asks that
  // client only for what it can give: a 2026-07-28 caller's from its envelope, a handshake-era
  // caller's from its initialize.
  const envelopeCapabilities = meta?.[`${ENVELOPE_PREFIX}clientCapabilities`] as Params | undefined;
  const clientCapabilities = envelopeCapabilities ?? ctx.server.getClientCapabilities() ?? {};
  // Likewise the log level: the envelope's, or the session's logging/setLevel.
  const logLevel = (meta?.[`${ENVELOPE_PREFIX}logLevel`] as string | undefined) ?? ctx.logLevel.value;
  const list = inflight.get(target.name) ?? [];
  list.push(extra);
  inflight.set(target.name, list);
  try {
    const send = (p: Params) =>
      target.request(method, p, {
        signal: extra.signal,
        clientCapabilities,
        ...(onprogress ? { onprogress } : {}),
        ...(logLevel !== undefined ? { logLevel } : {}),
      });
    let result = await send(forwardParams);
    // A 2026-07-28 caller answers the round itself (modern-relay.ts); a handshake-era caller is
    // asked here, each input request sent to it as the server-to-client request it names, and the
    // server is retried with the answers and its requestState until it gives a final result.
    for (let round = 1; result['resultType'] === 'input_required' && !envelopeCapabilities; round++) {
      if (round > MAX_INPUT_ROUNDS) {
        throw new DownstreamError(
          'downstream_input_rounds_exceeded',
          `downstream server "${target.name}" still asked for input after ${MAX_INPUT_ROUNDS} rounds of ${method}; ` +
            'Warden gave up. Fix: check the server (it should give a final result once its questions are answered)',
        );
      }
      const inputResponses = await askCaller(extra, result['inputRequests']);
      const requestState = result['requestState'];
      result = await send({
        ...forwardParams,
        inputResponses,
        ...(typeof requestState === 'string' ? { requestState } : {}),
      });
    }
    return result;
  } finally {
    list.splice(list.indexOf(extra), 1);
  }
}

/** Rounds of input Warden answers for a handshake-era client before giving up on a server. */
const MAX_INPUT_ROUNDS = 16;

/**
 * A modern server's `inputRequests` put to a handshake-era client as server-to-client requests on
 * the call's own stream (elicitation, sampling, roots), one at a time; the answers by key.
 */
async function askCaller(extra: Extra, requests: unknown): Promise<Params> {
  const answers: Params = {};
  for (const [key, request] of Object.entries((requests ?? {}) as Record<string, Params>)) {
    const message = { method: request['method'], params: request['params'] ?? {} } as ServerRequest;
    answers[key] = await extra.sendRequest(message, ResultSchema, {
      signal: extra.signal,
      timeout: 24 * 60 * 60 * 1000,
    });
  }
  return answers;
}

/** What a downstream server starts goes upstream on the latest call in flight to it, else on the server. */
function upstreamRelay(ctx: ProxyContext): UpstreamRelay {
  const { server, logger, inflight } = ctx;
  return {
    notify(serverName, notification) {
      if (notification.method === 'notifications/tools/list_changed') return; // re-aggregated and sent by the pool hook
      const related = inflight.get(serverName)?.at(-1);
      const send = related
        ? related.sendNotification(notification as ServerNotification)
        : server.notification(notification as ServerNotification);
      send.catch((err: unknown) =>
        logger.debug('cannot relay notification upstream', {
          server: serverName,
          method: notification.method,
          error: describeError(err),
        }),
      );
    },
    async request(serverName, request, signal) {
      const related = inflight.get(serverName)?.at(-1);
      const message = {
        method: request.method,
        ...(request.params ? { params: request.params } : {}),
      } as ServerRequest;
      // No timeout of our own: the client (a person answering an elicitation) sets the pace.
      const opts = { signal, timeout: 24 * 60 * 60 * 1000 };
      return related ? related.sendRequest(message, ResultSchema, opts) : server.request(message, ResultSchema, opts);
    },
  };
}

const ENVELOPE_PREFIX = 'io.modelcontextprotocol/';

/**
 * What the policy input's `call` carries from a request's `_meta` (docs/policy-input.md): the
 * 2026-07-28 envelope's protocol version and client info, and the W3C traceparent of either era.
 */
function envelopeOf(params: Params): Pick<PendingCall, 'protocol_version' | 'client_info' | 'traceparent'> {
  const meta = (params['_meta'] ?? {}) as Params;
  const version = meta[`${ENVELOPE_PREFIX}protocolVersion`];
  const info = meta[`${ENVELOPE_PREFIX}clientInfo`] as Params | undefined;
  const traceparent = meta['traceparent'];
  return {
    ...(typeof version === 'string' ? { protocol_version: version } : {}),
    ...(info && typeof info['name'] === 'string'
      ? { client_info: { name: info['name'], version: String(info['version'] ?? '') } }
      : {}),
    ...(typeof traceparent === 'string' ? { traceparent } : {}),
  };
}

/** A tool result for a call (or a result) Warden refused: the text, and the decision in `_meta`. */
function refusedResult(text: string, decision: Record<string, unknown>): Record<string, unknown> {
  return { content: [{ type: 'text', text }], isError: true, _meta: { [DECISION_META_KEY]: decision } };
}

/** The text a client gets for a result the result policy withheld: the rules, never the content. */
function withheldText(name: string, reasons: readonly { rule: string; message: string }[]): string {
  return `Warden withheld the result of ${name}:\n${reasons.map((r) => `- ${r.message} [${r.rule}]`).join('\n')}`;
}

function unwrap(name: string, outcome: PipelineOutcome): Record<string, unknown> {
  switch (outcome.kind) {
    case 'completed':
      return outcome.result;
    case 'denied':
      throw new McpError(JsonRpcErrorCode.Denied, denialText(name, outcome.reasons), {
        [DECISION_META_KEY]: { decision_id: outcome.decisionId, allow: false, reasons: outcome.reasons },
      });
    case 'withheld':
      throw new McpError(JsonRpcErrorCode.Denied, withheldText(name, outcome.reasons), {
        [DECISION_META_KEY]: { decision_id: outcome.decisionId, allow: true, withheld: true, reasons: outcome.reasons },
      });
    case 'unrecorded':
      throw new McpError(
        ErrorCode.InternalError,
        `Warden could not record the outcome of ${name} in the audit trail, so the result is withheld: ${outcome.error}`,
      );
    case 'failed':
      throw relayable(outcome.error);
  }
}

function toToolResult(
  name: string,
  serverName: string,
  outcome: PipelineOutcome,
  logger: Logger,
): Record<string, unknown> {
  switch (outcome.kind) {
    case 'completed':
      return outcome.result;
    case 'denied':
      return refusedResult(denialText(name, outcome.reasons), {
        decision_id: outcome.decisionId,
        allow: false,
        reasons: outcome.reasons,
        ...(outcome.pendingApproval ? { approval: { id: outcome.pendingApproval, state: 'pending' } } : {}),
      });
    case 'withheld':
      return refusedResult(withheldText(name, outcome.reasons), {
        decision_id: outcome.decisionId,
        allow: true,
        withheld: true,
        reasons: outcome.reasons,
      });
    case 'unrecorded':
      return {
        content: [
          {
            type: 'text',
            text: `The call to ${name} ran, but Warden could not record its outcome in the audit trail, so the result is withheld (audit.onFailure: deny): ${outcome.error}`,
          },
        ],
        isError: true,
        _meta: { [DECISION_META_KEY]: { decision_id: outcome.decisionId, allow: true, unrecorded: true } },
      };
    case 'failed': {
      const err = outcome.error;
      // A JSON-RPC error the server chose to send (bad params, its own failure) is relayed as it is.
      if (err instanceof McpError && err.code !== ErrorCode.RequestTimeout && err.code !== ErrorCode.ConnectionClosed)
        throw relayable(err);
      const why =
        err instanceof McpError && err.code === ErrorCode.RequestTimeout
          ? `the downstream server "${serverName}" did not answer in time (${stripPrefix(err.message, err.code)})`
          : err instanceof McpError && err.code === ErrorCode.ConnectionClosed
            ? `the downstream server "${serverName}" exited while handling the call; Warden will start it again on the next call`
            : err instanceof DownstreamError
              ? err.message
              : `the downstream server "${serverName}" failed: ${describeError(err)}`;
      logger.warn('tool call failed downstream', {
        decision_id: outcome.decisionId,
        tool: name,
        server: serverName,
        error: describeError(err),
      });
      return { content: [{ type: 'text', text: `The call to ${name} failed: ${why}.` }], isError: true };
    }
  }
}

/** An error carrying a downstream JSON-RPC error's code, message and data unchanged. */
class RelayedError extends McpError {
  constructor(code: number, message: string, data: unknown) {
    super(code, message, data);
    // McpError prefixes "MCP error <code>: "; the wire message must be the server's own.
    this.message = message;
  }
}

function relayable(err: unknown): Error {
  if (err instanceof McpError) return new RelayedError(err.code, stripPrefix(err.message, err.code), err.data);
  if (err instanceof DownstreamError) return new McpError(ErrorCode.InternalError, err.message);
  return new McpError(ErrorCode.InternalError, describeError(err));
}

/** An SDK error's message without the "MCP error <code>: " prefixes the SDK puts before it. */
export function stripPrefix(message: string, code: number): string {
  const prefix = `MCP error ${code}: `;
  let m = message;
  while (m.startsWith(prefix)) m = m.slice(prefix.length);
  return m;
}
