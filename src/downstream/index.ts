export { DownstreamServer } from './server.js';
export type { RawTool, ServerStatus, ServerEra, RequestOptions, DownstreamServerHooks } from './server.js';
export { OrderedTransport } from './ordered-transport.js';
export { DownstreamPool } from './pool.js';
export type { ToolRoute, PoolHooks, ListKind } from './pool.js';
export { compileUriTemplate } from './uri-template.js';
export type { MatchMeter, TemplateMatchMode, UriTemplateMatcher } from './uri-template.js';
