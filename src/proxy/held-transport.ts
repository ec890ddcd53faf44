import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';

type Held = { message: JSONRPCMessage; extra: MessageExtraInfo | undefined };

/**
 * A client transport held until whatever serves it is ready: `open()` starts the client side, every
 * message before the serving side's `start()` goes to `arrived` (which holds it, answers it, or
 * decides who serves the connection), and `start()` replays what was held. Everything else passes
 * through to the client transport.
 */
export abstract class HeldTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;
  private held: Held[] = [];
  private released = false;

  constructor(protected readonly inner: Transport) {}

  /** Starts the client transport; messages are held from now until `start()`. */
  async open(): Promise<void> {
    this.inner.onclose = () => this.onclose?.();
    this.inner.onerror = (error) => this.onerror?.(error);
    this.inner.onmessage = (message, extra) =>
      this.released ? this.onmessage?.(message, extra) : this.arrived(message, extra);
    await this.inner.start();
  }

  /** A message that came before the serving side started. */
  protected abstract arrived(message: JSONRPCMessage, extra: MessageExtraInfo | undefined): void;

  protected hold(message: JSONRPCMessage, extra: MessageExtraInfo | undefined): void {
    this.held.push({ message, extra });
  }

  /** Forgets what was held (the connection will not be served). */
  protected dropHeld(): void {
    this.held = [];
  }

  /** Called by the serving side's connect(): replays everything held meanwhile. */
  async start(): Promise<void> {
    this.released = true;
    const pending = this.held;
    this.held = [];
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
