export { Session, argumentsDigest, summarizeResult } from './session.js';
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
