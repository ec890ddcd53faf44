import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  ErrorCode,
  McpError,
  type JSONRPCRequest,
  type Progress,
  type ServerCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import { DownstreamError, describeError, type Logger } from '../common/index.js';
import type { DownstreamPool } from '../downstream/index.js';
import type { Session } from '../session/index.js';
import type { CallPipeline, PipelineOutcome } from './pipeline.js';
import { denialText } from './verdict.js';

/** Key of Warden's own entry in a denied result's `_meta`. */
export const DECISION_META_KEY = 'mcp-warden.dev/decision';

export interface ProxyServerOptions {
  pool: DownstreamPool;
  pipeline: CallPipeline;
  session: Session;
  logger: Logger;
  serverInfo: { name: string; version: string };
  instructions?: string;
  onInitialized?(server: Server): void;
}

type Extra = {
  signal: AbortSignal;
  sendNotification: (n: { method: string; params?: Record<string, unknown> }) => Promise<void>;
};

/**
 * The MCP server clients talk to. Requests Warden relays go through `fallbackRequestHandler` so
 * params and results pass as raw JSON: the SDK's typed schemas would drop fields they do not know,
 * and its tools/call wrapper would re-validate results that are the downstream server's to shape.
 */
export function createProxyServer(options: ProxyServerOptions): Server {
  const { pool, pipeline, session, logger } = options;
  const capabilities: ServerCapabilities = { tools: { listChanged: true }, logging: {} };
  const server = new Server(options.serverInfo, { capabilities, ...(options.instructions ? { instructions: options.instructions } : {}) });

  server.oninitialized = () => {
    const client = server.getClientVersion();
    if (client) session.client = { name: client.name, version: client.version };
    options.onInitialized?.(server);
  };

  const handlers: Record<string, (params: Record<string, unknown>, extra: Extra) => Promise<Record<string, unknown>>> = {
    'tools/list': async () => ({ tools: pool.listTools() }),
    'tools/call': (params, extra) => callTool(params, extra),
  };

  server.fallbackRequestHandler = async (request, extra) => {
    const handler = handlers[request.method];
    if (!handler) throw new McpError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
    return handler(((request as JSONRPCRequest).params ?? {}) as Record<string, unknown>, extra as unknown as Extra) as never;
  };

  async function callTool(params: Record<string, unknown>, extra: Extra): Promise<Record<string, unknown>> {
    const name = params['name'];
    if (typeof name !== 'string') throw new McpError(ErrorCode.InvalidParams, 'tools/call needs params.name (a string)');
    const args = params['arguments'] ?? {};
    if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new McpError(ErrorCode.InvalidParams, 'tools/call params.arguments must be an object');
    const route = pool.resolveTool(name);
    if (!route) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);

    const annotations = (route.descriptor['annotations'] ?? {}) as Record<string, unknown>;
    const call = { kind: 'tool' as const, server: route.server.name, tool: route.tool, name, arguments: args as Record<string, unknown>, annotations };
    const meta = params['_meta'] as Record<string, unknown> | undefined;
    const progressToken = meta?.['progressToken'];
    const onprogress =
      progressToken === undefined
        ? undefined
        : (p: Progress) => {
            // The SDK gives the downstream request a token of its own; re-send with the caller's.
            void extra.sendNotification({ method: 'notifications/progress', params: { ...p, progressToken } }).catch(() => undefined);
          };
    const forwardParams: Record<string, unknown> = { ...params, name: route.tool };
    if (meta) {
      const { progressToken: _drop, ...rest } = meta;
      if (Object.keys(rest).length) forwardParams['_meta'] = rest;
      else delete forwardParams['_meta'];
    }

    const outcome = await pipeline.run(session, call, () => route.server.request('tools/call', forwardParams, { signal: extra.signal, ...(onprogress ? { onprogress } : {}) }));
    return toToolResult(name, route.server.name, outcome, logger);
  }

  return server;
}

function toToolResult(name: string, serverName: string, outcome: PipelineOutcome, logger: Logger): Record<string, unknown> {
  switch (outcome.kind) {
    case 'completed':
      return outcome.result;
    case 'denied':
      return {
        content: [{ type: 'text', text: denialText(name, outcome.reasons) }],
        isError: true,
        _meta: { [DECISION_META_KEY]: { decision_id: outcome.decisionId, allow: false, reasons: outcome.reasons } },
      };
    case 'unrecorded':
      return {
        content: [{ type: 'text', text: `The call to ${name} ran, but Warden could not record its outcome in the audit trail, so the result is withheld (audit.onFailure: deny): ${outcome.error}` }],
        isError: true,
        _meta: { [DECISION_META_KEY]: { decision_id: outcome.decisionId, allow: true, unrecorded: true } },
      };
    case 'failed': {
      const err = outcome.error;
      // A JSON-RPC error the server chose to send (bad params, its own failure) is relayed as it is,
      // without the SDK's "MCP error -32602:" prefix doubling up.
      if (err instanceof McpError && err.code !== ErrorCode.RequestTimeout && err.code !== ErrorCode.ConnectionClosed) {
        throw new RelayedError(err.code, stripPrefix(err.message, err.code), err.data);
      }
      const why =
        err instanceof McpError && err.code === ErrorCode.RequestTimeout
          ? `the downstream server "${serverName}" did not answer in time (${stripPrefix(err.message, err.code)})`
          : err instanceof McpError && err.code === ErrorCode.ConnectionClosed
            ? `the downstream server "${serverName}" exited while handling the call; Warden will start it again on the next call`
            : err instanceof DownstreamError
              ? err.message
              : `the downstream server "${serverName}" failed: ${describeError(err)}`;
      logger.warn('tool call failed downstream', { decision_id: outcome.decisionId, tool: name, server: serverName, error: describeError(err) });
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

function stripPrefix(message: string, code: number): string {
  const prefix = `MCP error ${code}: `;
  let m = message;
  while (m.startsWith(prefix)) m = m.slice(prefix.length);
  return m;
}
