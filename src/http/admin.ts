import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { ApprovalError, mayApprove, type PendingApproval, type RecordedApproval } from '../approval/index.js';
import {
  approvalAnswered,
  csvHeader,
  listArchives,
  parseTimeArg,
  recordsAfter,
  toCsvLine,
  verifyChain,
  type AuditRecord,
  type ChainStore,
  type VerifyResult,
} from '../audit/index.js';
import { AuditError, describeError, ReportError, WardenErrorCode, type Logger } from '../common/index.js';
import type { Principal, WardenConfig } from '../config/index.js';
import type { LiveSessionState, Warden } from '../proxy/index.js';
import {
  acceptOffered,
  AuditView,
  buildSessionReport,
  buildSessionReports,
  complianceReport,
  evaluateWorkflowStatus,
  formatSessionReport,
  inputFromRecords,
  definitionDiff,
  summarize,
  ToolPinLedger,
  violationRules,
  WORKFLOW_STATUS_ENTRYPOINT,
  type CallRow,
  type ToolPin,
  type SessionReport,
  type SessionRow,
  type WorkflowStatus,
} from '../reports/index.js';
import { HttpError } from './http-error.js';
import type { LiveEvent, LiveEvents } from './live-events.js';

/** The role that may read everything the admin API serves. */
export const ADMIN_ROLE = 'admin';

/** Most records one report or export reads; beyond it, `warden audit export` is the tool. */
const MAX_REPORT_RECORDS = 200_000;
const REPORT_PAGE = 5000;

export interface AdminOptions {
  warden: Warden;
  config: WardenConfig;
  logger: Logger;
  live: LiveEvents;
  /** The front's authentication middleware: sets `res.locals.principal` or answers 401. */
  authenticate: (req: Request, res: Response, next: NextFunction) => void;
}

/** Who is asking, as the admin API sees it. */
interface Caller {
  principal: Principal;
  /** The approver identity handed to the broker (which refuses self-approval by `sub`). */
  approver: { sub: string; roles: readonly string[] };
  admin: boolean;
}

/** What every route group shares, built once per router (see {@link createAdminContext}). */
export interface AdminContext {
  warden: Warden;
  config: WardenConfig;
  logger: Logger;
  live: LiveEvents;
  /** The audit trail folded into sessions and calls; `sync()` it before reading. */
  view: AuditView;
  /** The sessions this replica serves now, by id. */
  liveById: () => Map<string, LiveSessionState>;
  /**
   * Whether a recorded session is open on another replica of a shared trail: opened there (its
   * `instance`) and not closed. This replica's own open sessions are the ones in {@link liveById}.
   */
  liveElsewhere: (row: SessionRow) => boolean;
  /** A session's workflow status, cached per session and policy revision. */
  statusOf: (row: SessionRow | undefined, liveState: LiveSessionState | undefined) => Promise<WorkflowStatus>;
  /** Every audit record that matches, up to MAX_REPORT_RECORDS (413 beyond). */
  readAll: (query: { session?: string; since?: string; until?: string }) => Promise<AuditRecord[]>;
  /** The pinned tool definitions of the trail; `sync()` it before reading. */
  pins: ToolPinLedger;
}

/**
 * The admin API (docs/admin-api.md): JSON under `/admin`, behind the same authentication as
 * `/mcp`. Role `admin` reads everything; approving a held call needs a role the call's approval
 * names (the broker checks), so approvers who are not admins may list and answer the approvals
 * they can answer and follow their events. With `auth: none` (loopback only) the local user is
 * an admin. Mounting it opens the admin approval channel (`warden.enableAdminApprovals()`).
 *
 * @example
 * ```ts
 * app.use('/admin', createAdminRouter({ warden, config, logger, live, authenticate }));
 * ```
 */
