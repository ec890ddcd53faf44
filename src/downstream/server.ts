import { setMaxListeners } from 'node:events';
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
import { OrderedTransport } from './ordered-transport.js';
import type { ServerConfig } from '../config/index.js';
import { ProcessGroupStdioTransport } from './stdio-transport.js';

/** A tool as the downstream server described it: relayed untouched (title, icons, annotations, outputSchema, _meta). */
export type RawTool = { name: string; [field: string]: unknown };

export type ServerStatus = 'idle' | 'starting' | 'up' | 'down' | 'closed';

export interface RequestOptions {
  signal?: AbortSignal;
  onprogress?: (progress: Progress) => void;
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
  private client: Client | null = null;
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

  /** The server's `instructions` from initialize, if any. */
  get instructions(): string | undefined {
    return this.client?.getInstructions();
  }

  /** What the server said about itself in `initialize`. */
  get serverCapabilities(): ReturnType<Client['getServerCapabilities']> {
    return this.client?.getServerCapabilities();
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
    const client = new Client(this.options.clientInfo, { capabilities: this.options.capabilities });
    client.fallbackNotificationHandler = async (notification) => {
      if (notification.method === 'notifications/tools/list_changed') {
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
    const transport = new OrderedTransport(this.createTransport());
    client.onclose = () => this.handleClose(client);
    try {
      await client.connect(transport, { timeout: this.startTimeoutMs });
      this.client = client;
      await this.refreshTools(client, false);
      this.status = 'up';
    } catch (err) {
      this.status = 'down';
      await client.close().catch(() => undefined);
      const tail = this.stderr ? `\n  its stderr ended with:\n    ${this.stderr.split('\n').join('\n    ')}` : '';
      throw new DownstreamError(
        'downstream_start_failed',
        `downstream server "${this.name}" (${this.describe()}) could not be started: ${describeError(err)}${tail}\n  Fix: check mcpServers.${this.name} in the config and run the server by hand to see its error.`,
        { cause: err },
      );
    }
  }

  private createTransport(): Transport {
    const c = this.config;
    if (c.kind === 'http') {
      return new StreamableHTTPClientTransport(new URL(c.url), {
        requestInit: { headers: { ...c.headers } },
        fetch: fetchWithoutListenerLimit,
      });
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

  private handleClose(client: Client): void {
    if (this.client !== client) return;
    this.client = null;
    if (this.closing) {
      this.status = 'closed';
      return;
    }
    this.status = 'down';
    const detail = `downstream server "${this.name}" disconnected${this.stderr ? ` (stderr: ${this.stderrTail.at(-1)})` : ''}; it will be started again on the next call`;
    this.options.logger.warn(detail, { server: this.name });
    this.options.hooks.onExit?.(this, detail);
  }

  private async refreshTools(client: Client, notify = true): Promise<void> {
    if (!client.getServerCapabilities()?.tools) {
      this.tools = [];
      return;
    }
    const tools: RawTool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.request({ method: 'tools/list', params: cursor ? { cursor } : {} }, ResultSchema, {
        timeout: this.startTimeoutMs,
      });
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
    if (!this.client) {
      const wasDown = this.status === 'down';
      await this.connect();
      if (wasDown) {
        this.restarts++;
        this.options.logger.info('downstream server restarted', { server: this.name, restarts: this.restarts });
        this.options.hooks.onToolsChanged?.(this);
      }
    }
    const client = this.client;
    if (!client)
      throw new DownstreamError('downstream_unavailable', `downstream server "${this.name}" is not connected`);
    return client.request({ method, params } as never, ResultSchema, {
      signal: options.signal,
      timeout: this.config.timeoutMs,
      resetTimeoutOnProgress: true,
      onprogress: options.onprogress,
    }) as Promise<Record<string, unknown>>;
  }

  /** Sends a notification (cancellations and progress are sent by the SDK itself). */
  async notify(notification: Notification): Promise<void> {
    await this.client?.notification(notification as never);
  }

  async close(): Promise<void> {
    this.closing = true;
    const client = this.client;
    this.client = null;
    this.status = 'closed';
    await client?.close().catch(() => undefined);
  }

  private describe(): string {
    const c = this.config;
    return c.kind === 'http' ? c.url : [c.command, ...c.args].join(' ');
  }
}

// StreamableHTTPClientTransport reuses one AbortSignal across requests; past ~1,500 requests Node
// warns MaxListenersExceededWarning. Lift the limit per signal we see instead of globally.
const fetchWithoutListenerLimit: typeof fetch = async (input, init) => {
  const signal = init?.signal;
  if (signal) setMaxListeners(0, signal);
  return fetch(input, init);
};
