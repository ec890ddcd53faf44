import { createHash } from 'node:crypto';
import {
  approvalAnswered,
  approvalRequested,
  callCompleted,
  callDecided,
  callForwarded,
  callReceived,
  type AuditEvent,
  type CallCompletedData,
  type CallDecided,
  type CallReceived,
  type DecisionLogEvent,
  type RefusedArguments,
  type TruncatedResult,
} from '../audit/index.js';
import { compactJson, describeError, type Logger } from '../common/index.js';
import type { ApprovalChannel, ApprovalRequest, ApprovalResult } from '../approval/index.js';
import { failClosed, type Evaluation, type Reason } from '../policy/index.js';
import { traceId, type InputDocument, type Outcome, type PendingCall, type Session } from '../session/index.js';
import {
  checkArguments,
  DEFAULT_ARGUMENT_LIMITS,
  type ArgumentLimits,
  type ArgumentsRefusal,
} from './argument-limits.js';
import {
  NO_TRACING,
  type ApprovalGrant,
  type AuditPort,
  type CallSpan,
  type CallTracer,
  type DecisionLogPort,
  type GrantPort,
  type HistoryPort,
  type PinPort,
  type PipelineObserver,
  type PolicyPort,
  type SpanValue,
} from './ports.js';
import {
  readResultDecision,
  redactResult,
  RESULT_ENTRYPOINT,
  resultTexts,
  type ResultDecision,
} from './result-inspection.js';
import { settleVerdict, type Verdict } from './verdict.js';

export interface PipelineOptions {
  policy: PolicyPort;
  mode: 'enforce' | 'monitor';
  audit: AuditPort;
  auditOnFailure: 'deny' | 'allow';
  decisionLog: DecisionLogPort;
  observer?: PipelineObserver;
  /** A span per call, with its steps as children (default {@link NO_TRACING}: none). */
  tracer?: CallTracer;
  labels: { id: string; version: string };
  bundleName: () => string;
  logger: Logger;
  /** Results kept in the audit trail are cut to this many characters. */
  auditResultMaxChars: number;
  /** Arguments nested deeper or larger are refused before the policy runs (default {@link DEFAULT_ARGUMENT_LIMITS}). */
  argumentLimits?: ArgumentLimits;
  /** The audit redaction: for what approvers see (admin API, events, elicitation) and a refused call's digest. */
  redactArguments?: (args: Record<string, unknown>) => Record<string, unknown>;
  /** The history the policy declared it reads; without it, every input carries the session's window. */
  history?: HistoryPort;
  /** Approvals left pending and answered since, which one retry of the same call may spend. */
  grants?: GrantPort;
  /** Pinned tool definitions: a tool call whose definition is not the accepted one is refused. */
  pins?: PinPort;
  /** The approval gate: holds calls whose decision carries an approval obligation. */
  approvals: { request(request: ApprovalRequest, channel: ApprovalChannel): Promise<ApprovalResult> };
  newId: () => string;
  now?: () => number;
}

/** What the pipeline hands the forward: the downstream step's W3C traceparent, when the call is traced. */
export interface ForwardContext {
  traceparent?: string;
}

export type PipelineOutcome =
  /** `pendingApproval`: the id of the approval left pending for a retry (`warden.approval_pending`). */
  | { kind: 'denied'; decisionId: string; reasons: Reason[]; pendingApproval?: string }
  | { kind: 'completed'; decisionId: string; outcome: 'success' | 'error'; result: Record<string, unknown> }
  /** The call ran, and the result policy denied its result: the client gets the rules, not the content. */
  | { kind: 'withheld'; decisionId: string; reasons: Reason[] }
  /** The forward threw (downstream error, timeout, crash); recorded as outcome `error`. */
  | { kind: 'failed'; decisionId: string; error: unknown }
  /** The call ran but its outcome could not be recorded durably, and onFailure is deny: the result is withheld. */
  | { kind: 'unrecorded'; decisionId: string; error: string };

/**
 * The call pipeline: input document -> policy -> verdict -> records -> forward -> outcome -> records.
 * No I/O of its own: policy, audit, decision log and the forward are ports.
 * Acknowledgement rule: a denial is stored before it is returned, a completion before its result.
 */
