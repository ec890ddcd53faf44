import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageExtraInfo,
} from '@modelcontextprotocol/sdk/types.js';
import { describeError, JsonRpcErrorCode } from '../common/index.js';
import { HeldTransport } from './held-transport.js';

/** Where a 2026-07-28 request carries its protocol version (the per-request `_meta` envelope). */
const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion';
/** The handshake versions Warden speaks, newest first (dates sort as strings). */
const HANDSHAKE_VERSIONS: readonly string[] = [...SUPPORTED_PROTOCOL_VERSIONS].sort().reverse();

/**
 * Holds a client transport until Warden has seen the client's `initialize`: the downstream
 * connections are opened with the client's own capabilities (sampling, elicitation, roots), and
 * the MCP server Warden presents is built with the union of what the downstream servers offer.
 * Then the SDK server is connected to this gate, which replays what arrived meanwhile. A request
 * before `initialize` is answered at once with UnsupportedProtocolVersion; notifications wait.
 */
export class SessionGate extends HeldTransport {
  private initializing = false;

  constructor(
    inner: Transport,
    private readonly onInitialize: (request: JSONRPCRequest) => Promise<void>,
  ) {
    super(inner);
  }

  protected arrived(message: JSONRPCMessage, extra: MessageExtraInfo | undefined): void {
    if (!this.initializing && 'method' in message && 'id' in message && message.method !== 'initialize') {
      this.refuseBeforeInitialize(message as JSONRPCRequest);
      return;
    }
    this.hold(message, extra);
    if (!this.initializing && 'method' in message && message.method === 'initialize' && 'id' in message) {
      this.initializing = true;
      const request = message as JSONRPCRequest;
      this.onInitialize(request).catch(async (err: unknown) => {
        // The session cannot start (a downstream server failed): answer initialize with the reason.
        await this.inner
          .send({
            jsonrpc: '2.0',
            id: request.id,
            error: { code: ErrorCode.InternalError, message: describeError(err) },
          })
          .catch(() => undefined);
        this.dropHeld();
      });
    }
  }

  /**
   * Answers a request that came before `initialize` (a 2026-07-28 client probing with
   * `server/discover`, or one pinned to that revision) with UnsupportedProtocolVersion listing the
   * handshake versions Warden speaks: a negotiating client falls back to `initialize` at once
   * instead of waiting out its request timeout, and a pinned one fails with the reason. Buffering it
   * instead would leave it unanswered until an `initialize` that such a client never sends.
   */
  private refuseBeforeInitialize(request: JSONRPCRequest): void {
    // The handshake-era lifecycle allows a ping before initialize.
    if (request.method === 'ping') {
      void this.inner.send({ jsonrpc: '2.0', id: request.id, result: {} }).catch(() => undefined);
      return;
    }
    const meta = (request.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
    const requested = meta?.[PROTOCOL_VERSION_META_KEY];
    const data = {
      supported: [...HANDSHAKE_VERSIONS],
      ...(typeof requested === 'string' ? { requested } : {}),
    };
    const message =
      `this stdio connection is in the handshake era (${HANDSHAKE_VERSIONS.join(', ')}), since its first request ` +
      `carried no 2026-07-28 envelope${typeof requested === 'string' ? ` (it asked for ${requested})` : ''}: send ` +
      `initialize before ${request.method}, or start a new connection whose first request carries the ` +
      '2026-07-28 envelope (docs/protocol.md)';
    this.inner
      .send({
        jsonrpc: '2.0',
        id: request.id,
        error: { code: JsonRpcErrorCode.UnsupportedProtocolVersion, message, data },
      })
      .catch((err: unknown) => this.onerror?.(err instanceof Error ? err : new Error(describeError(err))));
  }
}
