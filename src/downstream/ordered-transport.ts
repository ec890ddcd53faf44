import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';

/**
 * Wraps a client transport so that a response is delivered one microtask after the messages that
 * arrived before it. The SDK's Protocol runs notification handlers in a microtask but handles
 * responses synchronously: a progress notification read in the same chunk as its request's
 * response would find its handler already removed and be dropped ("unknown token"). Deferring the
 * response by one microtask restores wire order.
 */
export class OrderedTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  constructor(private readonly inner: Transport) {
    inner.onclose = () => this.onclose?.();
    inner.onerror = (error) => this.onerror?.(error);
    inner.onmessage = (message, extra) => {
      if ('id' in message && ('result' in message || 'error' in message)) {
        queueMicrotask(() => this.onmessage?.(message, extra));
      } else {
        this.onmessage?.(message, extra);
      }
    };
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  start(): Promise<void> {
    return this.inner.start();
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
