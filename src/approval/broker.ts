import { EventEmitter } from 'node:events';
import { WardenError } from '../common/index.js';

/** What a held call needs approved. */
export interface ApprovalRequest {
  /** The call's id (its first decision id). */
  id: string;
  session_id: string;
  principal: { sub: string; roles: readonly string[] };
  call: { server: string; name: string; arguments: Record<string, unknown> };
  reason?: string;
  /** Roles allowed to approve; empty means any approver (role `admin`). */
  approvers: string[];
  /** The policy lets the requester approve their own call. */
  allow_self_approval: boolean;
}

export interface PendingApproval extends ApprovalRequest {
  requested_at: string;
  expires_at: string;
}

/** `pending`: nobody answered yet and the call could not wait: its approval stays open for a retry. */
export type ApprovalOutcome = 'approved' | 'declined' | 'cancelled' | 'timed_out' | 'unavailable' | 'pending';

/**
 * Where an answer comes from: `elicitation`, the held call's own client (so always its requester);
 * `admin`, an approver through the admin API or the dashboard.
 */
export type ApprovalVia = 'elicitation' | 'admin';

export interface ApprovalResult {
  outcome: ApprovalOutcome;
  granted: boolean;
  /** Who decided (absent for timeouts and cancellations). */
  by?: string;
  via?: ApprovalVia;
  comment?: string;
  at: string;
  /** For a person: why the call was not approved, and how approval is obtained. */
  message: string;
  /** The answer is in the audit trail already (another replica recorded it). */
  recorded?: true;
}

/** How the held call's own client can be asked (elicitation riding the call's request). */
export interface ApprovalChannel {
  elicit?: (
    message: string,
    requestedSchema: Record<string, unknown>,
    signal: AbortSignal,
  ) => Promise<{ action: string; content?: Record<string, unknown> }>;
  /** The call was cancelled by its client. */
  signal?: AbortSignal;
  /** Called every `keepAliveMs` while the call is held (progress notifications keep the client's request alive). */
  keepAlive?: (heldMs: number) => void;
  /**
   * The request cannot wait for an approver (a 2026-07-28 request, which any replica may serve):
   * unless its own client can approve it, its approval is left pending for a retry.
   */
  stateless?: boolean;
}

/**
 * An approval as the audit trail holds it, on whichever replica it was asked: `held` while its
 * call waits for an answer, `pending` once the call was denied to wait for a retry
 * (`warden.approval_pending`), `answered` after an approver's answer.
 */
export interface RecordedApproval {
  id: string;
  session_id: string;
  principal: { sub: string; roles: readonly string[] };
  call: { server: string; name: string; arguments: Record<string, unknown> };
  arguments_digest: string | null;
  approvers: string[];
  reason: string | null;
  allow_self_approval: boolean;
  requested_at: string;
  state: 'held' | 'pending' | 'answered';
  answer: { outcome: string; by: string | null; via: string | null; comment: string | null; at: string } | null;
  /** The call that spent this approval (a retry), once one did. */
  spent_by: string | null;
}

/**
 * The approvals of the audit trail (every replica's): what waits for an approver, for the admin
 * API and the dashboard. Implemented by the reports part's ledger.
 */
export interface ApprovalRecords {
  /** Reads what the trail holds beyond what was seen (other replicas' records too). */
  sync(): Promise<void>;
  waiting(): RecordedApproval[];
  get(id: string): RecordedApproval | undefined;
}

export class ApprovalError extends WardenError {}

/**
 * Holds calls that need a person's approval. The first answer wins: the client's elicitation
 * (when the client can elicit and its principal may approve its own call: an approver role, and
 * the policy allows self-approval), an approver through the admin API or dashboard, the timeout,
 * or the client cancelling. Emits `pending` and `resolved` for live views.
 */
export class ApprovalBroker extends EventEmitter {
  private readonly pending = new Map<string, { request: PendingApproval; settle: (r: ApprovalResult) => void }>();

  constructor(
    private readonly options: {
      timeoutMs: number;
      keepAliveMs?: number;
      adminChannel: () => boolean;
      /** How long an approval left pending may be answered and then spent by a retry (`approval.retryWithinMs`). */
      retryWithinMs: number;
      now?: () => number;
    },
  ) {
    super();
  }

  list(): PendingApproval[] {
    return [...this.pending.values()].map((p) => p.request);
  }

  get(id: string): PendingApproval | undefined {
    return this.pending.get(id)?.request;
  }