export class CallPipeline {
  private readonly now: () => number;

  constructor(private readonly options: PipelineOptions) {
    this.now = options.now ?? Date.now;
  }

  async run(
    session: Session,
    call: PendingCall,
    forward: (context: ForwardContext) => Promise<Record<string, unknown>>,
    channel: ApprovalChannel = {},
    descriptor?: { name: string; [field: string]: unknown },
  ): Promise<PipelineOutcome> {
    const span = (this.options.tracer ?? NO_TRACING).startCall(call);
    span.set({ 'warden.principal.scopes': scopesOf(session.principal.claims) });
    try {
      const outcome = await this.runIn(span, session, call, forward, channel, descriptor);
      span.end(spanOutcome(outcome));
      return outcome;
    } catch (err) {
      span.end('error');
      throw err;
    }
  }

  private async runIn(
    span: CallSpan,
    session: Session,
    call: PendingCall,
    forward: (context: ForwardContext) => Promise<Record<string, unknown>>,
    channel: ApprovalChannel,
    descriptor: { name: string; [field: string]: unknown } | undefined,
  ): Promise<PipelineOutcome> {
    const o = this.options;
    const started = this.now();
    const callId = o.newId();
    const ref = { kind: call.kind, server: call.server, name: call.name };
    const refusal = checkArguments(call.arguments, o.argumentLimits ?? DEFAULT_ARGUMENT_LIMITS, this.redactArguments);
    if (refusal) return this.refuse(span, session, call, callId, started, refusal);
    // A tool whose definition changed (or is suspicious) is held until an admin accepts it.
    const unpinned = descriptor && o.pins ? await o.pins.check(call.server, call.tool, descriptor) : null;
    if (unpinned) return this.refuse(span, session, call, callId, started, { reason: unpinned });

    const first = await this.decide(span, session, call, callId, callId, started);
    let { decisionId, evaluation, verdict, input: decisionInput } = first;
    // One commit before the call leaves: its received and decided records and, when the policy lets
    // it straight through, its forwarded record, all durable or none, awaited before it is forwarded.
    const straight = verdict.allow && !this.holds(evaluation, verdict);
    const leaving = callForwarded(session.id, { call_id: callId, server: call.server });
    const received = this.appendAll(span, [
      receivedRecord(session.id, call, callId, started, span.traceId),
      first.record,
      ...(straight ? [leaving] : []),
    ]);
    let decided = received;
    let argumentsDigest: string | undefined;
    const digestOf = (): string => (argumentsDigest ??= session.digest(call.arguments));
    let pending: { id: string } | undefined;

    const deny = (reasons: Reason[]): PipelineOutcome => {
      // With the call id: an approval this call was given but never used lapses here.
      session.record(call, 'deny', 'denied', null, started, this.now() - started, callId);
      this.completed(decisionId, session.id, ref, 'denied', started);
      return { kind: 'denied', decisionId, reasons, ...(pending ? { pendingApproval: pending.id } : {}) };
    };
    // Unrecorded calls are not forwarded when audit.onFailure is deny or the policy demands a record.
    const auditUnavailable = (error: string): PipelineOutcome => {
      const why = verdict.auditRequired
        ? 'the policy requires an audit record for this call'
        : 'audit.onFailure is deny';
      o.logger.error('audit trail unavailable: call denied', {
        decision_id: decisionId,
        error,
        audit_required: verdict.auditRequired,
      });
      return deny([
        {
          rule: 'warden.audit_unavailable',
          message: `the audit trail could not record this call, and ${why}: ${error}`,
        },
      ]);
    };
    const blocks = (): boolean => o.auditOnFailure === 'deny' || verdict.auditRequired;

    // Held for approval: a person answers (or not), then the policy decides again with the
    // approval in input.approvals, bound to this call (its id, tool, arguments digest and
    // principal): no other call's decision sees it. One round: a policy that still asks denies.
    // An approval given since for an identical earlier call that was left pending: this retry
    // may spend it (exactly once, whichever replica it reaches).
    let grant: ApprovalGrant | undefined;
    if (this.holds(evaluation, verdict)) grant = await o.grants?.usable(session.principal.sub, call.name, digestOf());
    if (grant) {
      session.approve({
        tool: call.name,
        by: grant.by,
        at: grant.at,
        ...(grant.comment ? { comment: grant.comment } : {}),
        call_id: callId,
        arguments_digest: digestOf(),
        principal: session.principal.sub,
      });
      const redecided = await this.decide(span, session, call, callId, o.newId(), this.now());
      ({ decisionId, evaluation, verdict, input: decisionInput } = redecided);
      decided = Promise.all([decided, this.append(span, redecided.record)]);
      if (verdict.approvalRequired) verdict = insufficient(verdict, call.name, grant.by);
    } else if (this.holds(evaluation, verdict)) {
      // Held for approval: a person answers (or not), then the policy decides again with the
      // approval in input.approvals, bound to this call (its id, tool, arguments digest and
      // principal): no other call's decision sees it. One round: a policy that still asks denies.
      const obligation = evaluation.decision.obligations.approval!;
      const request = {
        id: callId,
        session_id: session.id,
        principal: { sub: session.principal.sub, roles: session.principal.roles },
        call: { server: call.server, name: call.name, arguments: this.redactArguments(call.arguments) },
        ...(obligation.reason ? { reason: obligation.reason } : {}),
        approvers: obligation.approvers ?? [],
        allow_self_approval: obligation['allow_self_approval'] === true,
      };
      const asked = this.append(
        span,
        approvalRequested(session.id, {
          call_id: callId,
          name: call.name,
          approvers: request.approvers,
          reason: obligation.reason ?? null,
          arguments_digest: digestOf(),
        }),
      );
      const recordedHold = await settled(Promise.all([received, decided, asked]));
      // Nobody is asked to approve a call that could not be forwarded anyway.
      if (!recordedHold.ok && blocks()) return auditUnavailable(recordedHold.error);
      const answer = await span.step('approval', () => o.approvals.request(request, channel));
      if (answer.outcome === 'pending') {
        // Left open in the trail: an approver answers it on any replica, and a retry spends it.
        pending = { id: callId };
        const reasons = [{ rule: 'warden.approval_pending', message: answer.message }, ...(obligation.reasons ?? [])];
        verdict = { ...verdict, allow: false, reasons };
        decided = Promise.all([
          decided,
          this.append(span, pendingRecord(session.id, callId, o.newId(), evaluation, o.mode, reasons, this.now())),
        ]);
      } else {
        // approval.granted, .denied or .timed_out, by the answer's outcome (granted is outcome approved);
        // an answer another replica took is in the trail already.
        const answered = answer.recorded
          ? Promise.resolve()
          : this.append(
              span,
              approvalAnswered(session.id, {
                call_id: callId,
                outcome: answer.outcome,
                by: answer.by ?? null,
                via: answer.via ?? null,
                comment: answer.comment ?? null,
              }),
            );
        if (answer.granted) {
          session.approve({
            tool: call.name,
            by: answer.by ?? 'unknown',
            at: answer.at,
            ...(answer.comment ? { comment: answer.comment } : {}),
            call_id: callId,
            arguments_digest: digestOf(),
            principal: session.principal.sub,
          });
          const redecided = await this.decide(span, session, call, callId, o.newId(), this.now());
          ({ decisionId, evaluation, verdict, input: decisionInput } = redecided);
          decided = Promise.all([decided, this.append(span, redecided.record)]);
          if (verdict.approvalRequired) verdict = insufficient(verdict, call.name, answer.by ?? 'unknown');
        } else {
          verdict = {
            ...verdict,
            allow: false,
            reasons: [
              { rule: 'warden.approval_required', message: `approval required: ${answer.message}` },
              ...(obligation.reasons ?? []),
            ],
          };
        }
        decided = Promise.all([decided, answered]);
      }
    }
    const recordedDecision = await settled(Promise.all([received, decided]));

    if (!verdict.allow) {
      // The denial stands either way; say loudly when it is missing from the trail.
      if (!recordedDecision.ok)
        o.logger.error('audit trail could not record a denial', {
          decision_id: decisionId,
          error: recordedDecision.error,
        });
      return deny(verdict.reasons);
    }
    if (!recordedDecision.ok && blocks()) return auditUnavailable(recordedDecision.error);
    if (!recordedDecision.ok)
      o.logger.error('audit trail could not record a call; forwarding because audit.onFailure is allow', {
        decision_id: decisionId,
        error: recordedDecision.error,
      });

    // A pending approval's grant lets one call through: the store says which one, across replicas.
    if (grant && !(await o.grants!.spend(grant.id))) {
      return deny([
        {
          rule: 'warden.approval_spent',
          message: `the approval of ${grant.id} for ${call.name} was just used by another call; retry to ask for a new one`,
        },
      ]);
    }
    // The approval is used up as the call leaves, not when it returns: a call decided while this
    // one runs downstream cannot count it as unused.
    session.consume(callId);
    // Recorded with the decision when it went straight through (and that commit succeeded).
    const forwarded =
      straight && recordedDecision.ok
        ? Promise.resolve()
        : this.append(span, grant ? callForwarded(session.id, { ...leaving.data, approval_of: grant.id }) : leaving);
    let result: Record<string, unknown> | undefined;
    let failure: unknown;
    try {
      result = await span.step('downstream', (traceparent) => forward(traceparent ? { traceparent } : {}));
    } catch (err) {
      failure = err;
    }
    const outcome: Outcome = result && result['isError'] !== true ? 'success' : 'error';
    // What comes back is judged before the client (and the model) sees it; the trail keeps what the
    // client received and a digest of the original.
    const judged = result
      ? await this.judgeResult(span, session, call, callId, result, decisionInput, evaluation)
      : null;
    const finished = this.now();
    const original = result ?? { isError: true, content: [{ type: 'text', text: describeError(failure) }] };
    const delivered = judged?.delivered ?? original;
    const labels = judged?.decision.labels ?? [];
    session.record(call, 'allow', outcome, delivered, started, finished - started, callId, labels);
    const completed = this.append(
      span,
      callCompleted(session.id, {
        call_id: callId,
        outcome,
        duration_ms: finished - started,
        result_digest: digest(original),
        result: cutResult(delivered, o.auditResultMaxChars),
        ...(failure !== undefined ? { error: describeError(failure) } : {}),
        ...(judged && judged.decision.action !== 'pass' ? { result_policy: resultRecord(judged.decision) } : {}),
        ...(labels.length ? { labels } : {}),
      }),
    );
    const recordedOutcome = await settled(Promise.all([forwarded, completed]));
    this.completed(decisionId, session.id, ref, outcome, started);
    if (!recordedOutcome.ok) {
      o.logger.error('audit trail could not record a completed call', {
        decision_id: decisionId,
        error: recordedOutcome.error,
      });
      if (blocks()) return { kind: 'unrecorded', decisionId, error: recordedOutcome.error };
    }
    if (failure !== undefined) return { kind: 'failed', decisionId, error: failure };
    if (judged?.decision.action === 'deny') return { kind: 'withheld', decisionId, reasons: judged.decision.reasons };
    return { kind: 'completed', decisionId, outcome: outcome as 'success' | 'error', result: delivered };
  }

