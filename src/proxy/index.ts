export { Warden, WARDEN_NAME, WARDEN_VERSION } from './warden.js';
export type { ProxySession, LiveSessionState, SessionEvent, WardenParts } from './warden.js';
export { CallPipeline } from './pipeline.js';
export { composeObservers } from './observers.js';
export type { ForwardContext, PipelineOptions, PipelineOutcome } from './pipeline.js';
export { createProxyServer, DECISION_META_KEY, ROUND_META_KEY } from './server.js';
export { settleVerdict, denialText } from './verdict.js';
export type { Verdict } from './verdict.js';
export type {
  AuditPort,
  DecisionLogPort,
  PolicyPort,
  PipelineObserver,
  HistoryPort,
  GrantPort,
  ApprovalGrant,
  DecisionInfo,
  CompletionInfo,
  PinPort,
  ToolChangeInfo,
  CallTracer,
  CallSpan,
  CallStep,
  SpanValue,
} from './ports.js';
export { NO_TRACING } from './ports.js';
export { checkArguments, DEFAULT_ARGUMENT_LIMITS } from './argument-limits.js';
export type { ArgumentLimits, ArgumentsRefusal, ArgumentsSummary } from './argument-limits.js';
export { MODERN_PROTOCOL_VERSION, ModernRelay, scopeTicket } from './modern-relay.js';
export type { ModernRelayOptions, ScopeTicket } from './modern-relay.js';
export { EraRouter } from './era-router.js';
export { ListFilter, VISIBLE_ENTRYPOINT, visibilityInput, readVisible } from './visibility.js';
export type { ListItemKind, ListPage, VisibilityInput, VisibilityItem, VisibilityPort } from './visibility.js';
export type { Era } from './era-router.js';
export { DEFINITION_ENTRYPOINT, definitionDigest, toolDefinition, ToolPinning } from './tool-pinning.js';
export type { PinRecords, PinState, ToolPinningOptions } from './tool-pinning.js';