export function createAdminRouter(options: AdminOptions): Router {
  const ctx = createAdminContext(options);
  options.warden.enableAdminApprovals();

  const router = express.Router();
  router.use((req, res, next) => options.authenticate(req, res, next));
  router.use(express.json({ limit: '64kb' }));
  router.use(identifyCaller(options.config));
  callerRoutes(router, ctx);
  sessionRoutes(router, ctx);
  decisionRoutes(router, ctx);
  approvalRoutes(router, ctx);
  policyRoutes(router, ctx);
  reportRoutes(router, ctx);
  toolRoutes(router, ctx);
  eventRoutes(router, ctx);

  router.use((_req, _res, next) =>
    next(new HttpError(404, 'not_found', 'no such admin endpoint; see docs/admin-api.md')),
  );
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const failure = toHttpError(err);
    if (failure.code === WardenErrorCode.InternalError)
      options.logger.error('admin request failed', { error: failure.message });
    res.status(failure.status).json(failure.body());
  });
  return router;
}

/**
 * Builds the {@link AdminContext}: one audit view and one workflow-status cache for all routes.
 *
 * @example
 * ```ts
 * const ctx = createAdminContext({ warden, config, logger, live });
 * sessionRoutes(express.Router(), ctx);
 * ```
 */
export function createAdminContext(options: Omit<AdminOptions, 'authenticate'>): AdminContext {
  const { warden, config, logger, live } = options;
  return {
    warden,
    config,
    logger,
    live,
    view: new AuditView(warden.audit, { trail: warden.trail }),
    liveById: (): Map<string, LiveSessionState> => new Map(warden.liveSessions().map((s) => [s.id, s])),
    liveElsewhere: openOnOtherReplica(warden, config),
    statusOf: workflowStatusReader(warden, config),
    readAll: (query) => readAll(warden, query),
    pins: new ToolPinLedger(warden.audit),
  };
}

// --- middleware ---------------------------------------------------------------------------------

/** Sets `res.locals.caller` from the authenticated principal; with `auth: none` it is an admin. */
function identifyCaller(config: WardenConfig): (req: Request, res: Response, next: NextFunction) => void {
  return (_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    const principal = res.locals['principal'] as Principal;
    const admin = config.auth.type === 'none' || principal.roles.includes(ADMIN_ROLE);
    const roles =
      config.auth.type === 'none' && !principal.roles.includes(ADMIN_ROLE)
        ? [...principal.roles, ADMIN_ROLE]
        : [...principal.roles];
    res.locals['caller'] = { principal, approver: { sub: principal.sub, roles }, admin } satisfies Caller;
    next();
  };
}

function caller(res: Response): Caller {
  return res.locals['caller'] as Caller;
}

function adminOnly(_req: Request, res: Response, next: NextFunction): void {
  if (caller(res).admin) return next();
  next(
    new HttpError(
      403,
      'forbidden',
      `${caller(res).principal.sub} needs the role ${ADMIN_ROLE} for this (approvers without it may use /admin/approvals and /admin/events)`,
    ),
  );
}

/** An express handler from one that returns the JSON body (or `undefined` once it answered). */
function route(handler: (req: Request, res: Response) => Promise<unknown> | unknown) {
  return (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .then((body) => {
        if (body !== undefined && !res.headersSent) res.json(body);
      })
      .catch(next);
  };
}

// --- routes -----------------------------------------------------------------------------------

/** `GET /whoami`: who the caller is, as the admin API sees it. */
export function callerRoutes(router: Router, ctx: AdminContext): void {
  const { config } = ctx;
  router.get(
    '/whoami',
    route((_req, res) => {
      const c = caller(res);
      return {
        sub: c.principal.sub,
        roles: c.approver.roles,
        admin: c.admin,
        auth: config.auth.type,
        // Which replica answered: behind a load balancer, each request may reach another.
        instance: config.instance,
      };
    }),
  );
}