  /** Holds the call until someone answers, the timeout passes or the client cancels. */
  request(request: ApprovalRequest, channel: ApprovalChannel): Promise<ApprovalResult> {
    const now = this.now();
    // The requester is asked in their client only when they may approve their own call; otherwise
    // the call waits for another approver (admin API), or is denied at once when there is none.
    const canElicit = !!channel.elicit && mayApprove(request, request.principal, 'elicitation') === null;
    const admin = this.options.adminChannel();
    if (!canElicit && channel.stateless && admin) {
      return Promise.resolve(this.result('pending', false, { message: pendingMessage(request, this.retryMinutes()) }));
    }
    if (!canElicit && !admin) {
      return Promise.resolve(this.result('unavailable', false, { message: nobodyToAsk(request, !!channel.elicit) }));
    }
    const held: PendingApproval = {
      ...request,
      requested_at: new Date(now).toISOString(),
      expires_at: new Date(now + this.options.timeoutMs).toISOString(),
    };
    return new Promise<ApprovalResult>((resolve) => {
      const elicitAbort = new AbortController();
      let done = false;
      const settle = (r: ApprovalResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (keepAlive) clearInterval(keepAlive);
        channel.signal?.removeEventListener('abort', onAbort);
        elicitAbort.abort();
        this.pending.delete(request.id);
        this.emit('resolved', held, r);
        resolve(r);
      };
      const timer = setTimeout(
        () =>
          settle(
            this.result('timed_out', false, {
              message: `approval for ${request.call.name} was not given within ${Math.round(this.options.timeoutMs / 1000)} s, so the call is denied. Approvers${describeApprovers(request)} can approve it in the dashboard or through the admin API; retry the call once they are ready.`,
            }),
          ),
        this.options.timeoutMs,
      );
      timer.unref?.();
      const keepAlive = channel.keepAlive
        ? setInterval(() => channel.keepAlive!(this.now() - now), this.options.keepAliveMs ?? 10_000)
        : null;
      keepAlive?.unref?.();
      const onAbort = (): void =>
        settle(
          this.result('cancelled', false, {
            message: `the client cancelled ${request.call.name} while it waited for approval`,
          }),
        );
      channel.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(request.id, { request: held, settle });
      this.emit('pending', held);

      if (canElicit) {
        channel.elicit!(elicitationMessage(request), ELICITATION_SCHEMA, elicitAbort.signal).then(
          (answer) => {
            const comment = typeof answer.content?.['comment'] === 'string' ? answer.content['comment'] : undefined;
            if (answer.action === 'accept')
              settle(
                this.result('approved', true, {
                  by: request.principal.sub,
                  via: 'elicitation',
                  ...(comment ? { comment } : {}),
                  message: `approved by ${request.principal.sub} in the client`,
                }),
              );
            else
              settle(
                this.result(answer.action === 'decline' ? 'declined' : 'cancelled', false, {
                  by: request.principal.sub,
                  via: 'elicitation',
                  message: `${request.principal.sub} ${answer.action === 'decline' ? 'declined' : 'dismissed'} the approval request for ${request.call.name}, so the call is denied`,
                }),
              );
          },
          (err: unknown) => {
            // The client could not show the request; an approver may still act before the timeout.
            if (!admin)
              settle(
                this.result('unavailable', false, {
                  message: `the client could not be asked to approve ${request.call.name}: ${String((err as Error)?.message ?? err)}`,
                }),
              );
          },
        );
      }
    });
  }

  /**
   * An approver's answer through the admin API or dashboard.
   * @throws ApprovalError `approval_not_found` or `approval_forbidden` (with the reason).
   */
  decide(
    id: string,
    approver: { sub: string; roles: readonly string[] },
    approve: boolean,
    comment?: string,
  ): ApprovalResult {
    const entry = this.pending.get(id);
    if (!entry)
      throw new ApprovalError(
        'approval_not_found',
        `no pending approval ${id} (it may have been answered, timed out or cancelled)`,
      );
    const refusal = mayApprove(entry.request, approver, 'admin');
    if (refusal) throw new ApprovalError('approval_forbidden', refusal);
    const r = this.adminAnswer(entry.request, approver.sub, approve, comment);
    entry.settle(r);
    return r;
  }

  /**
   * Settles a held call with an approver's answer that another replica recorded in the shared
   * trail (its admin API took it). Returns false when the call is not held here.
   */
  answeredElsewhere(id: string, answer: { approve: boolean; by: string; comment?: string }): boolean {
    const entry = this.pending.get(id);
    if (!entry) return false;
    entry.settle({ ...this.adminAnswer(entry.request, answer.by, answer.approve, answer.comment), recorded: true });
    return true;
  }

  private adminAnswer(request: ApprovalRequest, by: string, approve: boolean, comment?: string): ApprovalResult {
    const note = comment ? { comment } : {};
    return approve
      ? this.result('approved', true, { by, via: 'admin', ...note, message: `approved by ${by}` })
      : this.result('declined', false, {
          by,
          via: 'admin',
          ...note,
          message: `${by} denied the approval for ${request.call.name}${comment ? `: ${comment}` : ''}`,
        });
  }

