import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageExtraInfo,
} from '@modelcontextprotocol/sdk/types.js';
import { describeError } from '../common/index.js';

type Buffered = { message: JSONRPCMessage; extra: MessageExtraInfo | undefined };

/** JSON-RPC code of UnsupportedProtocolVersion (MCP 2026-07-28); the v1 SDK's ErrorCode has no name for it. */
const UNSUPPORTED_PROTOCOL_VERSION = -32022;
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
export class SessionGate implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;
  private buffer: Buffered[] = [];
  private connected = false;
  private initializing = false;

  constructor(
    private readonly inner: Transport,
    private readonly onInitialize: (request: JSONRPCRequest) => Promise<void>,
  ) {}

  /** Starts the client transport and begins listening for `initialize`. */
  async open(): Promise<void> {
    this.inner.onclose = () => this.onclose?.();
    this.inner.onerror = (error) => this.onerror?.(error);
    this.inner.onmessage = (message, extra) => this.receive(message, extra);
    await this.inner.start();
  }

  private receive(message: JSONRPCMessage, extra: MessageExtraInfo | undefined): void {
    if (this.connected) {
      this.onmessage?.(message, extra);
      return;
    }
    if (!this.initializing && 'method' in message && 'id' in message && message.method !== 'initialize') {
      this.refuseBeforeInitialize(message as JSONRPCRequest);
      return;
    }
    this.buffer.push({ message, extra });
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
        this.buffer = [];
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
      .send({ jsonrpc: '2.0', id: request.id, error: { code: UNSUPPORTED_PROTOCOL_VERSION, message, data } })
      .catch((err: unknown) => this.onerror?.(err instanceof Error ? err : new Error(describeError(err))));
  }

  /** Called by the SDK server's connect(): replays everything received before it was ready. */
  async start(): Promise<void> {
    this.connected = true;
    const pending = this.buffer;
    this.buffer = [];
    for (const { message, extra } of pending) this.onmessage?.(message, extra);
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  setProtocolVersion(version: string): void {
    this.inner.setProtocolVersion?.(version);
  }
}