/** `GET /sessions` and `GET /sessions/:id` (admins): sessions live and recorded, one with its calls and report. */
export function sessionRoutes(router: Router, ctx: AdminContext): void {
  const { warden, config, view, liveById, liveElsewhere, statusOf, readAll } = ctx;
  router.get(
    '/sessions',
    adminOnly,
    route(async (req) => {
      await view.sync();
      const liveSessions = liveById();
      const onlyLive = req.query['live'] === 'true' || req.query['live'] === '1';
      const withWorkflows = onlyLive || req.query['workflows'] === 'true';
      const items: Record<string, unknown>[] = [];
      const add = async (row: SessionRow | undefined, s: LiveSessionState | undefined, live: boolean) => {
        const workflows = withWorkflows ? { workflows: await statusOf(row, s) } : {};
        items.push({
          ...sessionItem(row, s, { live, instance: s ? config.instance : (row?.instance ?? null) }),
          ...workflows,
        });
      };
      // Open sessions first: this replica's, then the other replicas' (from the shared trail).
      for (const s of liveSessions.values()) await add(view.session(s.id), s, true);
      const recorded = view.allSessions().filter((row) => !liveSessions.has(row.session_id));
      for (const row of recorded) if (liveElsewhere(row)) await add(row, undefined, true);
      if (!onlyLive) for (const row of recorded) if (!liveElsewhere(row)) await add(row, undefined, false);
      const { limit, offset } = paging(req, 100, 1000);
      return {
        sessions: items.slice(offset, offset + limit),
        total: items.length,
        workflow_status: warden.policy.hasEntrypoint(WORKFLOW_STATUS_ENTRYPOINT),
      };
    }),
  );

  router.get(
    '/sessions/:id',
    adminOnly,
    route(async (req) => {
      await view.sync();
      const id = String(req.params['id']);
      const liveState = liveById().get(id);
      const row = view.session(id);
      const records = await readAll({ session: id });
      if (!liveState && !row && records.length === 0)
        throw new HttpError(404, 'session_not_found', `no session ${id} in the audit trail`);
      const place = {
        live: !!liveState || (row !== undefined && liveElsewhere(row)),
        instance: liveState ? ctx.config.instance : (row?.instance ?? null),
      };
      return {
        session: row || liveState ? sessionItem(row, liveState, place) : { session_id: id, live: false },
        workflows: row || liveState ? await statusOf(row, liveState) : null,
        calls: (row?.calls ?? []).map(callItem),
        report: buildSessionReport(id, records),
      };
    }),
  );
}

/** `GET /decisions` (admins): recent calls, newest first, filtered and paged by `before`. */
export function decisionRoutes(router: Router, ctx: AdminContext): void {
  const { view } = ctx;
  router.get(
    '/decisions',
    adminOnly,
    route(async (req) => {
      await view.sync();
      const q = req.query;
      const want = (name: string): string | undefined =>
        typeof q[name] === 'string' && q[name] !== '' ? (q[name] as string) : undefined;
      const since = time(q['since'] ?? q['from'], 'since');
      const until = time(q['until'] ?? q['to'], 'until');
      const before = want('before') ? Number(want('before')) : Infinity;
      const allow = want('allow');
      const filters = {
        session: want('session'),
        tool: want('tool'),
        rule: want('rule'),
        revision: want('revision'),
        outcome: want('outcome'),
        workflow: want('workflow'),
      };
      const { limit } = paging(req, 100, 500);
      const out: Record<string, unknown>[] = [];
      let next: number | null = null;
      for (const c of view.recentCalls()) {
        if (c.seq >= before) continue;
        if (filters.session && c.session_id !== filters.session) continue;
        if (filters.tool && c.name !== filters.tool) continue;
        if (since && c.at < since) continue;
        if (until && c.at >= until) continue;
        const s = summarize(c);
        if (allow === 'true' && !s.allow) continue;
        if (allow === 'false' && s.allow) continue;
        if (filters.outcome && s.outcome !== filters.outcome) continue;
        if (filters.revision && s.revision !== filters.revision) continue;
        if (
          filters.rule &&
          !s.reasons.some((r) => r.rule === filters.rule) &&
          !s.monitored.some((r) => r.rule === filters.rule)
        )
          continue;
        if (
          filters.workflow &&
          !s.reasons.some((r) => r.workflow === filters.workflow) &&
          !s.monitored.some((r) => r.workflow === filters.workflow)
        )
          continue;
        if (out.length === limit) {
          next = out.length ? (out[out.length - 1]!['seq'] as number) : null;
          break;
        }
        out.push(callItem(c));
      }
      return { decisions: out, next_before: next };
    }),
  );
}

