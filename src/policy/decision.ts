import { Ajv } from 'ajv';

/** One reason a rule gives; `rule` is `<package tail>.<rule_name>`, e.g. `deploy.tests_first`. */
export interface Reason {
  rule: string;
  message: string;
  workflow?: string;
  step?: string;
  [extra: string]: unknown;
}

export interface ApprovalObligation {
  required: boolean;
  reason?: string;
  approvers?: string[];
  /** The policy's reasons that stand when the approval is not given: Warden's denial carries them. */
  reasons?: Reason[];
  [extra: string]: unknown;
}

/** The policy's answer for one call (entrypoint `mcp/decision`), after shape validation. */
export interface Decision {
  allow: boolean;
  reasons: Reason[];
  /** Would-deny reasons of rules running in per-rule monitor mode: logged, never enforced. */
  monitored: Reason[];
  obligations: { approval?: ApprovalObligation; audit?: { required: boolean }; [name: string]: unknown };
}

const REASON = {
  type: 'object',
  required: ['rule', 'message'],
  properties: {
    rule: { type: 'string', minLength: 1 },
    message: { type: 'string' },
    workflow: { type: 'string' },
    step: { type: 'string' },
  },
};

export const DECISION_SCHEMA = {
  type: 'object',
  required: ['allow'],
  properties: {
    allow: { type: 'boolean' },
    reasons: { type: 'array', items: REASON },
    monitored: { type: 'array', items: REASON },
    obligations: {
      type: 'object',
      properties: {
        approval: {
          type: 'object',
          required: ['required'],
          properties: {
            required: { type: 'boolean' },
            reason: { type: 'string' },
            approvers: { type: 'array', items: { type: 'string' } },
            reasons: { type: 'array', items: REASON },
          },
        },
        audit: { type: 'object', required: ['required'], properties: { required: { type: 'boolean' } } },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: false });
const validateDecision = ajv.compile(DECISION_SCHEMA);

/** Pure: checks the shape of what the policy returned. Returns the decision or a message naming what is wrong. */
export function readDecision(value: unknown): { ok: true; decision: Decision } | { ok: false; problem: string } {
  if (!validateDecision(value)) {
    const problems = (validateDecision.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
    return {
      ok: false,
      problem: `the decision does not have the expected shape (${problems.join('; ')}); got ${preview(value)}`,
    };
  }
  const v = value as Partial<Decision> & { allow: boolean };
  const decision: Decision = {
    allow: v.allow,
    reasons: v.reasons ?? [],
    monitored: v.monitored ?? [],
    obligations: v.obligations ?? {},
  };
  if (!decision.allow && decision.reasons.length === 0) {
    // A bare `allow: false` would reach the model as an unexplained refusal; name the policy as the source.
    decision.reasons = [{ rule: 'policy.default_deny', message: 'denied by policy (no reason given)' }];
  }
  return { ok: true, decision };
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
