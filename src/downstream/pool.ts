import type { ClientCapabilities, Notification, ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { DownstreamError, type Logger } from '../common/index.js';
import type { ServerConfig } from '../config/index.js';
import { DownstreamServer, type RawTool, type RequestOptions } from './server.js';
import { compileUriTemplate, type UriTemplateMatcher } from './uri-template.js';

export interface ToolRoute {
  server: DownstreamServer;
  /** The downstream's own name. */
  tool: string;
  /** What the client sees: the tool exactly as the server described it, with the prefixed name. */
  descriptor: RawTool;
}

export interface PoolHooks {
  /** The aggregated tool catalogue changed: `server`'s tools (after list_changed or a restart). */
  onToolsChanged?(server: string): void;
  onServerExit?(server: string, detail: string): void;
  onNotification?(server: string, notification: Notification): void;
  /** A server-to-client request (sampling, elicitation, roots) to relay upstream. */
  onRequest?(
    server: string,
    request: { method: string; params?: Record<string, unknown> },
    signal: AbortSignal,
  ): Promise<Record<string, unknown>>;
}

/** The lists Warden pages through across servers. */
export type ListKind = 'resources' | 'resourceTemplates' | 'prompts';

const LIST: Record<ListKind, { method: string; field: string; capability: 'resources' | 'prompts' }> = {
  resources: { method: 'resources/list', field: 'resources', capability: 'resources' },
  resourceTemplates: { method: 'resources/templates/list', field: 'resourceTemplates', capability: 'resources' },
  prompts: { method: 'prompts/list', field: 'prompts', capability: 'prompts' },
};

/**
 * Every configured downstream server, connected at start, with one aggregated catalogue.
 * Names pass through unchanged unless a server sets `prefix`; two servers offering one name is an
 * error naming both (at start), or a warning that keeps the first (after a later list_changed).
 */
export class DownstreamPool {
  readonly servers: DownstreamServer[];
  private routes = new Map<string, ToolRoute>();
  private catalogue: RawTool[] = [];
  private readonly resourceOwners = new Map<string, DownstreamServer>();
  private readonly templateOwners = new Map<string, { server: DownstreamServer; matcher: UriTemplateMatcher }>();
  private readonly promptRoutes = new Map<string, { server: DownstreamServer; name: string }>();

  constructor(
    configs: readonly ServerConfig[],
    private readonly options: {
      clientInfo: { name: string; version: string };
      capabilities: ClientCapabilities;
      logger: Logger;
      hooks?: PoolHooks;
    },
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
            onToolsChanged: (server) => {
              this.aggregate(false);
              hooks.onToolsChanged?.(server.name);
            },
            onNotification: (server, n) => hooks.onNotification?.(server.name, n),
            ...(hooks.onRequest
              ? {
                  onRequest: (
                    server: DownstreamServer,
                    request: { method: string; params?: Record<string, unknown> },
                    signal: AbortSignal,
                  ) => hooks.onRequest!(server.name, request, signal),
                }
              : {}),
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

  /**
   * What Warden offers its client: tools and logging always (Warden speaks through logging
   * itself), resources / prompts / completions when at least one server offers them.
   */
  capabilities(): ServerCapabilities {
    const caps: ServerCapabilities = { tools: { listChanged: true }, logging: {} };
    const offered = this.servers.map((s) => s.serverCapabilities ?? {});
    if (offered.some((c) => c.resources))
      caps.resources = {
        listChanged: true,
        ...(offered.some((c) => c.resources?.subscribe) ? { subscribe: true } : {}),
      };
    if (offered.some((c) => c.prompts)) caps.prompts = { listChanged: true };
    if (offered.some((c) => c.completions)) caps.completions = {};
    return caps;
  }

  /**
   * One page of an aggregated list. The cursor Warden hands out names the server and that
   * server's own cursor, so a client pages through every server's pages in turn.
   */
  async listPage(
    kind: ListKind,
    cursor: string | undefined,
    options: RequestOptions = {},
  ): Promise<Record<string, unknown>> {
    return (await this.listPageFrom(kind, cursor, options)).page;
  }

  /** {@link listPage}, with the name of the server the page came from (null: no server offers any). */
  async listPageFrom(
    kind: ListKind,
    cursor: string | undefined,
    options: RequestOptions = {},
  ): Promise<{ page: Record<string, unknown>; server: string | null }> {
    const spec = LIST[kind];
    let position = decodeCursor(cursor);
    for (let i = position.server; i < this.servers.length; i++) {
      const server = this.servers[i]!;
      if (!server.serverCapabilities?.[spec.capability]) continue;
      const downstreamCursor = i === position.server ? position.cursor : undefined;
      const page = await server.request(spec.method, downstreamCursor ? { cursor: downstreamCursor } : {}, options);
      const items = ((page[spec.field] as Record<string, unknown>[] | undefined) ?? []).map((item) =>
        this.learn(kind, server, item),
      );
      const next =
        typeof page['nextCursor'] === 'string'
          ? encodeCursor({ server: i, cursor: page['nextCursor'] })
          : this.nextServerCursor(i, spec.capability);
      if (items.length === 0 && next !== undefined) {
        position = decodeCursor(next);
        i = position.server - 1;
        continue;
      }
      const { nextCursor: _drop, [spec.field]: _items, ...rest } = page;
      const merged = { ...rest, [spec.field]: items, ...(next !== undefined ? { nextCursor: next } : {}) };
      return { page: merged, server: server.name };
    }
    return { page: { [spec.field]: [] }, server: null };
  }

  private nextServerCursor(after: number, capability: 'resources' | 'prompts'): string | undefined {
    for (let j = after + 1; j < this.servers.length; j++) {
      if (this.servers[j]!.serverCapabilities?.[capability]) return encodeCursor({ server: j });
    }
    return undefined;
  }

  private learn(kind: ListKind, server: DownstreamServer, item: Record<string, unknown>): Record<string, unknown> {
    if (kind === 'resources' && typeof item['uri'] === 'string') this.resourceOwners.set(item['uri'], server);
    if (kind === 'resourceTemplates' && typeof item['uriTemplate'] === 'string') {
      this.templateOwners.set(item['uriTemplate'], { server, matcher: compileUriTemplate(item['uriTemplate']) });
    }
    if (kind === 'prompts' && typeof item['name'] === 'string') {
      const name = `${server.config.prefix}${item['name']}`;
      this.promptRoutes.set(name, { server, name: item['name'] });
      return name === item['name'] ? item : { ...item, name };
    }
    return item;
  }

  /** The server that owns a prompt name (as the client sees it). */
  resolvePrompt(name: string): { server: DownstreamServer; name: string } | undefined {
    const known = this.promptRoutes.get(name);
    if (known) return known;
    // Not listed yet: a unique server whose prefix matches and which offers prompts.
    const candidates = this.servers.filter((s) => s.serverCapabilities?.prompts && name.startsWith(s.config.prefix));
    const longest = Math.max(-1, ...candidates.map((s) => s.config.prefix.length));
    const best = candidates.filter((s) => s.config.prefix.length === longest);
    return best.length === 1 ? { server: best[0]!, name: name.slice(longest) } : undefined;
  }

  /**
   * The server that owns a resource URI: listed resources, then templates (first read as the SDK
   * reads them, then loosely: see {@link UriTemplateMatcher.matches}), then the only resource server.
   * Each template match is linear in the URI's length; the proxy caps that length before routing.
   */
  resolveResource(uri: string): DownstreamServer | undefined {
    const known = this.resourceOwners.get(uri);
    if (known) return known;
    for (const mode of ['strict', 'loose'] as const) {
      for (const { server, matcher } of this.templateOwners.values()) if (matcher.matches(uri, mode)) return server;
    }
    const withResources = this.servers.filter((s) => s.serverCapabilities?.resources);
    return withResources.length === 1 ? withResources[0] : undefined;
  }

  /** Servers offering a capability (for fan-out such as logging/setLevel and roots changes). */
  offering(capability: keyof ServerCapabilities): DownstreamServer[] {
    return this.servers.filter((s) => s.serverCapabilities?.[capability]);
  }

  server(name: string): DownstreamServer | undefined {
    return this.servers.find((s) => s.name === name);
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
  }
}

function encodeCursor(position: { server: number; cursor?: string }): string {
  return Buffer.from(
    JSON.stringify(position.cursor === undefined ? { s: position.server } : { s: position.server, c: position.cursor }),
  ).toString('base64url');
}

function decodeCursor(cursor: string | undefined): { server: number; cursor?: string } {
  if (cursor === undefined) return { server: 0 };
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s?: unknown; c?: unknown };
    if (typeof value.s === 'number' && Number.isInteger(value.s) && value.s >= 0)
      return { server: value.s, ...(typeof value.c === 'string' ? { cursor: value.c } : {}) };
  } catch {
    // fall through
  }
  throw new McpError(ErrorCode.InvalidParams, `Invalid cursor: ${cursor}`);
}
