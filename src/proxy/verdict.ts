import type { Evaluation, Reason } from '../policy/index.js';

/** The verdict Warden enforces for one call, derived from the policy's decision, the mode and obligations. */
export interface Verdict {
  allow: boolean;
  /** Reasons given to the client when denied (policy reasons plus Warden's own for unmet obligations). */
  reasons: Reason[];
  /** Reasons that would have denied but were not enforced (monitor mode, per-rule monitor). */
  wouldDeny: Reason[];
  approvalRequired: boolean;
  auditRequired: boolean;
}

/**
 * Pure: applies `policy.mode` and the decision's obligations. In monitor mode every call is
 * allowed and the real decision is kept for the logs (envoy's dry-run). An approval obligation
 * that no approval channel can meet denies, with a reason saying how approval is obtained.
 */
export function settleVerdict(evaluation: Evaluation, mode: 'enforce' | 'monitor', approvalHint: string): Verdict {
  const d = evaluation.decision;
  const approval = d.obligations.approval;
  const approvalRequired = approval?.required === true;
  const auditRequired = d.obligations.audit?.required === true;
  const reasons: Reason[] = [...d.reasons];
  if (d.allow && approvalRequired) {
    const who = approval.approvers?.length ? ` by one of: ${approval.approvers.join(', ')}` : '';
    reasons.push({
      rule: 'warden.approval_required',
      message: `approval required${who}${approval.reason ? ` (${approval.reason})` : ''}. ${approvalHint}`,
    });
  }
  const policyDenies = !d.allow || approvalRequired;
  if (mode === 'monitor') {
    return {
      allow: true,
      reasons: [],
      wouldDeny: [...(policyDenies ? reasons : []), ...d.monitored],
      approvalRequired,
      auditRequired,
    };
  }
  return {
    allow: !policyDenies,
    reasons: policyDenies ? reasons : [],
    wouldDeny: d.monitored,
    approvalRequired,
    auditRequired,
  };
}

/** The text a denied tool call returns, so the model can read why and correct itself. */
export function denialText(name: string, reasons: readonly Reason[]): string {
  const lines = reasons.map((r) => `- ${r.message} [${r.rule}]`);
  return `Warden denied the call to ${name}:\n${lines.join('\n')}`;
}
