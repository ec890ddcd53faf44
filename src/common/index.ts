export {
  WardenError,
  ConfigError,
  PolicyError,
  DownstreamError,
  AuditError,
  ToolchainError,
  describeError,
} from './errors.js';
export { createLogger } from './logger.js';
export type { Logger, LogLevel } from './logger.js';