/** `GET /approvals` and `POST /approvals/:id`: what the caller may answer, and answering it. */
export function approvalRoutes(router: Router, ctx: AdminContext): void {
  const { warden, logger, view } = ctx;
  router.get(
    '/approvals',
    route(async (_req, res) => {
      const c = caller(res);
      const pending = (await waitingApprovals(ctx))
        .filter((a) => visibleApproval(c, a))
        .map((a) => ({ ...a, may_approve: mayApprove(a, c.approver, 'admin') }));
      if (!c.admin) return { pending };
      await view.sync();
      const recent = view
        .recentCalls()
        .filter((call) => call.approval?.outcome)
        .slice(0, 50)
        .map((call) => ({ id: call.call_id, session_id: call.session_id, name: call.name, ...call.approval }));
      return { pending, recent };
    }),
  );

  router.post(
    '/approvals/:id',
    route(async (req, res) => {
      const body = (req.body ?? {}) as { approve?: unknown; comment?: unknown };
      if (typeof body.approve !== 'boolean')
        throw new HttpError(400, 'bad_request', 'the body must be JSON {"approve": true|false, "comment"?: "..."}');
      if (body.comment !== undefined && (typeof body.comment !== 'string' || body.comment.length > 2000))
        throw new HttpError(400, 'bad_request', 'comment must be a string of at most 2000 characters');
      const c = caller(res);
      const id = String(req.params['id']);
      const comment = body.comment === '' ? undefined : (body.comment as string | undefined);
      try {
        const result = warden.approvals.get(id)
          ? warden.approvals.decide(id, c.approver, body.approve, comment)
          : await answerRecorded(ctx, id, c.approver, body.approve, comment);
        logger.info('approval answered through the admin API', {
          approval_id: id,
          by: c.principal.sub,
          approve: body.approve,
        });
        return { id, result };
      } catch (err) {
        if (err instanceof ApprovalError)
          throw new HttpError(err.code === 'approval_not_found' ? 404 : 403, err.code, err.message);
        throw err;
      }
    }),
  );
}

/**
 * `GET /tools` and `POST /tools/:server/:tool/accept` (admins): the pinned tool definitions, each
 * with what changed field by field, and accepting the definition a server offers now.
 */
export function toolRoutes(router: Router, ctx: AdminContext): void {
  const { warden, logger, pins } = ctx;
  router.get(
    '/tools',
    adminOnly,
    route(async () => {
      await pins.sync();
      return { tools: pins.list().map(toolItem) };
    }),
  );
  router.post(
    '/tools/:server/:tool/accept',
    adminOnly,
    route(async (req, res) => {
      const body = (req.body ?? {}) as { comment?: unknown };
      if (body.comment !== undefined && (typeof body.comment !== 'string' || body.comment.length > 2000))
        throw new HttpError(400, 'bad_request', 'comment must be a string of at most 2000 characters');
      const server = String(req.params['server']);
      const tool = String(req.params['tool']);
      const by = caller(res).principal.sub;
      const comment = typeof body.comment === 'string' && body.comment ? { comment: body.comment } : {};
      try {
        const { pin, accepted } = await acceptOffered(pins, warden.audit, {
          server,
          tool,
          by,
          via: 'admin',
          ...comment,
        });
        if (accepted) logger.info('tool definition accepted through the admin API', { server, tool, by });
        return { accepted, tool: toolItem(pin) };
      } catch (err) {
        if (err instanceof ReportError && err.code === 'tool_not_pinned')
          throw new HttpError(404, err.code, err.message);
        throw err;
      }
    }),
  );
}

/** A pin as the admin API and the dashboard show it: its status, both definitions and what differs. */
function toolItem(pin: ToolPin): Record<string, unknown> {
  return {
    server: pin.server,
    tool: pin.tool,
    status: pin.status,
    changes: pin.changes,
    first_seen_at: pin.first_seen_at,
    accepted: pin.accepted,
    offered: pin.offered,
    diff: definitionDiff(pin),
  };
}

