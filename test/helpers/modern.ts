// Raw MCP 2026-07-28 requests (no session, the `_meta` envelope, Mcp-Method/Mcp-Name headers), for
// tests that must choose each request's replica, trace and principal themselves.
import { MCP_HEADERS, rawRequest, rpcMessage, type RawResponse } from './http.js';

export const MODERN = '2026-07-28';

/** The request envelope a 2026-07-28 client sends in `_meta`; `extra` adds or overrides keys. */
export function envelope(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'raw-modern', version: '1' },
    ...extra,
  };
}

/** POSTs one 2026-07-28 JSON-RPC request to `${url}/mcp` with `token` as the bearer. */
export function modernPost(
  url: string,
  token: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const params = (body['params'] ?? {}) as Record<string, unknown>;
  const name = (params['name'] ?? params['uri']) as string | undefined;
  return rawRequest(`${url}/mcp`, {
    method: 'POST',
    headers: {
      ...MCP_HEADERS,
      authorization: `Bearer ${token}`,
      'mcp-protocol-version': MODERN,
      'mcp-method': body['method'] as string,
      ...(name !== undefined ? { 'mcp-name': name } : {}),
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...body }),
  });
}

export interface ToolAnswer {
  isError?: boolean;
  content: { type: string; text: string }[];
  _meta?: Record<string, unknown>;
}

/** One stateless `tools/call`; resolves to its result (throws on a JSON-RPC error). */
export async function modernTool(
  url: string,
  token: string,
  name: string,
  args: Record<string, unknown>,
  meta: Record<string, unknown> = {},
): Promise<ToolAnswer> {
  const res = await modernPost(url, token, {
    id: 1,
    method: 'tools/call',
    params: { name, arguments: args, _meta: envelope(meta) },
  });
  const message = rpcMessage(res);
  if (!('result' in message)) throw new Error(`tools/call ${name} failed: ${JSON.stringify(message)}`);
  return message['result'] as ToolAnswer;
}
