export {
  WardenError,
  ConfigError,
  PolicyError,
  DownstreamError,
  AuditError,
  ReportError,
  ToolchainError,
  describeError,
} from './errors.js';
export { createLogger } from './logger.js';
export type { Logger, LogLevel } from './logger.js';