/** `GET /policy` and `POST /policy/:action` (admins): the policy's status, rollback and reload. */
export function policyRoutes(router: Router, ctx: AdminContext): void {
  const { warden, config, logger } = ctx;
  router.get(
    '/policy',
    adminOnly,
    route(() => ({
      ...warden.policy.status(),
      mode: config.policy.mode,
      workflow_status: warden.policy.hasEntrypoint(WORKFLOW_STATUS_ENTRYPOINT),
    })),
  );

  // The same requests `warden policy rollback|reload` write to the control file, answered at once.
  router.post(
    '/policy/:action',
    adminOnly,
    route(async (req, res) => {
      const action = String(req.params['action']);
      if (action !== 'rollback' && action !== 'reload')
        throw new HttpError(404, 'not_found', `no policy action ${action} (known: rollback, reload)`);
      const result = await warden.policy.handleControl({
        id: randomUUID(),
        action,
        requested_at: new Date().toISOString(),
      });
      logger.info(`policy ${action} through the admin API`, {
        by: caller(res).principal.sub,
        ok: result.ok,
        message: result.message,
        revision: result.revision,
      });
      if (!result.ok) throw new HttpError(409, `policy_${action}_failed`, result.message);
      return result;
    }),
  );
}

/** `GET /compliance`, `GET /audit/report` and `GET /audit/verify` (admins): reports over the audit trail. */
export function reportRoutes(router: Router, ctx: AdminContext): void {
  const { view, liveById, liveElsewhere, statusOf, readAll } = ctx;
  const verification = chainVerifier(ctx.warden, ctx.config);
  router.get(
    '/compliance',
    adminOnly,
    route(async (req) => {
      await view.sync();
      const from = time(req.query['from'], 'from');
      const to = time(req.query['to'], 'to');
      const bucket = typeof req.query['bucket'] === 'string' ? req.query['bucket'] : '';
      const query = { ...(from ? { from } : {}), ...(to ? { to } : {}), ...(bucket ? { bucket } : {}) };
      const liveSessions = liveById();
      const sessions = view.allSessions().reverse();
      const elsewhere = sessions.filter(liveElsewhere).map((row) => row.session_id);
      try {
        return await complianceReport(sessions, query, {
          live: new Set([...liveSessions.keys(), ...elsewhere]),
          status: (row) => statusOf(row, liveSessions.get(row.session_id)),
        });
      } catch (err) {
        if (err instanceof ReportError) throw new HttpError(400, 'bad_request', err.message);
        throw err;
      }
    }),
  );

  router.get(
    '/audit/report',
    adminOnly,
    route(async (req, res) => {
      const session =
        typeof req.query['session'] === 'string' && req.query['session'] !== '' ? req.query['session'] : undefined;
      const since = time(req.query['from'] ?? req.query['since'], 'from');
      const until = time(req.query['to'] ?? req.query['until'], 'to');
      const format = typeof req.query['format'] === 'string' ? req.query['format'] : 'json';
      if (!['json', 'csv', 'text'].includes(format))
        throw new HttpError(400, 'bad_request', 'format must be json, csv or text');
      const records = await readAll({
        ...(session ? { session } : {}),
        ...(since ? { since } : {}),
        ...(until ? { until } : {}),
      });
      const check = await verification();
      const name = `warden-audit${session ? `-${session.slice(0, 8)}` : ''}`;
      res.set(
        'X-Warden-Chain',
        check.result.ok
          ? `ok; ${check.result.count} records`
          : `failed at seq ${check.result.seq}: ${check.result.problem}`,
      );
      if (format === 'csv') {
        res.type('text/csv; charset=utf-8').set('Content-Disposition', `attachment; filename="${name}.csv"`);
        res.send(csvHeader() + records.map(toCsvLine).join(''));
        return undefined;
      }
      if (format === 'text') {
        if (!session) throw new HttpError(400, 'bad_request', 'format text needs a session');
        try {
          res.type('text/plain; charset=utf-8').send(formatSessionReport(buildSessionReport(session, records)));
        } catch (err) {
          if (err instanceof AuditError) throw new HttpError(404, 'session_not_found', err.message);
          throw err;
        }
        return undefined;
      }
      if (req.query['download'] === '1') res.set('Content-Disposition', `attachment; filename="${name}.json"`);
      const reports = session ? [buildSessionReport(session, records)] : buildSessionReports(records);
      if (session && reports[0]!.calls.length === 0 && !reports[0]!.opened && records.length === 0)
        throw new HttpError(
          404,
          'session_not_found',
          `no audit records for session ${session}${since || until ? ' in this range' : ''}`,
        );
      return {
        version: 1,
        generated_at: new Date().toISOString(),
        range: { from: since ?? null, to: until ?? null },
        session: session ?? null,
        records: records.length,
        first_seq: records[0]?.seq ?? null,
        last_seq: records[records.length - 1]?.seq ?? null,
        verification: { ...check.result, checked_at: check.checked_at },
        totals: sumTotals(reports.map((r) => r.totals)),
        sessions: reports,
      };
    }),
  );

  router.get(
    '/audit/verify',
    adminOnly,
    route(async () => {
      const check = await verification();
      return { ...check.result, checked_at: check.checked_at, head: check.head };
    }),
  );
}

