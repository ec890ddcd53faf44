export type {
  AuditRecord,
  AuditQuery,
  AuditStore,
  AuditStoreOptions,
  ChainHead,
  ChainPoint,
  ChainState,
  ChainStore,
  Checkpoint,
  StoredRow,
  Tie,
} from './types.js';
export { openAuditStore } from './open-store.js';
export { liveRecords, mergedTrail, recordsAfter, READ_PAGE, trailOrder } from './read-after.js';
export { TrailFollower } from './trail-follower.js';
export type { TrailConsumer, TrailStart } from './trail-follower.js';
export { verifyChain } from './verify.js';
export { verifyStore } from './verify-store.js';
export type { StoreVerifyResult, TieFailure } from './verify-store.js';
export type { BaseAttestation, TamperKind, VerifyOptions, VerifyResult } from './verify.js';
export { createRedaction, createRedactor, applyMasks, parsePointer } from './redact.js';
export type { RedactorOptions, Mask } from './redact.js';
export { GENESIS_HASH, hashRecord } from './hash.js';
export { checkpointMessage, keyId } from './signing.js';
export type { CheckpointKind } from './signing.js';
export { archiveBefore, applyRetention, listArchives } from './retention.js';
export type { RetentionOptions, ArchiveResult } from './retention.js';
export { readArchive, recordLine } from './archive-file.js';
export type { ArchiveEntry, ArchiveHeader } from './archive-file.js';
export {
  approvalAnswered,
  approvalRequested,
  callCompleted,
  callDecided,
  callForwarded,
  callReceived,
  isTruncatedResult,
  readRecord,
  sessionClosed,
  sessionOpened,
  toolAccepted,
  toolChanged,
  toolPinned,
} from './records.js';
export type {
  ApprovalAnswer,
  ApprovalAnswered,
  ApprovalAnsweredData,
  ApprovalDenied,
  ApprovalGranted,
  ApprovalRequested,
  ApprovalRequestedData,
  ApprovalTimedOut,
  AuditEvent,
  AuditEventType,
  AuditRecordOf,
  CallCompleted,
  CallCompletedData,
  CallDecided,
  CallDecidedData,
  CallForwarded,
  CallForwardedData,
  CallReceived,
  CallReceivedData,
  ReadRecord,
  RefusedArguments,
  RecordMeta,
  RecordedCallKind,
  RecordedObligations,
  RecordedReason,
  SessionClosed,
  SessionClosedData,
  SessionOpened,
  SessionOpenedData,
  ToolAccepted,
  ToolAcceptedData,
  ToolChanged,
  ToolChangedData,
  ToolChangePolicy,
  ToolDefinition,
  ToolEvent,
  ToolFinding,
  ToolPinned,
  ToolPinnedData,
  TruncatedResult,
  UnknownRecord,
} from './records.js';
export { displayTime, formatRecordLine, previewJson, toCsvLine, csvHeader, parseTimeArg } from './format.js';
export { createDecisionLog, newDecisionId } from './decision-log.js';
export type { DecisionLogEvent, DecisionLogSink } from './decision-log.js';
export { DecisionLogUploader } from './decision-log-upload.js';
export type { DecisionLogUploadOptions, DecisionLogUploadStats } from './decision-log-upload.js';
