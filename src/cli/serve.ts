import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createLogger, describeError, WardenError } from '../common/index.js';
import { loadConfig } from '../config/index.js';
import { Warden } from '../proxy/index.js';

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
    warden = await Warden.create(config, logger);
  } catch (err) {
    logger.error(describeError(err), err instanceof WardenError ? { code: err.code } : {});
    throw err;
  }
  const transport = new StdioServerTransport();
  const done = new Promise<void>((resolve) => {
    const stop = (why: string): void => {
      logger.info('shutting down', { why });
      void warden.close().finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // The client closing our stdin ends the session.
    process.stdin.once('end', () => stop('stdin closed'));
    transport.onclose = () => stop('transport closed');
  });
  let failed = false;
  try {
    const session = await warden.openSession(transport);
    logger.info('warden listening on stdio', {
      servers: config.servers.map((s) => s.name),
      revision: warden.policy.revision,
      mode: config.policy.mode,
    });
    // A downstream server that cannot start fails the client's initialize (with the reason) and
    // ends this process: a client that spawned us has nothing else to talk to.
    session.ready.catch(() => {
      failed = true;
      transport.onclose?.();
    });
  } catch (err) {
    await warden.close();
    throw err;
  }
  await done;
  return failed ? 1 : 0;
}