/** `GET /events`: the live event stream; approvers who are not admins see only the approvals they may answer. */
export function eventRoutes(router: Router, ctx: AdminContext): void {
  const { live } = ctx;
  router.get('/events', (req, res) => {
    const c = caller(res);
    const filter = (event: LiveEvent): boolean => {
      if (c.admin) return true;
      if (event.type !== 'approval.pending' && event.type !== 'approval.resolved') return false;
      return visibleApproval(c, event.data['approval'] as PendingApproval);
    };
    live.stream(req, res, filter);
  });
}

// --- helpers ----------------------------------------------------------------------------------

// Cached per session and revision, failures too: a status rule over its evaluation budget is not
// run again (holding up the policy's worker for every call) until the session or policy changes.
function workflowStatusReader(warden: Warden, config: WardenConfig): AdminContext['statusOf'] {
  const statusCache = new Map<string, { key: string; status: WorkflowStatus }>();
  const statusOf = async (
    row: SessionRow | undefined,
    liveState: LiveSessionState | undefined,
  ): Promise<WorkflowStatus> => {
    const revision = warden.policy.revision ?? '';
    const key = liveState ? `live:${revision}:${liveState.calls}` : `rec:${revision}:${row?.last_seq ?? 0}`;
    const id = liveState?.id ?? row!.session_id;
    const cached = statusCache.get(id);
    if (cached && cached.key === key) return cached.status;
    const input = liveState ? liveState.input() : inputFromRecords(row!, config.session);
    const status = await evaluateWorkflowStatus(warden.policy, input);
    if (statusCache.size > 5000) statusCache.clear();
    statusCache.set(id, { key, status });
    return status;
  };
  return statusOf;
}

async function readAll(
  warden: Warden,
  query: { session?: string; since?: string; until?: string },
): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const record of recordsAfter(warden.audit, 0, query, REPORT_PAGE)) {
    if (out.length === MAX_REPORT_RECORDS) {
      throw new HttpError(
        413,
        'range_too_large',
        `more than ${MAX_REPORT_RECORDS} records match; narrow the range (from, to) or use 'warden audit export'`,
      );
    }
    out.push(record);
  }
  return out;
}

/** `verifyChain` over the trail, run again only when its head moved. */
function chainVerifier(warden: Warden, config: WardenConfig) {
  let verified: { key: string; result: VerifyResult; checked_at: string } | null = null;
  const verification = async (): Promise<{
    result: VerifyResult;
    checked_at: string;
    head: { seq: number; hash: string } | null;
  }> => {
    const head = await warden.audit.head();
    const key = head ? `${head.seq}:${head.hash}` : 'empty';
    if (!verified || verified.key !== key) {
      const store = warden.audit as Partial<ChainStore>;
      const result: VerifyResult =
        typeof store.state === 'function' && typeof store.scan === 'function'
          ? await verifyChain(warden.audit as ChainStore, {
              // A moved base is only trusted with its archives: look where retention writes them.
              archives: config.audit.retention ? listArchives(config.audit.retention.archiveDir) : [],
              checkpointEvery: config.audit.checkpointEvery,
            })
          : {
              ok: false,
              seq: 0,
              problem: 'truncated',
              detail: 'this audit store cannot be verified from here',
              source: 'store',
            };
      verified = { key, result, checked_at: new Date().toISOString() };
    }
    return { result: verified.result, checked_at: verified.checked_at, head };
  };
  return verification;
}