  /**
   * The result policy (`mcp/result`) on a result, when the active policy defines it: pass, redact
   * (matched spans replaced in every readable string) or deny. A failure withholds the result (fail
   * closed). Its decision is logged like the call's, with the texts as the client received them.
   */
  private async judgeResult(
    span: CallSpan,
    session: Session,
    call: PendingCall,
    callId: string,
    result: Record<string, unknown>,
    decisionInput: InputDocument,
    evaluation: Evaluation,
  ): Promise<{ delivered: Record<string, unknown>; decision: ResultDecision } | null> {
    const o = this.options;
    if (!o.policy.hasEntrypoint?.(RESULT_ENTRYPOINT) || !o.policy.evaluateEntrypoint) return null;
    const startedNs = process.hrtime.bigint();
    const input = {
      version: 1,
      call: decisionInput.call,
      result,
      texts: resultTexts(result),
      decision: {
        allow: evaluation.decision.allow,
        reasons: evaluation.decision.reasons,
        obligations: evaluation.decision.obligations,
      },
      principal: decisionInput.principal,
      session: decisionInput.session,
      history: decisionInput.history,
      now_ms: this.now(),
    };
    const evaluate = o.policy.evaluateEntrypoint.bind(o.policy);
    const answer = await span.step('result_policy', () => evaluate(RESULT_ENTRYPOINT, input, input.now_ms));
    const read = answer.ok ? readResultDecision(answer.result) : { ok: false as const, message: answer.message };
    const decision: ResultDecision = read.ok
      ? read.decision
      : {
          action: 'deny',
          reasons: failClosed('policy_eval_error', `${RESULT_ENTRYPOINT}: ${read.message}`).decision.reasons,
          redact: [],
          labels: [],
        };
    if (!read.ok) o.logger.error('result policy failure: result withheld (fail closed)', { error: read.message });
    const delivered =
      decision.action === 'deny' ? withheldResult(call.name, decision.reasons) : redactResult(result, decision.redact);
    const shown = { ...input, result: delivered, texts: resultTexts(delivered) };
    span.set({ 'warden.result.action': decision.action });
    this.logResultDecision(
      span,
      callId,
      session.id,
      shown,
      decision,
      answer.revision,
      Number(process.hrtime.bigint() - startedNs),
    );
    return { delivered, decision };
  }

