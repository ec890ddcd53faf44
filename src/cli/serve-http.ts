import { createLogger, describeError, WardenError } from '../common/index.js';
import { loadConfig } from '../config/index.js';
import { startHttpServer } from '../http/index.js';

export interface ServeHttpOptions {
  config: string;
  /** 0 picks a free port; the bound one is in the 'warden serving on http' log line. */
  port: number;
  host?: string;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

/**
 * `warden serve --http PORT`: Streamable HTTP at /mcp, plus /healthz, /readyz and /metrics.
 * Logs go to stderr. Resolves on SIGINT or SIGTERM, after every session and its downstream
 * servers have been closed.
 */
export async function serveHttp(options: ServeHttpOptions): Promise<number> {
  const config = loadConfig(options.config);
  const logger = createLogger({ level: options.logLevel ?? config.log.level, format: config.log.format });
  let front;
  try {
    front = await startHttpServer({
      config,
      logger,
      port: options.port,
      ...(options.host ? { host: options.host } : {}),
    });
  } catch (err) {
    logger.error(describeError(err), err instanceof WardenError ? { code: err.code } : {});
    throw err;
  }
  logger.info('warden serving on http', {
    url: `${front.url}/mcp`,
    host: front.host,
    port: front.port,
    auth: config.auth.type,
    servers: config.servers.map((s) => s.name),
    revision: front.warden.policy.revision,
    mode: config.policy.mode,
  });
  await new Promise<void>((resolve) => {
    const stop = (why: string): void => {
      logger.info('shutting down', { why, sessions: front.sessionCount });
      void front.close().finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