/**
 * Whether a recorded session is open on another replica: only a shared (PostgreSQL) trail has
 * other replicas. A session of this replica's name that is open in the trail but not here was left
 * open by an earlier run of it that died. A replica that dies leaves its open sessions listed as
 * open on the others: nothing records their end (docs/scaling.md, "Not done yet").
 */
function openOnOtherReplica(warden: Warden, config: WardenConfig): (row: SessionRow) => boolean {
  const shared = (warden.audit as Partial<ChainStore>).kind === 'postgres';
  return (row) =>
    shared &&
    row.opened_at !== null &&
    row.closed_at === null &&
    row.instance !== null &&
    row.instance !== config.instance;
}

/** A session as the admin API lists it; `place` says whether it is open, and on which replica. */
function sessionItem(
  row: SessionRow | undefined,
  liveState: LiveSessionState | undefined,
  place: { live: boolean; instance: string | null },
): Record<string, unknown> {
  const calls = row?.calls ?? [];
  let allowed = 0;
  let denied = 0;
  let held = 0;
  let violations = 0;
  for (const c of calls) {
    const s = summarize(c);
    if (s.outcome === 'held') held++;
    else if (s.allow) allowed++;
    else denied++;
    if (violationRules(s).length > 0) violations++;
  }
  const principal = liveState?.principal ?? row?.principal;
  return {
    session_id: liveState?.id ?? row!.session_id,
    live: place.live,
    instance: place.instance,
    opened_at: row?.opened_at ?? liveState?.startedAt ?? null,
    closed_at: row?.closed_at ?? null,
    client: liveState?.client ?? row?.client ?? null,
    principal: principal ? { sub: principal.sub ?? null, roles: principal.roles ?? [] } : null,
    calls: calls.length,
    allowed,
    denied,
    held,
    violations,
    last_at: calls.length ? calls[calls.length - 1]!.last_at : (row?.opened_at ?? liveState?.startedAt ?? null),
  };
}

function callItem(c: CallRow): Record<string, unknown> {
  const s = summarize(c);
  return {
    call_id: c.call_id,
    decision_id: s.decision_id,
    decision_ids: c.decisions.map((d) => d.decision_id),
    session_id: c.session_id,
    seq: c.seq,
    at: c.at,
    kind: c.kind,
    server: c.server,
    name: c.name,
    outcome: s.outcome,
    allow: s.allow,
    reasons: s.reasons,
    monitored: s.monitored,
    revision: s.revision,
    mode: s.mode,
    held: s.held,
    duration_ms: s.duration_ms,
    violation: violationRules(s).length > 0,
    approval: c.approval,
    error: c.decisions[c.decisions.length - 1]?.error?.message ?? c.completed?.error ?? null,
  };
}

// Approvers see the approvals their roles may answer, their own included (answering those is
// refused by the broker unless the policy allows self-approval).
function visibleApproval(c: Caller, a: PendingApproval): boolean {
  if (c.admin) return true;
  const allowed = a.approvers.length ? a.approvers : [ADMIN_ROLE];
  return c.approver.roles.some((r) => allowed.includes(r));
}

/**
 * What waits for an approver: the calls this replica holds, then those of the shared trail (held
 * by another replica, or left pending for a retry), each once.
 */