  private logResultDecision(
    span: CallSpan,
    callId: string,
    sessionId: string,
    input: unknown,
    decision: ResultDecision,
    revision: string,
    handlerNs: number,
  ): void {
    const o = this.options;
    // The policy's answer without the matched values: only their kinds.
    const result = { ...decision, redact: decision.redact.map((r) => ({ kind: r.kind })) };
    try {
      o.decisionLog.write({
        decision_id: o.newId(),
        path: RESULT_ENTRYPOINT,
        input,
        result,
        bundles: revision ? { [o.bundleName()]: { revision } } : {},
        timestamp: new Date(this.now()).toISOString(),
        metrics: { timer_server_handler_ns: handlerNs },
        labels: { id: o.labels.id, version: o.labels.version },
        custom: { session_id: sessionId, call_id: callId, action: decision.action },
        ...traceFields(span),
      });
    } catch (err) {
      o.logger.error('decision log write failed', { call_id: callId, error: describeError(err) });
    }
  }

  /** Arguments as people see them: redacted (identity when nothing is configured). */
  private readonly redactArguments = (args: Record<string, unknown>): Record<string, unknown> =>
    this.options.redactArguments?.(args) ?? args;

  /**
   * Refuses a call before the policy runs, in every mode: its arguments exceed `argumentLimits`
   * (the policy never sees them, and the trail records a summary (depth, bytes, digest) in their
   * place, so that a record can always be stored and nothing downstream of here walks a
   * client-chosen depth), or its tool's definition is not the accepted one (`warden.tool_changed`,
   * `warden.tool_suspicious`). The decision is recorded like any other (decision log, observer,
   * `call.decided` with `refused`), and the call joins the session's history as denied.
   */
  private async refuse(
    span: CallSpan,
    session: Session,
    call: PendingCall,
    callId: string,
    started: number,
    refusal: Pick<ArgumentsRefusal, 'reason'> & { summary?: ArgumentsRefusal['summary'] },
  ): Promise<PipelineOutcome> {
    const o = this.options;
    const reasons = [refusal.reason];
    const ref = { kind: call.kind, server: call.server, name: call.name };
    const bounded: PendingCall = refusal.summary ? { ...call, arguments: {} } : call;
    const received = receivedRecord(session.id, call, callId, started, span.traceId, refusal.summary);
    const evaluation: Evaluation = {
      decision: { allow: false, reasons, monitored: [], obligations: {} },
      revision: '',
      bundle: '',
      result: undefined,
      evalNs: 0,
    };
    const verdict: Verdict = { allow: false, reasons, wouldDeny: [], approvalRequired: false, auditRequired: false };
    this.logDecision(span, callId, session.buildInput(bounded, started), evaluation, verdict, session.id, 0);
    span.set(decisionAttributes(evaluation, verdict));
    o.observer?.onDecision?.({
      decision_id: callId,
      session_id: session.id,
      call: ref,
      allow: false,
      policy_allow: false,
      mode: o.mode,
      reasons,
      monitored: [],
      revision: '',
      eval_ns: 0,
    });
    o.logger.warn(refusal.summary ? 'call refused: arguments over the limit' : 'call refused: tool not accepted', {
      decision_id: callId,
      name: call.name,
      rule: refusal.reason.rule,
      ...(refusal.summary ? { depth: refusal.summary.depth, bytes: refusal.summary.bytes } : {}),
    });
    const record = callDecided(session.id, {
      call_id: callId,
      decision_id: callId,
      allow: false,
      policy_allow: false,
      reasons,
      monitored: [],
      obligations: {},
      revision: '',
      mode: o.mode,
      now_ms: started,
      refused: refusal.reason.rule,
    });
    const recorded = await settled(this.appendAll(span, [received, record]));
    if (!recorded.ok) {
      o.logger.error('audit trail could not record a denial', { decision_id: callId, error: recorded.error });
    }
    session.record(bounded, 'deny', 'denied', null, started, this.now() - started);
    this.completed(callId, session.id, ref, 'denied', started);
    return { kind: 'denied', decisionId: callId, reasons };
  }