  private result(
    outcome: ApprovalOutcome,
    granted: boolean,
    fields: Partial<ApprovalResult> & { message: string },
  ): ApprovalResult {
    return { outcome, granted, at: new Date(this.now()).toISOString(), ...fields };
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private retryMinutes(): number {
    return Math.round(this.options.retryWithinMs / 60_000);
  }
}

/** Why a stateless call is denied while its approval is pending, and how to get it through. */
function pendingMessage(request: ApprovalRequest, minutes: number): string {
  const reason = request.reason ? ` (${request.reason})` : '';
  return (
    `${request.call.name} needs approval${describeApprovers(request)}${reason}; it is pending as approval ` +
    `${request.id}. An approver answers it in the dashboard or with POST /admin/approvals/${request.id} on any ` +
    `Warden replica; then retry the same call (same tool, arguments and principal) within ${minutes} min: the ` +
    'approval lets exactly one retry through.'
  );
}

/**
 * Null when `who` may approve `request` through `via`, else why not. The same rules hold on every
 * channel: `who` needs one of the request's approver roles, and may not approve their own call
 * unless the policy allows self-approval (`allow_self_approval`). An elicitation answer is always
 * the requester's own, so there it is self-approval whoever `who` claims to be.
 *
 * @example
 * ```ts
 * mayApprove(request, request.principal, 'elicitation'); // "alice requested deploy ... in their own client ..."
 * mayApprove(request, { sub: 'bob', roles: ['release-manager'] }, 'admin'); // null
 * ```
 */
export function mayApprove(
  request: ApprovalRequest,
  who: { sub: string; roles: readonly string[] },
  via: ApprovalVia,
): string | null {
  const allowed = allowedRoles(request);
  if (!who.roles.some((r) => allowed.includes(r))) {
    return `${who.sub} may not approve ${request.call.name}: it needs one of the roles ${allowed.join(', ')}`;
  }
  if ((via === 'elicitation' || who.sub === request.principal.sub) && !request.allow_self_approval) {
    const where = via === 'elicitation' ? ' in their own client' : ' too';
    const requester = request.principal.sub;
    return `${requester} requested ${request.call.name} and may not approve it${where} (${SELF_APPROVAL_REFUSED})`;
  }
  return null;
}

const SELF_APPROVAL_REFUSED = 'self-approval is refused unless the policy allows it';

/** Roles that may approve: the request's, or `admin` when it names none. */
function allowedRoles(request: ApprovalRequest): string[] {
  return request.approvers.length ? request.approvers : ['admin'];
}

/**
 * Why a held call is denied at once (its own client cannot approve it, and no admin API is
 * running), naming who could approve it instead.
 */
function nobodyToAsk(request: ApprovalRequest, clientCanElicit: boolean): string {
  const who = request.principal.sub;
  const roles = allowedRoles(request);
  const isApprover = request.principal.roles.some((r) => roles.includes(r));
  const why = !clientCanElicit
    ? 'this client cannot answer approval requests (no elicitation capability)'
    : isApprover
      ? `the session's principal ${who} may not approve their own call (${SELF_APPROVAL_REFUSED})`
      : `the session's principal ${who} is not an approver`;
  const other = request.allow_self_approval ? '' : ` other than ${who}`;
  // Elicitation would help only a requester who may approve their own call.
  const helps = !clientCanElicit && isApprover && request.allow_self_approval;
  const orClient = helps ? ', or use a client that supports elicitation' : '';
  const reason = request.reason ? ` (${request.reason})` : '';
  return (
    `${request.call.name} needs approval${describeApprovers(request)}${reason}, and nobody can be asked: ${why} ` +
    'and no admin API is running. Fix: run Warden with --http and approve the call in the dashboard ' +
    `(or POST /admin/approvals/<id>) as a principal with one of the roles ${roles.join(', ')}${other}${orClient}.`
  );
}

const ELICITATION_SCHEMA = {
  type: 'object',
  properties: {
    comment: { type: 'string', title: 'Comment', description: 'Optional note recorded with your approval' },
  },
};

function elicitationMessage(r: ApprovalRequest): string {
  const args = Object.entries(r.call.arguments)
    .slice(0, 6)
    .map(([k, v]) => `${k}=${truncate(JSON.stringify(v) ?? 'null', 60)}`)
    .join(', ');
  return `Approve ${r.call.name}${args ? ` (${args})` : ''} on ${r.call.server}? ${r.reason ? `Policy: ${r.reason}. ` : ''}Accept to approve, decline to deny.`;
}

function describeApprovers(r: ApprovalRequest): string {
  return r.approvers.length ? ` (by one of: ${r.approvers.join(', ')})` : '';
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
