import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { serveStdio as serveModernStdio } from '@modelcontextprotocol/server/stdio';
import { createLogger, describeError, WardenError, type Logger } from '../common/index.js';
import { loadConfig, type WardenConfig } from '../config/index.js';
import { createWarden } from '../boot/index.js';
import { EraRouter, ModernRelay, scopeTicket, type Era, type Warden } from '../proxy/index.js';

export interface ServeOptions {
  config: string;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

/**
 * `warden serve` over stdio: stdout carries MCP, every log line goes to stderr.
 * Resolves when the client disconnects or a signal arrives.
 */
export async function serveStdio(options: ServeOptions): Promise<number> {
  const config = loadConfig(options.config);
  const logger = createLogger({ level: options.logLevel ?? config.log.level, format: config.log.format });
  let warden: Warden;
  try {
    warden = await createWarden(config, logger);
  } catch (err) {
    logger.error(describeError(err), err instanceof WardenError ? { code: err.code } : {});
    throw err;
  }
  const transport = new StdioServerTransport();
  let relay: ModernRelay | null = null;
  let failed = false;
  const done = new Promise<void>((resolve) => {
    const stop = (why: string): void => {
      logger.info('shutting down', { why });
      void Promise.resolve(relay?.close())
        .then(() => warden.close())
        .finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // The client closing our stdin ends the session.
    process.stdin.once('end', () => stop('stdin closed'));
    transport.onclose = () => stop('transport closed');
  });
  // The connection's first request decides its era (docs/protocol.md): a handshake-era session, or
  // 2026-07-28 requests served by the v2 SDK with the client process as their history scope.
  const router = new EraRouter(transport, (era: Era, first: JSONRPCMessage) => {
    if (era === 'modern') {
      relay = serveModern(router, warden, config, logger, first);
      return;
    }
    warden.openSession(router).then(
      (session) =>
        // A downstream server that cannot start fails the client's initialize (with the reason) and
        // ends this process: a client that spawned us has nothing else to talk to.
        session.ready.catch(() => {
          failed = true;
          transport.onclose?.();
        }),
      (err: unknown) => {
        logger.error(describeError(err));
        failed = true;
        transport.onclose?.();
      },
    );
  });
  try {
    await router.open();
    logger.info('warden listening on stdio', {
      servers: config.servers.map((s) => s.name),
      revision: warden.policy.revision,
      mode: config.policy.mode,
    });
  } catch (err) {
    await warden.close();
    throw err;
  }
  await done;
  return failed ? 1 : 0;
}

/**
 * Serves a stdio connection that opened with a 2026-07-28 request: the v2 SDK does the wire work,
 * the relay binds every request to one history scope (this client process, as Warden's identity).
 */
function serveModern(
  router: EraRouter,
  warden: Warden,
  config: WardenConfig,
  logger: Logger,
  first: JSONRPCMessage,
): ModernRelay {
  const relay = new ModernRelay({
    warden,
    logger,
    idleTimeoutMs: 0,
    stateKey: config.approval.stateKey,
    stateTtlMs: config.approval.timeoutMs,
  });
  const meta = (first as { params?: { _meta?: Record<string, unknown> } }).params?._meta ?? {};
  const ticket = scopeTicket(config.identity, meta, 'stdio');
  serveModernStdio(() => relay.serverFor(ticket), {
    legacy: 'reject',
    transport: router as never,
    onerror: (err) => logger.debug('2026-07-28 request refused or failed', { error: describeError(err) }),
  });
  logger.info('stdio connection speaks 2026-07-28');
  return relay;
}