  /**
   * Starts an audit append. Its failure is observed at once (and reported where the pipeline
   * awaits it): a record that fails while the call is still being forwarded must not surface as
   * an unhandled rejection, which would end the process.
   */
  private append(span: CallSpan, event: AuditEvent): Promise<unknown> {
    const pending = span.step('audit', () => this.options.audit.append(event), event.type);
    pending.catch(() => undefined);
    return pending;
  }

  /**
   * Starts appending `events` in one commit (all or none), each with its own audit step on the
   * call's span; observed at once like {@link append}.
   */
  private appendAll(span: CallSpan, events: AuditEvent[]): Promise<unknown> {
    const audit = this.options.audit;
    const all = audit.appendAll ? audit.appendAll(events) : Promise.all(events.map((e) => audit.append(e)));
    all.catch(() => undefined);
    const steps = Promise.all(events.map((e) => span.step('audit', () => all, e.type)));
    steps.catch(() => undefined);
    return steps;
  }

  /** Whether this decision holds the call for approval (enforce mode, and the policy otherwise allows). */
  private holds(evaluation: Evaluation, verdict: Verdict): boolean {
    return verdict.approvalRequired && evaluation.decision.allow && this.options.mode === 'enforce';
  }

  /**
   * Evaluates the call now (the input is taken at once; the policy answers within its budget),
   * logs the decision (decision log, observer) and returns its `call.decided` record, which the
   * caller appends (with the records that go in the same commit).
   */
  private async decide(
    span: CallSpan,
    session: Session,
    call: PendingCall,
    callId: string,
    decisionId: string,
    nowMs: number,
  ): Promise<{
    decisionId: string;
    evaluation: Evaluation;
    verdict: Verdict;
    record: CallDecided;
    input: InputDocument;
  }> {
    const o = this.options;
    const startedNs = process.hrtime.bigint();
    let history: Awaited<ReturnType<HistoryPort['lookup']>>;
    let unreadable: string | undefined;
    try {
      history = await o.history?.lookup(session, call);
    } catch (err) {
      // Without the history it declares, the policy could allow what history forbids: fail closed.
      unreadable = `the history the policy reads could not be read from the audit trail: ${describeError(err)}`;
    }
    const input = session.buildInput(call, nowMs, callId, history ?? (unreadable ? [] : undefined));
    const evaluation: Evaluation = unreadable
      ? {
          ...failClosed('policy_history_unavailable', unreadable),
          revision: '',
          bundle: '',
          result: undefined,
          evalNs: 0,
        }
      : await span.step('policy', () => o.policy.evaluate(input, nowMs));
    const verdict = settleVerdict(evaluation, o.mode, 'Warden holds the call until an approver answers.');
    const handlerNs = Number(process.hrtime.bigint() - startedNs);
    this.logDecision(span, decisionId, input, evaluation, verdict, session.id, handlerNs);
    span.set(decisionAttributes(evaluation, verdict));
    o.observer?.onDecision?.({
      decision_id: decisionId,
      session_id: session.id,
      call: { kind: call.kind, server: call.server, name: call.name },
      allow: verdict.allow,
      policy_allow: evaluation.decision.allow,
      mode: o.mode,
      reasons: verdict.reasons,
      monitored: verdict.wouldDeny,
      revision: evaluation.revision,
      ...(evaluation.error ? { error: evaluation.error.message } : {}),
      eval_ns: evaluation.evalNs,
    });
    if (evaluation.error)
      o.logger.error('policy failure: call denied (fail closed)', {
        decision_id: decisionId,
        code: evaluation.error.code,
        error: evaluation.error.message,
      });
    if (verdict.wouldDeny.length > 0)
      o.logger.warn('monitor: would deny', { decision_id: decisionId, name: call.name, reasons: verdict.wouldDeny });
    const record = callDecided(session.id, {
      call_id: callId,
      decision_id: decisionId,
      allow: verdict.allow,
      policy_allow: evaluation.decision.allow,
      reasons: verdict.reasons,
      monitored: verdict.wouldDeny,
      obligations: evaluation.decision.obligations,
      revision: evaluation.revision,
      mode: o.mode,
      now_ms: nowMs,
      ...(evaluation.error ? { error: evaluation.error } : {}),
      ...(this.holds(evaluation, verdict) ? { held: true as const } : {}),
    });
    return { decisionId, evaluation, verdict, record, input };
  }

