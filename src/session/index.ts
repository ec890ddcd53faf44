export { Session, argumentsDigest, historyEntry, summarizeResult } from './session.js';
export type { SessionOptions } from './session.js';
export type {
  Approval,
  CallKind,
  ClientInfo,
  HistoryEntry,
  InputDocument,
  Outcome,
  PendingCall,
  ToolSummary,
} from './types.js';
export { HistoryIndex, HISTORY_SCOPES, MAX_READ_LAST, readHistoryReads, scopeKeys, traceId } from './history-index.js';
export type { HistoryRead, HistoryScope, IndexedCall, ScopeKeys } from './history-index.js';
