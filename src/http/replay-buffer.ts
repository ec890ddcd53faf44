import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

interface StoredEvent {
  readonly stream: string;
  readonly message: JSONRPCMessage;
  readonly bytes: number;
}

/**
 * The recent SSE events of one handshake-era MCP session, so that a client whose stream closed (a
 * network drop, a load balancer's idle timeout, or Warden switching it to polling) can resume it
 * with `Last-Event-ID` and miss nothing (2025-11-25 resumability, SEP-1699).
 *
 * Bounded by `maxBytes` of JSON: the oldest events are dropped first, and a resume from a dropped
 * event is refused by the SDK (HTTP 400), so a client that stayed away too long learns it at once.
 * Event ids are `<n>.<stream id>`, `n` counting up within the session.
 */
export class ReplayBuffer implements EventStore {
  private readonly events = new Map<string, StoredEvent>();
  private bytes = 0;
  private next = 0;

  constructor(private readonly maxBytes: number) {}

  storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const id = `${++this.next}.${streamId}`;
    const bytes = JSON.stringify(message).length;
    this.events.set(id, { stream: streamId, message, bytes });
    this.bytes += bytes;
    this.evict();
    return Promise.resolve(id);
  }

  getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return Promise.resolve(this.events.get(eventId)?.stream);
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const last = this.events.get(lastEventId);
    if (!last) return '';
    // Map order is store order: what follows lastEventId on the same stream, as it was sent.
    let after = false;
    const replay: [string, JSONRPCMessage][] = [];
    for (const [id, event] of this.events) {
      if (after && event.stream === last.stream) replay.push([id, event.message]);
      if (id === lastEventId) after = true;
    }
    for (const [id, message] of replay) await send(id, message);
    return last.stream;
  }

  /** Bytes held now (for tests and metrics). */
  get size(): number {
    return this.bytes;
  }

  private evict(): void {
    for (const [id, event] of this.events) {
      // The newest event stays, however large: without it the stream it ends could not resume.
      if (this.bytes <= this.maxBytes || this.events.size === 1) return;
      this.events.delete(id);
      this.bytes -= event.bytes;
    }
  }
}