  private completed(
    decisionId: string,
    sessionId: string,
    call: { kind: string; server: string; name: string },
    outcome: Outcome,
    started: number,
  ): void {
    this.options.observer?.onCompleted?.({
      decision_id: decisionId,
      session_id: sessionId,
      call,
      outcome,
      duration_ms: this.now() - started,
    });
  }

  private logDecision(
    span: CallSpan,
    decisionId: string,
    input: unknown,
    evaluation: Evaluation,
    verdict: Verdict,
    sessionId: string,
    handlerNs: number,
  ): void {
    const o = this.options;
    const event: DecisionLogEvent = {
      decision_id: decisionId,
      path: o.policy.entrypoint,
      input,
      ...(evaluation.result !== undefined ? { result: evaluation.result } : {}),
      bundles: evaluation.revision ? { [evaluation.bundle || o.bundleName()]: { revision: evaluation.revision } } : {},
      timestamp: new Date(this.now()).toISOString(),
      metrics: { timer_rego_query_eval_ns: evaluation.evalNs, timer_server_handler_ns: handlerNs },
      labels: { id: o.labels.id, version: o.labels.version },
      ...(evaluation.error ? { error: evaluation.error } : {}),
      custom: {
        session_id: sessionId,
        mode: o.mode,
        allow: verdict.allow,
        ...(verdict.reasons.length ? { reasons: verdict.reasons } : {}),
        ...(verdict.wouldDeny.length ? { would_deny: verdict.wouldDeny } : {}),
      },
      ...traceFields(span),
    };
    try {
      o.decisionLog.write(event);
    } catch (err) {
      o.logger.error('decision log write failed', { decision_id: decisionId, error: describeError(err) });
    }
  }
}

