import type { Request, Response } from 'express';
import type { PendingApproval, ApprovalResult } from '../approval/index.js';
import type { CompletionInfo, DecisionInfo, PipelineObserver, SessionEvent, Warden } from '../proxy/index.js';
import type { ChainStore } from '../audit/index.js';
import { followReplicas } from './replica-feed.js';

/** The event types of `GET /admin/events` (docs/admin-api.md). */
export type LiveEventType =
  'decision' | 'completion' | 'approval.pending' | 'approval.resolved' | 'session.opened' | 'session.closed' | 'policy';

export interface LiveEvent {
  /** Monotonic per process; the SSE `id`, so a reconnecting client resumes with `Last-Event-ID`. */
  readonly id: number;
  readonly type: LiveEventType;
  readonly data: Record<string, unknown>;
}

/** Decides, per subscriber, which events it may see (non-admins see only approvals they may answer). */
export type LiveEventFilter = (event: LiveEvent) => boolean;

/** Events kept for clients that reconnect (`Last-Event-ID`). */
const REPLAY_EVENTS = 1000;
/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/** A subscriber that cannot keep up (this many bytes unsent) is dropped rather than buffered forever. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/**
 * The live feed behind the dashboard and `GET /admin/events`: decisions and completions from the
 * call pipeline, approvals pending and resolved from the broker, sessions opened and closed, and
 * policy swaps. Fans events out to Server-Sent Events streams and keeps the last few for replay.
 *
 * @example
 * ```ts
 * const live = new LiveEvents();
 * const warden = await createWarden(config, logger, { observer: live.observer });
 * live.attach(warden);
 * app.get('/admin/events', (req, res) => live.stream(req, res, () => true));
 * ```
 */
export class LiveEvents {
  readonly observer: PipelineObserver;
  private nextId = 1;
  private readonly recent: LiveEvent[] = [];
  private readonly subscribers = new Set<{
    filter: LiveEventFilter;
    send: (event: LiveEvent) => void;
    end: () => void;
  }>();
  private detachers: (() => void)[] = [];

  constructor() {
    this.observer = {
      onDecision: (info: DecisionInfo) => {
        this.publish('decision', {
          decision_id: info.decision_id,
          session_id: info.session_id,
          call: info.call,
          allow: info.allow,
          policy_allow: info.policy_allow,
          mode: info.mode,
          reasons: info.reasons,
          monitored: info.monitored,
          revision: info.revision,
          ...(info.error ? { error: info.error } : {}),
          at: new Date().toISOString(),
        });
      },
      onCompleted: (info: CompletionInfo) => {
        this.publish('completion', {
          decision_id: info.decision_id,
          session_id: info.session_id,
          call: info.call,
          outcome: info.outcome,
          duration_ms: info.duration_ms,
          at: new Date().toISOString(),
        });
      },
    };
  }

  /** Follows the Warden's approvals, sessions and policy swaps until {@link close}. */
  attach(warden: Warden): void {
    const onPending = (approval: PendingApproval): void => this.publish('approval.pending', { approval });
    const onResolved = (approval: PendingApproval, result: ApprovalResult): void =>
      this.publish('approval.resolved', { approval, result });
    warden.approvals.on('pending', onPending);
    warden.approvals.on('resolved', onResolved);
    this.detachers.push(() => {
      warden.approvals.off('pending', onPending);
      warden.approvals.off('resolved', onResolved);
    });
    this.detachers.push(
      warden.onSessionEvent((event: SessionEvent) => {
        const { type, ...data } = event;
        this.publish(type, data);
      }),
    );
    // Replicas sharing a PostgreSQL trail: what the others record is news here too.
    const store = warden.audit as Partial<ChainStore>;
    if (store.kind === 'postgres') this.detachers.push(followReplicas(warden.trail, this, warden.logger));
    // The runtime reports every status write; only a new revision or a new error is news.
    let last = `${warden.policy.revision ?? ''}|${warden.policy.status().last_error?.at ?? ''}`;
    this.detachers.push(
      warden.policy.onStatus((status) => {
        const key = `${status.active?.revision ?? ''}|${status.last_error?.at ?? ''}`;
        if (key === last) return;
        last = key;
        this.publish('policy', {
          revision: status.active?.revision ?? null,
          loaded_at: status.active?.loaded_at ?? null,
          reason: status.active?.reason ?? null,
          last_error: status.last_error,
          at: new Date().toISOString(),
        });
      }),
    );
  }

  publish(type: LiveEventType, data: Record<string, unknown>): void {
    const event: LiveEvent = { id: this.nextId++, type, data };
    this.recent.push(event);
    if (this.recent.length > REPLAY_EVENTS) this.recent.shift();
    for (const s of this.subscribers) {
      if (!s.filter(event)) continue;
      try {
        s.send(event);
      } catch {
        s.end();
      }
    }
  }

  /** Open SSE streams. */
  get streams(): number {
    return this.subscribers.size;
  }

  /**
   * Serves one Server-Sent Events stream until the client goes away: a `ready` event, the events
   * missed since `Last-Event-ID` (header, or `?last_event_id=`), then every new event `filter` lets through.
   */
  stream(req: Request, res: Response, filter: LiveEventFilter): void {
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx would otherwise buffer the stream.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    const write = (text: string): void => {
      res.write(text);
      if (res.writableLength > MAX_BUFFERED_BYTES) end();
    };
    const send = (event: LiveEvent): void =>
      write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
    const heartbeat = setInterval(() => write(`: keep-alive ${new Date().toISOString()}\n\n`), HEARTBEAT_MS);
    heartbeat.unref();
    const subscriber = {
      filter,
      send,
      end: () => end(),
    };
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      this.subscribers.delete(subscriber);
      res.end();
    };
    res.on('close', end);
    write(
      `retry: 2000\nevent: ready\ndata: ${JSON.stringify({ last_event_id: this.nextId - 1, at: new Date().toISOString() })}\n\n`,
    );
    const since = Number(req.headers['last-event-id'] ?? req.query['last_event_id']);
    if (Number.isSafeInteger(since) && since > 0) {
      for (const event of this.recent) if (event.id > since && filter(event)) send(event);
    }
    this.subscribers.add(subscriber);
  }

  /** Ends every stream and stops following the Warden. */
  close(): void {
    for (const d of this.detachers) d();
    this.detachers = [];
    for (const s of [...this.subscribers]) s.end();
  }
}
