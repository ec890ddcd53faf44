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
export { JsonRpcErrorCode, WardenErrorCode } from './error-codes.js';
export { deferred } from './deferred.js';
export { Listeners } from './listeners.js';
export type { Deferred } from './deferred.js';
export { createLogger } from './logger.js';
export type { Logger, LogLevel } from './logger.js';
export { canonicalJson, compactJson, copyJson, documentJson, JsonShapeError, measureJson, setOwn } from './json.js';
export type { JsonMeasure } from './json.js';
