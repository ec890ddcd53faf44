export {
  loadConfig,
  parseConfig,
  CONFIG_SCHEMA,
  defaultInstance,
  DEFAULT_BUNDLE_LIMITS,
  DEFAULT_ENTRYPOINT,
  SESSION_DEFAULTS,
  SHIPPED_POLICY,
} from './load.js';
export { expandEnv } from './env.js';
export type {
  WardenConfig,
  ServerConfig,
  StdioServerConfig,
  HttpServerConfig,
  Principal,
  HttpConfig,
  AuthConfig,
  BearerToken,
  PolicyBundleConfig,
  PolicyVerificationConfig,
  DecisionLogServiceConfig,
  TelemetryConfig,
  BundleLimits,
} from './types.js';
