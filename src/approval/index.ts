export { ApprovalBroker, ApprovalError, mayApprove } from './broker.js';
export type { ApprovalRequest, PendingApproval, ApprovalResult, ApprovalOutcome, ApprovalChannel } from './broker.js';
export type { ApprovalVia, ApprovalRecords, RecordedApproval } from './broker.js';
