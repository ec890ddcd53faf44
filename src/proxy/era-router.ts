import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';

export type Era = 'handshake' | 'modern';

type Buffered = { message: JSONRPCMessage; extra: MessageExtraInfo | undefined };

const PROTOCOL_VERSION_META = 'io.modelcontextprotocol/protocolVersion';

/**
 * Decides the era of a stdio connection from its first request, as the v2 SDK's own stdio serving
 * does: `server/discover`, or a request whose `_meta` carries the 2026-07-28 envelope, opens a
 * stateless connection; anything else (an `initialize`) a handshake-era session. The router then
 * is the transport of whichever side serves it, and replays what arrived before.
 */
export class EraRouter implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;
  private buffer: Buffered[] = [];
  private consuming = false;
  private decided = false;

  constructor(
    private readonly inner: Transport,
    private readonly onEra: (era: Era, first: JSONRPCMessage) => void,
  ) {}

  /** Starts the client transport; `onEra` is called once, on the first request. */
  async open(): Promise<void> {
    this.inner.onclose = () => this.onclose?.();
    this.inner.onerror = (error) => this.onerror?.(error);
    this.inner.onmessage = (message, extra) => this.receive(message, extra);
    await this.inner.start();
  }

  private receive(message: JSONRPCMessage, extra: MessageExtraInfo | undefined): void {
    if (this.consuming) return void this.onmessage?.(message, extra);
    this.buffer.push({ message, extra });
    if (this.decided || !('method' in message) || !('id' in message)) return;
    this.decided = true;
    this.onEra(eraOf(message), message);
  }

  /** Called by the serving side's connect(): replays everything received before it was ready. */
  async start(): Promise<void> {
    this.consuming = true;
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
}

function eraOf(request: JSONRPCMessage & { method: string }): Era {
  if (request.method === 'initialize') return 'handshake';
  if (request.method === 'server/discover') return 'modern';
  const meta = (request as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
  const version = meta?.[PROTOCOL_VERSION_META];
  return typeof version === 'string' && version >= '2026-07-28' ? 'modern' : 'handshake';
}
