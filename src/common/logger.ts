import winston from 'winston';

/** Structured logger used across Warden. Lines about a call carry `decision_id`. */
export type Logger = winston.Logger;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * Human-facing log: JSON lines (or plain text with `format: 'text'`) on stderr.
 * Never stdout: in stdio mode stdout is the MCP protocol stream.
 */
export function createLogger(options: { level?: LogLevel; format?: 'json' | 'text'; silent?: boolean } = {}): Logger {
  const format =
    options.format === 'text'
      ? winston.format.combine(
          winston.format.timestamp(),
          winston.format.printf(({ level, message, timestamp, ...fields }) => {
            const extra = Object.keys(fields).length ? ' ' + JSON.stringify(fields) : '';
            return `${String(timestamp)} ${level} ${String(message)}${extra}`;
          }),
        )
      : winston.format.combine(winston.format.timestamp(), winston.format.json());
  return winston.createLogger({
    level: options.level ?? 'info',
    silent: options.silent ?? false,
    format,
    transports: [
      new winston.transports.Console({
        // Every level to stderr: stdout belongs to the protocol.
        stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'],
      }),
    ],
  });
}