/** The outcome a call's span ends with: a withheld result counts as denied. */
function spanOutcome(outcome: PipelineOutcome): 'success' | 'error' | 'denied' {
  if (outcome.kind === 'completed') return outcome.outcome;
  return outcome.kind === 'denied' || outcome.kind === 'withheld' ? 'denied' : 'error';
}

/** A decision on the call's span: the effective verdict, the denying rules and the policy revision. */
function decisionAttributes(evaluation: Evaluation, verdict: Verdict): Record<string, SpanValue | undefined> {
  return {
    'warden.decision': verdict.allow ? 'allow' : 'deny',
    'warden.rules': verdict.reasons.map((r) => r.rule),
    'warden.policy.revision': evaluation.revision || undefined,
  };
}

/** OPA's decision-log `trace_id` and `span_id` (the call's span), when the call has them. */
function traceFields(span: CallSpan): Pick<DecisionLogEvent, 'trace_id' | 'span_id'> {
  return {
    ...(span.traceId ? { trace_id: span.traceId } : {}),
    ...(span.spanId ? { span_id: span.spanId } : {}),
  };
}

/** The OAuth scopes of a principal's `scope` (space-separated) or `scp` (a list) claim; undefined when none. */
function scopesOf(claims: Readonly<Record<string, unknown>>): string[] | undefined {
  const scope = claims['scope'] ?? claims['scp'];
  const scopes = typeof scope === 'string' ? scope.split(' ').filter(Boolean) : scope;
  if (!Array.isArray(scopes)) return undefined;
  const names = scopes.filter((x): x is string => typeof x === 'string');
  return names.length ? names : undefined;
}

