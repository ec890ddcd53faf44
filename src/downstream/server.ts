import { setMaxListeners } from 'node:events';
import {
  Client as ModernClient,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  StreamableHTTPClientTransport as ModernHttpTransport,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  McpError,
  ResultSchema,
  type ClientCapabilities,
  type Notification,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { DownstreamError, describeError, type Logger } from '../common/index.js';
import { ERA_PROBE_TIMEOUT_MS, probeStdioEra } from './era-probe.js';
import { OrderedTransport } from './ordered-transport.js';
import type { ServerConfig } from '../config/index.js';
import { ProcessGroupStdioTransport } from './stdio-transport.js';

/** A tool as the downstream server described it: relayed untouched (title, icons, annotations, outputSchema, _meta). */
export type RawTool = { name: string; [field: string]: unknown };

export type ServerStatus = 'idle' | 'starting' | 'up' | 'down' | 'closed';

/**
 * How a server is reached: `modern` (2026-07-28: no handshake, every request carries its
 * envelope) when it answers `server/discover`, else `handshake` (`initialize`, one session).
 */
export type ServerEra = 'handshake' | 'modern';

/** The stateless revision Warden speaks to downstream servers that offer it. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

const CLIENT_CAPABILITIES_META = 'io.modelcontextprotocol/clientCapabilities';
const LOG_LEVEL_META = 'io.modelcontextprotocol/logLevel';
/** Methods 2026-07-28 removed that a handshake-era client may still send to a modern server. */
const HANDSHAKE_ONLY_METHODS = new Set(['resources/subscribe', 'resources/unsubscribe']);

export interface RequestOptions {
  signal?: AbortSignal;
  onprogress?: (progress: Progress) => void;
  /**
   * The calling client's capabilities, sent in the envelope of a request to a modern server (so
   * the server asks that client only for what it can give). Unset: the ones this connection was
   * created with (Warden's, mirroring its session's client).
   */
  clientCapabilities?: Record<string, unknown>;
  /** The log level a modern server is asked for in the envelope (its replacement of logging/setLevel). */
  logLevel?: string;
}

export interface DownstreamServerHooks {
  /** The server's process or connection ended unexpectedly. */
  onExit?(server: DownstreamServer, detail: string): void;
  /** The server's tool list changed (after a restart or a list_changed notification). */
  onToolsChanged?(server: DownstreamServer): void;
  /** Any other notification the server sent (logging, progress of unrelated requests, list_changed…). */
  onNotification?(server: DownstreamServer, notification: Notification): void;
  /** A request from the server to the client (sampling, elicitation, roots): relayed upstream. */
  onRequest?(
    server: DownstreamServer,
    request: { method: string; params?: Record<string, unknown> },
    signal: AbortSignal,
  ): Promise<Record<string, unknown>>;
}

const STDERR_TAIL_LINES = 20;

/**
 * Starting a server (spawn, initialize, list its tools) gets at least this long, whatever the
 * server's per-request `timeoutMs`: a wrapper such as npx may install before it answers, and a
 * short call timeout must not make a slow start look like a broken server.
 */
export const MIN_START_TIMEOUT_MS = 30_000;

/**
 * One downstream MCP server behind one SDK client. A stdio server that exits is marked down and
 * started again by the next request that needs it.
 */
export class DownstreamServer {
  status: ServerStatus = 'idle';
  tools: RawTool[] = [];
  restarts = 0;
  /** Learned at each (re)connect: a server may be upgraded between restarts. */
  era: ServerEra | undefined;
  private client: Client | null = null;
  private modern: ModernClient | null = null;
  private sideSession: Promise<Client> | null = null;
  private connecting: Promise<void> | null = null;
  private readonly stderrTail: string[] = [];
  private closing = false;

  constructor(
    readonly config: ServerConfig,
    private readonly options: {
      clientInfo: { name: string; version: string };
      capabilities: ClientCapabilities;
      logger: Logger;
      hooks: DownstreamServerHooks;
    },
  ) {}

  get name(): string {
    return this.config.name;
  }

  private get startTimeoutMs(): number {
    return Math.max(this.config.timeoutMs, MIN_START_TIMEOUT_MS);
  }

  /** The last lines the server wrote to stderr (stdio servers). */
  get stderr(): string {
    return this.stderrTail.join('\n');
  }

  /** The server's `instructions` from initialize (or server/discover), if any. */
  get instructions(): string | undefined {
    return this.client?.getInstructions() ?? this.modern?.getInstructions();
  }

  /** What the server said about itself in `initialize` (or server/discover). */
  get serverCapabilities(): ReturnType<Client['getServerCapabilities']> {
    return this.client?.getServerCapabilities() ?? (this.modern?.getServerCapabilities() as never);
  }

  /** Connects (or reconnects) and loads the tool catalogue. Concurrent callers share one attempt. */
  connect(): Promise<void> {
    this.connecting ??= this.doConnect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    this.status = 'starting';
    let client: Client | undefined;
    try {
      const handoff = await this.connectModern();
      if (handoff === null) return;
      client = await this.openHandshake((c) => this.handleClose(c), handoff);
      this.client = client;
      this.era = 'handshake';
      await this.refreshTools(client, false);
      this.status = 'up';
    } catch (err) {
      this.status = 'down';
      await client?.close().catch(() => undefined);
      throw this.startFailed(err);
    }
  }

  /** A handshake-era connection (`initialize`) with the relaying handlers; rejects if it cannot connect. */
  private async openHandshake(onclose: (client: Client) => void, started?: Transport): Promise<Client> {
    const client = new Client(this.options.clientInfo, { capabilities: this.options.capabilities });
    client.fallbackNotificationHandler = async (notification) => {
      if (notification.method === 'notifications/tools/list_changed' && client === this.client) {
        await this.refreshTools(client).catch((err: unknown) =>
          this.options.logger.warn('cannot refresh tools after list_changed', {
            server: this.name,
            error: describeError(err),
          }),
        );
      }
      this.options.hooks.onNotification?.(this, notification);
    };
    client.fallbackRequestHandler = async (request, extra) => {
      const onRequest = this.options.hooks.onRequest;
      if (!onRequest) throw new McpError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
      return (await onRequest(
        this,
        { method: request.method, ...(request.params ? { params: request.params as Record<string, unknown> } : {}) },
        extra.signal,
      )) as never;
    };
    const transport = new OrderedTransport(started ?? this.createTransport('handshake'));
    client.onclose = () => onclose(client);
    try {
      await client.connect(transport, { timeout: this.startTimeoutMs });
      return client;
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The handshake-era connection a modern server is reached on for the methods 2026-07-28 removed
   * (`resources/subscribe|unsubscribe`: a handshake-era client's subscription lives on a session,
   * and its updates come back on it). Opened on first use; a server that speaks 2026-07-28 only
   * refuses it, and the caller gets that error.
   */
  private sessionForRemovedMethods(): Promise<Client> {
    this.sideSession ??= this.openHandshake(() => {
      this.sideSession = null;
    }).catch((err: unknown) => {
      this.sideSession = null;
      throw err;
    });
    return this.sideSession;
  }

  private startFailed(err: unknown): DownstreamError {
    const tail = this.stderr ? `\n  its stderr ended with:\n    ${this.stderr.split('\n').join('\n    ')}` : '';
    return new DownstreamError(
      'downstream_start_failed',
      `downstream server "${this.name}" (${this.describe()}) could not be started: ${describeError(err)}${tail}\n  Fix: check mcpServers.${this.name} in the config and run the server by hand to see its error.`,
      { cause: err },
    );
  }

  /**
   * Asks the server for `server/discover` (docs/protocol.md). A server that answers is connected
   * with the v2 client pinned to 2026-07-28 and reached in that era from now on (null). Otherwise
   * it is a handshake-era server: the transport to send `initialize` on is returned. Over stdio the
   * probe runs on the server's own process, which that transport goes on with (one start either
   * way); over HTTP the probe is the pinned client's own discover, and the handshake gets a fresh
   * transport (undefined).
   */
  private async connectModern(): Promise<Transport | undefined | null> {
    let transport = this.createTransport('modern');
    if (this.config.kind === 'stdio') {
      const probe = await probeStdioEra(transport, this.options.clientInfo, ERA_PROBE_TIMEOUT_MS);
      if (!probe.modern) {
        this.logHandshake(probe.detail);
        return probe.transport;
      }
      transport = probe.transport;
    }
    const client = new ModernClient(this.options.clientInfo, {
      capabilities: {},
      versionNegotiation: { mode: { pin: MODERN_PROTOCOL_VERSION } },
      // A round of input is the calling client's to answer: Warden relays it (docs/protocol.md).
      inputRequired: { autoFulfill: false },
    });
    try {
      await client.connect(new OrderedTransport(transport) as never, { timeout: this.startTimeoutMs });
    } catch (err) {
      await client.close().catch(() => undefined);
      if (this.config.kind === 'stdio') throw err; // it answered discover, then failed: not an era question
      this.logHandshake(describeError(err));
      return undefined;
    }
    client.onclose = () => this.handleClose(client);
    // What the server sends about a request in flight (progress aside): logs, list changes.
    client.fallbackNotificationHandler = async (notification) =>
      this.options.hooks.onNotification?.(this, notification as Notification);
    this.modern = client;
    this.era = 'modern';
    try {
      await this.refreshTools(client, false);
    } catch (err) {
      this.modern = null;
      await client.close().catch(() => undefined);
      throw err;
    }
    this.status = 'up';
    this.options.logger.info('downstream server speaks 2026-07-28', { server: this.name });
    return null;
  }

  private logHandshake(detail: string): void {
    this.options.logger.debug('downstream server does not speak 2026-07-28: reaching it with initialize', {
      server: this.name,
      detail,
    });
  }

  private createTransport(era: ServerEra): Transport {
    const c = this.config;
    if (c.kind === 'http') {
      const options = { requestInit: { headers: { ...c.headers } }, fetch: fetchWithoutListenerLimit };
      // 2026-07-28 goes over the v2 SDK's own transport (MCP-Protocol-Version, Mcp-Method, Mcp-Name).
      return era === 'modern'
        ? (new ModernHttpTransport(new URL(c.url), options) as never)
        : new StreamableHTTPClientTransport(new URL(c.url), options);
    }
    // POSIX: own process group, ended as a whole on close (wrappers such as npx leave grandchildren).
    // Windows has no process groups to signal: the SDK's transport.
    const params = { command: c.command, args: [...c.args], env: { ...c.env }, cwd: c.cwd };
    const transport =
      process.platform === 'win32'
        ? new StdioClientTransport({ ...params, stderr: 'pipe' })
        : new ProcessGroupStdioTransport(params);
    transport.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        this.stderrTail.push(line);
        if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
        this.options.logger.debug('downstream stderr', { server: this.name, line });
      }
    });
    return transport;
  }

  private handleClose(client: Client | ModernClient): void {
    if (this.client !== client && this.modern !== client) return;
    this.client = null;
    this.modern = null;
    if (this.closing) {
      this.status = 'closed';
      return;
    }
    this.status = 'down';
    const detail = `downstream server "${this.name}" disconnected${this.stderr ? ` (stderr: ${this.stderrTail.at(-1)})` : ''}; it will be started again on the next call`;
    this.options.logger.warn(detail, { server: this.name });
    this.options.hooks.onExit?.(this, detail);
  }

  private async refreshTools(client: Client | ModernClient, notify = true): Promise<void> {
    if (!client.getServerCapabilities()?.tools) {
      this.tools = [];
      return;
    }
    const tools: RawTool[] = [];
    let cursor: string | undefined;
    do {
      const params = cursor ? { cursor } : {};
      const page =
        client instanceof Client
          ? await client.request({ method: 'tools/list', params }, ResultSchema, { timeout: this.startTimeoutMs })
          : await this.modernRequest(client, 'tools/list', params, {}, this.startTimeoutMs);
      tools.push(...((page['tools'] as RawTool[] | undefined) ?? []));
      cursor = typeof page['nextCursor'] === 'string' ? page['nextCursor'] : undefined;
    } while (cursor);
    this.tools = tools;
    if (notify) this.options.hooks.onToolsChanged?.(this);
  }

  /**
   * Sends a request, starting the server first if it is down. Results are read with the loose
   * `ResultSchema` so fields this SDK does not know are relayed, not dropped.
   */
  async request(
    method: string,
    params: Record<string, unknown> | undefined,
    options: RequestOptions = {},
  ): Promise<Record<string, unknown>> {
    if (this.closing)
      throw new DownstreamError('downstream_closed', `downstream server "${this.name}" is shutting down`);
    if (!this.client && !this.modern) {
      const wasDown = this.status === 'down';
      await this.connect();
      if (wasDown) {
        this.restarts++;
        this.options.logger.info('downstream server restarted', { server: this.name, restarts: this.restarts });
        this.options.hooks.onToolsChanged?.(this);
      }
    }
    if (this.modern && !HANDSHAKE_ONLY_METHODS.has(method))
      return this.modernRequest(this.modern, method, params ?? {}, options, this.config.timeoutMs);
    const client = this.modern ? await this.sessionForRemovedMethods() : this.client;
    if (!client)
      throw new DownstreamError('downstream_unavailable', `downstream server "${this.name}" is not connected`);
    return client.request({ method, params } as never, ResultSchema, {
      signal: options.signal,
      timeout: this.config.timeoutMs,
      resetTimeoutOnProgress: true,
      onprogress: options.onprogress,
    }) as Promise<Record<string, unknown>>;
  }

  /**
   * A request to a modern server: its envelope carries the calling client's capabilities, and an
   * `input_required` result comes back as it is (the caller relays the round). The v2 SDK's errors
   * become the v1 SDK's McpError the rest of Warden reads, so both eras fail alike.
   */
  private async modernRequest(
    client: ModernClient,
    method: string,
    params: Record<string, unknown>,
    options: RequestOptions,
    timeout: number,
  ): Promise<Record<string, unknown>> {
    const meta = { ...((params['_meta'] as Record<string, unknown> | undefined) ?? {}) };
    meta[CLIENT_CAPABILITIES_META] = options.clientCapabilities ?? this.options.capabilities;
    if (options.logLevel !== undefined) meta[LOG_LEVEL_META] = options.logLevel;
    try {
      return (await client.request(
        { method, params: { ...params, _meta: meta } } as never,
        {
          signal: options.signal,
          timeout,
          resetTimeoutOnProgress: true,
          allowInputRequired: true,
          ...(options.onprogress ? { onprogress: options.onprogress } : {}),
        } as never,
      )) as Record<string, unknown>;
    } catch (err) {
      throw asMcpError(err);
    }
  }

  /** Sends a notification (cancellations and progress are sent by the SDK itself). */
  async notify(notification: Notification): Promise<void> {
    await this.client?.notification(notification as never);
  }

  async close(): Promise<void> {
    this.closing = true;
    const side = this.sideSession;
    const clients = [this.client, this.modern, await side?.catch(() => null)];
    this.client = null;
    this.modern = null;
    this.sideSession = null;
    this.status = 'closed';
    await Promise.all(clients.map((c) => c?.close().catch(() => undefined)));
  }

  private describe(): string {
    const c = this.config;
    return c.kind === 'http' ? c.url : [c.command, ...c.args].join(' ');
  }
}

/** A v2 SDK error as the v1 SDK's McpError, keeping the code, message and data a client is relayed. */
function asMcpError(err: unknown): unknown {
  if (err instanceof ProtocolError) return new McpError(err.code, err.message, err.data);
  if (err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout)
    return new McpError(ErrorCode.RequestTimeout, err.message);
  if (err instanceof SdkError && err.code === SdkErrorCode.ConnectionClosed)
    return new McpError(ErrorCode.ConnectionClosed, err.message);
  return err;
}

// StreamableHTTPClientTransport reuses one AbortSignal across requests; past ~1,500 requests Node
// warns MaxListenersExceededWarning. Lift the limit per signal we see instead of globally.
const fetchWithoutListenerLimit: typeof fetch = async (input, init) => {
  const signal = init?.signal;
  if (signal) setMaxListeners(0, signal);
  return fetch(input, init);
};
