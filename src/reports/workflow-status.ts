import type { PolicyRuntime } from '../policy/index.js';
import { HISTORY_SCOPES, type InputDocument, type PendingCall, type SessionOptions } from '../session/index.js';
import type { SessionRow } from './fold.js';
import { applyToSession, historySteps, sessionFromRow } from './history.js';

/** The read-only entrypoint that reports workflow progress (policy/mcp/workflow/status.rego). */
export const WORKFLOW_STATUS_ENTRYPOINT = 'mcp/workflow/status';

export interface StepState {
  tool: string;
  state: 'done' | 'pending' | 'blocked';
  must?: string;
  last_outcome?: string;
  waiting_for?: string[];
  rejected?: string[];
  approval?: boolean;
  mode?: string;
}

export interface WorkflowState {
  valid: boolean;
  errors: string[];
  description?: string;
  mode?: string;
  correlate?: string[];
  active: boolean;
  complete: boolean;
  subjects: { subject: Record<string, unknown>; label: string; complete: boolean; steps: StepState[] }[];
  restrictions: { after: string[]; then: string[]; tripped: boolean; mode?: string }[];
}

/** The policy's answer for one session, or why there is none. */
export type WorkflowStatus =
  | { available: true; revision: string; workflows: Record<string, WorkflowState> }
  | { available: false; revision: string; reason: string };

/**
 * Asks the active policy where a session stands in each workflow. Workflow logic lives in the
 * policy only: this reads `data.mcp.workflow.status` and checks its shape. A policy compiled
 * without that entrypoint, or one over its evaluation budget, gets `available: false` with a
 * reason the dashboard shows.
 */
export async function evaluateWorkflowStatus(
  policy: Pick<PolicyRuntime, 'evaluateEntrypoint'>,
  input: InputDocument,
  nowMs?: number,
): Promise<WorkflowStatus> {
  const r = await policy.evaluateEntrypoint(WORKFLOW_STATUS_ENTRYPOINT, inEveryScope(input), nowMs);
  if (!r.ok) {
    const reason =
      r.code === 'policy_entrypoint_missing'
        ? `the active policy${r.revision ? ` (revision ${r.revision})` : ''} does not define data.mcp.workflow.status, so workflow progress cannot be shown; the shipped policy/ does (policy/mcp/workflow/status.rego)`
        : r.message;
    return { available: false, revision: r.revision, reason };
  }
  const workflows = (r.result as { workflows?: unknown } | null)?.workflows;
  if (!workflows || typeof workflows !== 'object' || Array.isArray(workflows)) {
    return {
      available: false,
      revision: r.revision,
      reason: `data.mcp.workflow.status has no workflows object (revision ${r.revision})`,
    };
  }
  return { available: true, revision: r.revision, workflows: workflows as Record<string, WorkflowState> };
}

/**
 * The status is one session's view: its own calls count for a workflow whatever the workflow's
 * history scope (a trace, principal or global workflow shows how far this session took it), so
 * each of its entries is given once per scope.
 */
function inEveryScope(input: InputDocument): InputDocument {
  const history = (input.history ?? []).flatMap((entry) => HISTORY_SCOPES.map((scope) => ({ ...entry, scope })));
  return { ...input, history };
}

const NEUTRAL_CALL: PendingCall = { kind: 'tool', server: '', tool: '', name: '', arguments: {}, annotations: {} };

/**
 * Rebuilds a recorded session's input document from the audit trail: its approvals and settled
 * calls, in the order of their records, with their outcomes (and small results), through the core
 * `Session`, so history and summary are shaped as they were for the live session (replay rebuilds
 * sessions the same way). Arguments longer than the index keeps are missing, which only matters
 * if a workflow correlates on them.
 */
export function inputFromRecords(row: SessionRow, options: SessionOptions, nowMs: number = Date.now()): InputDocument {
  const session = sessionFromRow(row, options);
  for (const step of historySteps(row)) applyToSession(session, step);
  return session.buildInput(NEUTRAL_CALL, nowMs);
}