/** The decision that ends a call whose approval was left pending: denied, with the approval's id in its reason. */
function pendingRecord(
  sessionId: string,
  callId: string,
  decisionId: string,
  evaluation: Evaluation,
  mode: 'enforce' | 'monitor',
  reasons: Reason[],
  nowMs: number,
): CallDecided {
  return callDecided(sessionId, {
    call_id: callId,
    decision_id: decisionId,
    allow: false,
    policy_allow: evaluation.decision.allow,
    reasons,
    monitored: [],
    obligations: evaluation.decision.obligations,
    revision: evaluation.revision,
    mode,
    now_ms: nowMs,
  });
}

/** What a client gets for a result the result policy denied: the rules, never the content. */
function withheldResult(name: string, reasons: Reason[]): Record<string, unknown> {
  const why = reasons.map((r) => `${r.message} [${r.rule}]`).join('; ');
  return { content: [{ type: 'text', text: `Warden withheld the result of ${name}: ${why}` }], isError: true };
}

/** What the trail keeps of a result decision: the action, its rules, and how many spans of each kind. */
function resultRecord(decision: ResultDecision): NonNullable<CallCompletedData['result_policy']> {
  const redacted: Record<string, number> = {};
  for (const r of decision.redact) redacted[r.kind] = (redacted[r.kind] ?? 0) + 1;
  return { action: decision.action as 'redact' | 'deny', rules: decision.reasons.map((r) => r.rule), redacted };
}

/** An approval given, but the policy still requires one: the call is denied. */
function insufficient(verdict: Verdict, name: string, by: string): Verdict {
  const message = `${name} was approved by ${by}, but the policy still requires approval`;
  return { ...verdict, allow: false, reasons: [{ rule: 'warden.approval_insufficient', message }] };
}

type Settled = { ok: true } | { ok: false; error: string };

async function settled(p: Promise<unknown>): Promise<Settled> {
  try {
    await p;
    return { ok: true };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

// compactJson is JSON.stringify without its recursion: a result nested deeper than V8's stack
// would otherwise throw here, and the call would go unrecorded.
/**
 * A call's `call.received` record: its arguments as sent, or, when they were refused for their
 * size, never the arguments themselves but what they measured.
 */
function receivedRecord(
  sessionId: string,
  call: PendingCall,
  callId: string,
  started: number,
  spanTrace: string | undefined,
  refused?: RefusedArguments,
): CallReceived {
  // trace_id is the client's: the `trace` history scope keys on it, with telemetry or without.
  const trace = traceId(call.traceparent);
  return callReceived(sessionId, {
    call_id: callId,
    kind: call.kind,
    server: call.server,
    tool: call.tool,
    name: call.name,
    arguments: refused ? {} : call.arguments,
    ...(refused ? { arguments_refused: refused } : {}),
    annotations: call.annotations,
    ...(call.uri !== undefined ? { uri: call.uri } : {}),
    now_ms: started,
    ...(trace ? { trace_id: trace } : {}),
    ...(spanTrace && spanTrace !== trace ? { span_trace_id: spanTrace } : {}),
  });
}

function digest(value: unknown): string {
  return `sha256:${createHash('sha256')
    .update(compactJson(value) ?? '')
    .digest('hex')}`;
}

function cutResult(result: Record<string, unknown>, maxChars: number): Record<string, unknown> | TruncatedResult {
  const text = compactJson(result) ?? '';
  if (text.length <= maxChars) return result;
  return { truncated: true, chars: text.length, preview: text.slice(0, maxChars) };
}
