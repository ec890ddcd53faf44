import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageExtraInfo,
} from '@modelcontextprotocol/sdk/types.js';
import { describeError } from '../common/index.js';

type Buffered = { message: JSONRPCMessage; extra: MessageExtraInfo | undefined };

/**
 * Holds a client transport until Warden has seen the client's `initialize`: the downstream
 * connections are opened with the client's own capabilities (sampling, elicitation, roots), and
 * the MCP server Warden presents is built with the union of what the downstream servers offer.
 * Then the SDK server is connected to this gate, which replays what arrived meanwhile.
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
