import type { AuditRecord, TrailFollower } from '../audit/index.js';
import { describeError, type Logger } from '../common/index.js';
import { AuditFold } from '../reports/index.js';

/** How often the shared trail is read for what other replicas did. */
const FEED_POLL_MS = 1000;
/** Calls in flight the feed's fold keeps (the oldest go first). */
const MAX_CALLS = 5000;

/**
 * Replicas that share a PostgreSQL trail see each other's activity live: this follows the trail
 * from its end (through the process's one {@link TrailFollower}, which it asks to read the store
 * every second) and publishes, as live events, the sessions, decisions and completions that other
 * replicas recorded (each with the replica's `instance`). This replica's own records are published
 * by its pipeline already, so they are skipped. Returns the function that stops it.
 */
export function followReplicas(
  trail: TrailFollower,
  live: { publish(type: string, data: Record<string, unknown>): void },
  logger: Logger,
): () => void {
  const fold = new AuditFold({ maxCalls: MAX_CALLS, forgetSettled: true });
  let stopped = false;
  let leave = (): void => undefined;
  let joined: Promise<void> | null = null;
  const join = (): Promise<void> =>
    (joined ??= trail.join({ add: (record, own) => publish(record, own) }, 'end').then(
      (stop) => {
        if (stopped) stop();
        else leave = stop;
      },
      (err: unknown) => {
        joined = null;
        throw err;
      },
    ));
  const publish = (record: AuditRecord, mine: boolean): void => {
    for (const step of fold.add(record)) {
      if (mine) continue;
      const instance = fold.session(record.session_id)?.instance ?? null;
      if (step.kind === 'session.opened') {
        const { client, principal } = step.record.data;
        live.publish('session.opened', { session_id: record.session_id, client, principal, at: record.at, instance });
      } else if (step.kind === 'session.closed') {
        live.publish('session.closed', {
          session_id: record.session_id,
          calls: step.record.data.calls,
          at: record.at,
          instance,
        });
      } else if (step.kind === 'call.decided') {
        const d = step.decision;
        live.publish('decision', {
          decision_id: d.decision_id,
          session_id: record.session_id,
          call: { kind: step.call.kind, server: step.call.server, name: step.call.name },
          allow: d.allow,
          policy_allow: d.policy_allow,
          mode: d.mode,
          reasons: d.reasons,
          monitored: d.monitored,
          revision: d.revision,
          ...(d.error ? { error: d.error.message } : {}),
          at: record.at,
          instance,
        });
      } else if (step.kind === 'call.settled' && step.settled.decision === 'allow') {
        live.publish('completion', {
          decision_id: step.call.decisions.at(-1)?.decision_id ?? step.call.call_id,
          session_id: record.session_id,
          call: { kind: step.call.kind, server: step.call.server, name: step.call.name },
          outcome: step.settled.outcome,
          duration_ms: step.settled.duration_ms,
          at: record.at,
          instance,
        });
      }
    }
  };
  join().catch(() => undefined); // from the trail's end now; the timer tries again and reports failures
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    join()
      .then(() => trail.catchUp())
      .catch((err: unknown) =>
        logger.warn('cannot read the shared trail for other replicas', { error: describeError(err) }),
      )
      .finally(() => (busy = false));
  }, FEED_POLL_MS);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
    leave();
  };
}
