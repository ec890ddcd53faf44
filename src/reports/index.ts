export { AuditFold } from './fold.js';
export type {
  ApprovalRow,
  CallRow,
  CompletedRow,
  DecisionRow,
  FoldOptions,
  FoldStep,
  SessionRow,
  Settlement,
} from './fold.js';
export { AuditView, isViolationRule, summarize } from './audit-view.js';
export type { CallOutcome, CallSummary, ReasonRow } from './audit-view.js';
export { applyToSession, historySteps, pendingCall, sessionFromRow } from './history.js';
export { buildSessionReport, buildSessionReports, formatSessionReport } from './session-report.js';
export type { ApprovalTrace, CallTrace, SessionReport } from './session-report.js';
export { evaluateWorkflowStatus, inputFromRecords, WORKFLOW_STATUS_ENTRYPOINT } from './workflow-status.js';
export type { StepState, WorkflowState, WorkflowStatus } from './workflow-status.js';
export {
  autoBucket,
  BUCKETS,
  complianceReport,
  complianceWindow,
  computeCompliance,
  violationRules,
} from './compliance.js';
export type { ComplianceOptions, ComplianceQuery, ComplianceReport, Counted, SessionState } from './compliance.js';
export { formatComplianceReport } from './compliance-text.js';
export { newVerdict, recordedVerdict, replayRecords } from './replay.js';
export type { ReplayChange, ReplayOptions, ReplayPolicy, ReplayReport, ReplayVerdict } from './replay.js';
export { declaredReads, HistoryModel, HistoryService, HISTORY_READS_ENTRYPOINT } from './history-service.js';
export type { HistoryServiceOptions } from './history-service.js';
export { ApprovalLedger } from './approval-ledger.js';
export type { ApprovalLedgerOptions } from './approval-ledger.js';
export { acceptOffered, definitionDiff, ToolPinLedger } from './tool-pins.js';
export type { AcceptedDefinition, FieldChange, PinStatus, RecordedDefinition, ToolPin } from './tool-pins.js';
