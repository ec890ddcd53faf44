export { startHttpServer } from './front.js';
export type { HttpServerOptions, HttpServerHandle } from './front.js';
export { createAuthenticator, assertAuthAllowsHost, isLoopback } from './auth.js';
export type { Authenticator, AuthResult, AuthFailure } from './auth.js';
export { createOriginGuard } from './guard.js';
export type { OriginGuard } from './guard.js';
export { WardenMetrics } from './metrics.js';
export type { MetricsSource } from './metrics.js';
