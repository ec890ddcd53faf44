import { randomUUID } from 'node:crypto';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';

/**
 * How long a stdio server gets to answer `server/discover` before Warden goes on with
 * `initialize` on the same connection: some handshake-era servers never answer a request that
 * comes before `initialize`, and must not cost the whole start timeout.
 */
export const ERA_PROBE_TIMEOUT_MS = 10_000;

/**
 * Asks a stdio server, on its own connection, whether it speaks 2026-07-28: one `server/discover`
 * request before anything else (which the specification allows a client to send first). A result
 * means yes; an error, or no answer within `timeoutMs`, means a handshake-era server, which then
 * gets `initialize` on the same process, so a stdio server is started once whatever its era.
 * Starts `transport`; resolves with the transport to hand to the client, already started.
 */
export async function probeStdioEra(
  transport: Transport,
  clientInfo: { name: string; version: string },
  timeoutMs: number,
): Promise<{ modern: boolean; detail: string; transport: Transport }> {
  const id = `mcp-warden-era-probe-${randomUUID()}`;
  const answered = new Promise<{ modern: boolean; detail: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => resolve({ modern: false, detail: `no answer to server/discover in ${timeoutMs} ms` }),
      timeoutMs,
    );
    transport.onmessage = (message) => {
      if (!('id' in message) || message.id !== id) return; // nothing else is expected before the answer
      clearTimeout(timer);
      if ('result' in message) resolve({ modern: true, detail: 'server/discover answered' });
      else
        resolve({
          modern: false,
          detail: `server/discover refused: ${JSON.stringify((message as { error?: unknown }).error ?? null)}`,
        });
    };
    transport.onclose = () => {
      clearTimeout(timer);
      reject(new Error('the server exited before answering server/discover'));
    };
    transport.onerror = () => undefined; // a line that is not JSON-RPC is the server's, not the probe's
  });
  // Observed below; when start or send throw first, their error is the one reported.
  answered.catch(() => undefined);
  await transport.start();
  await transport.send({
    jsonrpc: '2.0',
    id,
    method: 'server/discover',
    params: {
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientInfo': clientInfo,
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  } as JSONRPCMessage);
  const verdict = await answered;
  transport.onmessage = undefined;
  transport.onclose = undefined;
  transport.onerror = undefined;
  return { ...verdict, transport: new StartedTransport(transport) };
}

/** A transport the probe already started, handed to a client whose connect() starts it again. */
class StartedTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  constructor(private readonly inner: Transport) {
    inner.onclose = () => this.onclose?.();
    inner.onerror = (error) => this.onerror?.(error);
    inner.onmessage = (message, extra) => this.onmessage?.(message, extra);
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  async start(): Promise<void> {
    // started by the probe
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
