import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';
import { HeldTransport } from './held-transport.js';

export type Era = 'handshake' | 'modern';

const PROTOCOL_VERSION_META = 'io.modelcontextprotocol/protocolVersion';

/**
 * Decides the era of a stdio connection from its first request, as the v2 SDK's own stdio serving
 * does: `server/discover`, or a request whose `_meta` carries the 2026-07-28 envelope, opens a
 * stateless connection; anything else (an `initialize`) a handshake-era session. The router then
 * is the transport of whichever side serves it (HeldTransport replays what arrived before).
 */
export class EraRouter extends HeldTransport {
  private decided = false;

  constructor(
    inner: Transport,
    private readonly onEra: (era: Era, first: JSONRPCMessage) => void,
  ) {
    super(inner);
  }

  protected arrived(message: JSONRPCMessage, extra: MessageExtraInfo | undefined): void {
    this.hold(message, extra);
    if (this.decided || !('method' in message) || !('id' in message)) return;
    this.decided = true;
    this.onEra(eraOf(message), message);
  }
}

function eraOf(request: JSONRPCMessage & { method: string }): Era {
  if (request.method === 'initialize') return 'handshake';
  if (request.method === 'server/discover') return 'modern';
  const meta = (request as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
  const version = meta?.[PROTOCOL_VERSION_META];
  return typeof version === 'string' && version >= '2026-07-28' ? 'modern' : 'handshake';
}
