export { loadConfig, parseConfig, CONFIG_SCHEMA, SHIPPED_POLICY } from './load.js';
export { expandEnv } from './env.js';
export type { WardenConfig, ServerConfig, StdioServerConfig, HttpServerConfig, Principal, HttpConfig, AuthConfig, BearerToken, PolicyBundleConfig, PolicyVerificationConfig, DecisionLogServiceConfig } from './types.js';