async function waitingApprovals(ctx: AdminContext): Promise<(PendingApproval & { state: 'held' | 'pending' })[]> {
  const { warden, config } = ctx;
  const here = warden.approvals.list().map((a) => ({ ...a, state: 'held' as const }));
  await warden.recordedApprovals.sync();
  const seen = new Set(here.map((a) => a.id));
  const elsewhere = warden.recordedApprovals
    .waiting()
    .filter((a) => !seen.has(a.id))
    .map((a) => ({ ...pendingOf(a, config.approval.retryWithinMs), state: a.state as 'held' | 'pending' }));
  return [...here, ...elsewhere];
}

/**
 * Answers an approval this replica does not hold, in the audit trail: the replica holding the
 * call reads it there, or a retry of a pending call spends it.
 */
async function answerRecorded(
  ctx: AdminContext,
  id: string,
  approver: { sub: string; roles: readonly string[] },
  approve: boolean,
  comment: string | undefined,
): Promise<{
  outcome: string;
  granted: boolean;
  by: string;
  via: 'admin';
  comment?: string;
  at: string;
  message: string;
}> {
  const { warden, config } = ctx;
  await warden.recordedApprovals.sync();
  const recorded = warden.recordedApprovals.get(id);
  if (!recorded || recorded.state === 'answered')
    throw new ApprovalError(
      'approval_not_found',
      `no pending approval ${id} (it may have been answered, timed out or cancelled, or be older than approval.retryWithinMs)`,
    );
  const refusal = mayApprove(pendingOf(recorded, config.approval.retryWithinMs), approver, 'admin');
  if (refusal) throw new ApprovalError('approval_forbidden', refusal);
  const outcome = approve ? 'approved' : 'declined';
  const note = comment ? { comment } : {};
  const record = await warden.audit.append(
    approvalAnswered(recorded.session_id, {
      call_id: id,
      outcome,
      by: approver.sub,
      via: 'admin',
      comment: comment ?? null,
    }),
  );
  const message = approve
    ? recorded.state === 'pending'
      ? `approved by ${approver.sub}: one retry of ${recorded.call.name} with the same arguments may now run`
      : `approved by ${approver.sub}`
    : `${approver.sub} denied the approval for ${recorded.call.name}${comment ? `: ${comment}` : ''}`;
  return { outcome, granted: approve, by: approver.sub, via: 'admin', ...note, at: record.at, message };
}

/** A recorded approval as the admin API lists it: expiring when its retry window ends. */
function pendingOf(a: RecordedApproval, retryWithinMs: number): PendingApproval {
  return {
    id: a.id,
    session_id: a.session_id,
    principal: a.principal,
    call: a.call,
    ...(a.reason ? { reason: a.reason } : {}),
    approvers: a.approvers,
    allow_self_approval: a.allow_self_approval,
    requested_at: a.requested_at,
    expires_at: new Date(Date.parse(a.requested_at) + retryWithinMs).toISOString(),
  };
}

function time(value: unknown, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new HttpError(400, 'bad_request', `${name} must be a time`);
  try {
    return parseTimeArg(value);
  } catch (err) {
    throw new HttpError(400, 'bad_request', `${name}: ${describeError(err)}`);
  }
}

/** What the admin API answers for `err`: its own HttpError, express's body-parser failures, or a 500. */
function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.parse.failed') return new HttpError(400, 'bad_request', 'the body is not valid JSON');
  if (type === 'entity.too.large') return new HttpError(413, 'too_large', 'the body is larger than 64 kB');
  return new HttpError(500, 'internal_error', describeError(err), { cause: err });
}

function sumTotals(list: SessionReport['totals'][]): SessionReport['totals'] {
  const sum: SessionReport['totals'] = { calls: 0, allowed: 0, denied: 0, succeeded: 0, failed: 0, would_deny: 0 };
  for (const t of list) for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += t[k];
  return sum;
}

function paging(req: Request, fallback: number, max: number): { limit: number; offset: number } {
  const limit = Number(req.query['limit'] ?? fallback);
  const offset = Number(req.query['offset'] ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || limit > max)
    throw new HttpError(400, 'bad_request', `limit must be an integer from 1 to ${max}`);
  if (!Number.isInteger(offset) || offset < 0)
    throw new HttpError(400, 'bad_request', 'offset must be a non-negative integer');
  return { limit, offset };
}
