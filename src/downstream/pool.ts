import type { ClientCapabilities, Notification } from '@modelcontextprotocol/sdk/types.js';
import { DownstreamError, type Logger } from '../common/index.js';
import type { ServerConfig } from '../config/index.js';
import { DownstreamServer, type RawTool } from './server.js';

export interface ToolRoute {
  server: DownstreamServer;
  /** The downstream's own name. */
  tool: string;
  /** What the client sees: the tool exactly as the server described it, with the prefixed name. */
  descriptor: RawTool;
}

export interface PoolHooks {
  /** The aggregated tool catalogue changed. */
  onToolsChanged?(): void;
  onServerExit?(server: string, detail: string): void;
  onNotification?(server: string, notification: Notification): void;
}

/**
 * Every configured downstream server, connected at start, with one aggregated catalogue.
 * Names pass through unchanged unless a server sets `prefix`; two servers offering one name is an
 * error naming both (at start), or a warning that keeps the first (after a later list_changed).
 */
export class DownstreamPool {
  readonly servers: DownstreamServer[];
  private routes = new Map<string, ToolRoute>();
  private catalogue: RawTool[] = [];

  constructor(
    configs: readonly ServerConfig[],
    private readonly options: { clientInfo: { name: string; version: string }; capabilities: ClientCapabilities; logger: Logger; hooks?: PoolHooks },
  ) {
    const hooks = options.hooks ?? {};
    this.servers = configs.map(
      (config) =>
        new DownstreamServer(config, {
          clientInfo: options.clientInfo,
          capabilities: options.capabilities,
          logger: options.logger,
          hooks: {
            onExit: (server, detail) => hooks.onServerExit?.(server.name, detail),
            onToolsChanged: () => {
              this.aggregate(false);
              hooks.onToolsChanged?.();
            },
            onNotification: (server, n) => hooks.onNotification?.(server.name, n),
          },
        }),
    );
  }

  /** Connects every server in parallel. On any failure, closes the rest and throws naming each failure. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(this.servers.map((s) => s.connect()));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (failures.length > 0) {
      await this.close();
      if (failures.length === 1) throw failures[0];
      throw new DownstreamError('downstream_start_failed', failures.map((f) => f.message).join('\n\n'));
    }
    try {
      this.aggregate(true);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private aggregate(strict: boolean): void {
    const routes = new Map<string, ToolRoute>();
    const catalogue: RawTool[] = [];
    for (const server of this.servers) {
      for (const tool of server.tools) {
        const name = `${server.config.prefix}${tool.name}`;
        const existing = routes.get(name);
        if (existing) {
          const message =
            `tool name clash: "${name}" is offered by downstream servers "${existing.server.name}" and "${server.name}". ` +
            `Fix: set a prefix on one of them in the config (e.g. mcpServers.${server.name}.prefix: "${server.name}_").`;
          if (strict) throw new DownstreamError('tool_name_clash', message);
          this.options.logger.error(`${message} Keeping the tool of "${existing.server.name}".`);
          continue;
        }
        const descriptor = name === tool.name ? tool : { ...tool, name };
        routes.set(name, { server, tool: tool.name, descriptor });
        catalogue.push(descriptor);
      }
    }
    this.routes = routes;
    this.catalogue = catalogue;
  }

  /** The aggregated `tools/list`, in server order. */
  listTools(): RawTool[] {
    return this.catalogue;
  }

  resolveTool(name: string): ToolRoute | undefined {
    return this.routes.get(name);
  }

  server(name: string): DownstreamServer | undefined {
    return this.servers.find((s) => s.name === name);
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
  }
}
