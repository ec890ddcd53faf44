export { DownstreamServer } from './server.js';
export type { RawTool, ServerStatus, RequestOptions, DownstreamServerHooks } from './server.js';
export { DownstreamPool } from './pool.js';
export type { ToolRoute, PoolHooks } from './pool.js';
