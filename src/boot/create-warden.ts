import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ApprovalBroker } from '../approval/index.js';
import {
  applyMasks,
  applyRetention,
  createDecisionLog,
  createRedaction,
  newDecisionId,
  openAuditStore,
  TrailFollower,
  type ChainStore,
  type DecisionLogEvent,
  type DecisionLogSink,
} from '../audit/index.js';
import { openPolicyRuntime, runtimeSpecFromConfig } from '../bundles/index.js';
import { describeError, type Logger } from '../common/index.js';
import type { WardenConfig } from '../config/index.js';
import { MASK_ENTRYPOINT, type PolicyRuntime } from '../policy/index.js';
import {
  CallPipeline,
  composeObservers,
  Warden,
  WARDEN_VERSION,
  type GrantPort,
  type PipelineObserver,
  ToolPinning,
} from '../proxy/index.js';
import { ApprovalLedger, HistoryService, ToolPinLedger } from '../reports/index.js';
import { openTelemetry } from '../telemetry/index.js';

/** How often audit.retention moves old records to archives (also once at start). */
const RETENTION_INTERVAL_MS = 6 * 60 * 60 * 1000;

/**
 * The composition root: loads the policy, opens the audit trail and the decision log, starts the
 * retention timer and wires them into one {@link Warden}. Throws (at start-up) with a message
 * naming what to fix; what it had started by then is stopped again.
 *
 * @example
 * ```ts
 * const warden = await createWarden(config, logger, { observer: metrics.observer });
 * ```
 */
export async function createWarden(
  config: WardenConfig,
  logger: Logger,
  options: { observer?: PipelineObserver } = {},
): Promise<Warden> {
  const policy = await startPolicy(config, logger);
  try {
    const redaction = createRedaction(
      config.audit.redact,
      config.audit.redactKey ?? loadOrCreateRedactKey(config.audit.store, logger),
    );
    const audit = await openAuditStore(config.audit.store, {
      checkpointEvery: config.audit.checkpointEvery,
      synchronous: config.audit.synchronous,
      ...(config.audit.signingKey ? { signingKey: readFileSync(config.audit.signingKey, 'utf8') } : {}),
      redact: redaction.record,
      ...(config.audit.chain === 'instance' ? { chain: config.instance } : {}),
    });
    const retention = config.audit.retention ? await startRetention(audit, config.audit.retention, logger) : null;
    const ties = config.audit.chain === 'instance' ? startTies(audit, config.audit.tieEveryMs, logger) : null;
    // One follower reads the trail for every read model of it: each page read once, fed to all.
    const trail = new TrailFollower(audit, { onError: (message) => logger.error(message) });
    const unfollow = audit.onAppended((record) => trail.appended(record));
    // The read model of the trail answers the history the policy declares it reads; replicas that
    // share a PostgreSQL trail read each other's records from it before every decision.
    const history = new HistoryService({
      policy,
      store: audit,
      trail,
      follow: audit.kind === 'postgres',
      resultMaxChars: config.session.resultMaxChars,
      ...(config.session.tenantClaim ? { tenantClaim: config.session.tenantClaim } : {}),
      onError: (message) => logger.error(message),
    });
    const ledger = new ApprovalLedger({ store: audit, trail, retryWithinMs: config.approval.retryWithinMs });
    // Tool pins are few and must be seen within 2 s on SQLite too (warden tools accept writes from
    // another process): the ledger reads only the trail's tool records, itself (followToolPins).
    const pins = new ToolPinLedger(audit);
    const unpin = audit.onAppended((record) => pins.apply(record));
    const decisionLog = withPolicyMasks(
      policy,
      logger,
      createDecisionLog({
        ...(config.decisionLogs.file ? { file: config.decisionLogs.file } : {}),
        stderr: config.decisionLogs.stderr,
        ...(config.decisionLogs.service ? { service: config.decisionLogs.service, logger } : {}),
        mask: redaction.decision,
      }),
    );
    // The admin channel exists once an HTTP front serves the admin API (enableAdminApprovals).
    const adminState = { enabled: false };
    const approvals = new ApprovalBroker({
      timeoutMs: config.approval.timeoutMs,
      keepAliveMs: config.approval.progressIntervalMs,
      adminChannel: () => adminState.enabled,
      retryWithinMs: config.approval.retryWithinMs,
    });
    const answers = audit.kind === 'postgres' ? followAnswers(ledger, approvals, logger) : null;
    if (audit.kind === 'postgres' && !config.approval.stateKey)
      logger.warn(
        'approval.stateKey is not set: approvals are bound to arguments under a key of this process, so a retry ' +
          'that another replica receives cannot spend an approval given here. Fix: set the same approval.stateKey on every replica.',
      );
    // Off (null) unless telemetry.otlp or the OTEL_* environment names an exporter.
    const telemetry = openTelemetry(config.telemetry, { instance: config.instance, version: WARDEN_VERSION }, logger);
    const observer = observerOf(options.observer, telemetry?.observer);
    const pinning = new ToolPinning({
      pins,
      audit,
      policy,
      onChange: (server) => config.servers.find((s) => s.name === server)?.tools.onChange ?? 'deny',
      instance: config.instance,
      logger,
      ...observer,
    });
    const followPins = await followToolPins(pins, logger);
    const pipeline = new CallPipeline({
      policy,
      mode: config.policy.mode,
      audit: { append: (e) => audit.append(e), appendAll: (events) => audit.appendAll(events) },
      history,
      grants: grantsOf(ledger, audit),
      auditOnFailure: config.audit.onFailure,
      // A multi-bundle policy lists each bundle's revision in the decision log, as OPA does.
      decisionLog: { write: (event) => decisionLog.write({ ...event, bundles: policy.expandBundles(event.bundles) }) },
      ...observer,
      ...(telemetry ? { tracer: telemetry.tracer } : {}),
      pins: pinning,
      // OPA's labels.id names the instance: here the configured replica name, stable across restarts.
      labels: { id: config.instance, version: WARDEN_VERSION },
      bundleName: () => policy.bundleName,
      logger,
      auditResultMaxChars: config.audit.resultMaxChars,
      argumentLimits: { maxDepth: config.limits.argumentsMaxDepth, maxBytes: config.limits.argumentsMaxBytes },
      redactArguments: redaction.arguments,
      approvals,
      newId: newDecisionId,
    });
    const stop = (): void => {
      unfollow();
      unpin();
      clearInterval(followPins);
      if (answers) clearInterval(answers);
      if (retention) clearInterval(retention);
      if (ties) clearInterval(ties);
    };
    const parts = { config, logger, policy, audit, trail, decisionLog, pipeline, approvals, adminState };
    const warden = new Warden({
      ...parts,
      recordedApprovals: ledger,
      pinning,
      stop,
      ...(telemetry ? { telemetry } : {}),
    });
    telemetry?.countSessions(() => warden.liveSessions().length);
    return warden;
  } catch (err) {
    policy.stop();
    throw err;
  }
}

/** The pipeline's observer: the front's, the telemetry's, both, or none. */
function observerOf(...observers: (PipelineObserver | undefined)[]): { observer?: PipelineObserver } {
  const present = observers.filter((o): o is PipelineObserver => o !== undefined);
  if (present.length === 0) return {};
  return { observer: present.length === 1 ? present[0]! : composeObservers(...present) };
}

/** How often a replica looks in the shared trail for answers to the calls it holds. */
const ANSWER_POLL_MS = 1000;

/** Approvals left pending and answered since: one retry spends one, claimed in the store. */
function grantsOf(ledger: ApprovalLedger, store: ChainStore): GrantPort {
  return {
    usable: async (principal, name, digest) => {
      await ledger.sync();
      const found = ledger.usable(principal, name, digest);
      if (!found?.answer) return undefined;
      const { by, comment, at } = found.answer;
      return { id: found.id, by: by ?? 'unknown', at, ...(comment ? { comment } : {}) };
    },
    spend: (id) => store.claim(`approval:${id}`),
  };
}

/**
 * Replicas share the trail: an approver may answer, through another replica's admin API, a call
 * this one holds. While it holds calls, it reads the trail for their answers.
 */
function followAnswers(ledger: ApprovalLedger, broker: ApprovalBroker, logger: Logger): NodeJS.Timeout {
  const timer = setInterval(() => {
    const held = broker.list();
    if (held.length === 0) return;
    ledger.sync().then(
      () => {
        for (const { id } of held) {
          const answer = ledger.get(id)?.answer;
          if (!answer || answer.via !== 'admin' || !answer.by) continue;
          const approve = answer.outcome === 'approved';
          broker.answeredElsewhere(id, {
            approve,
            by: answer.by,
            ...(answer.comment ? { comment: answer.comment } : {}),
          });
        }
      },
      (err: unknown) => logger.warn('cannot read the shared trail for approval answers', { error: describeError(err) }),
    );
  }, ANSWER_POLL_MS);
  timer.unref();
  return timer;
}

/**
 * How often the pins are read from the trail: an acceptance made elsewhere (`warden tools accept`,
 * another replica's admin API) takes effect here within this, well inside the 2 s promised.
 */
const PIN_POLL_MS = 1000;

/** Reads the pins once now (all of the trail), then what was appended since, every {@link PIN_POLL_MS}. */
async function followToolPins(pins: ToolPinLedger, logger: Logger): Promise<NodeJS.Timeout> {
  await pins.sync();
  const timer = setInterval(() => {
    pins
      .sync()
      .catch((err: unknown) => logger.warn('cannot read tool pins from the trail', { error: describeError(err) }));
  }, PIN_POLL_MS);
  timer.unref();
  return timer;
}

/** Loads the configured policy, logging swaps, refusals and failed downloads. */
async function startPolicy(config: WardenConfig, logger: Logger): Promise<PolicyRuntime> {
  const policy = openPolicyRuntime(runtimeSpecFromConfig(config), {
    onActivated: (revision, source, info) =>
      logger.info('policy activated', {
        revision,
        source,
        previous_revision: info.previous,
        reason: info.reason,
        bundles: info.bundles,
      }),
    onRejected: (error, source, info) =>
      logger.error('policy bundle refused; the active policy stays', {
        source,
        error,
        code: info.code,
        ...(info.location ? { location: info.location } : {}),
      }),
    onSourceError: (error, bundle) =>
      logger.warn('policy bundle download failed; the active policy stays', { bundle, error }),
    onWarning: (message) => logger.warn(message),
  });
  await policy.start();
  return policy;
}

/** Archives old records once now, then every {@link RETENTION_INTERVAL_MS}. Returns the timer. */
async function startRetention(
  audit: ChainStore,
  retention: NonNullable<WardenConfig['audit']['retention']>,
  logger: Logger,
): Promise<NodeJS.Timeout> {
  const archive = (): Promise<void> =>
    applyRetention(audit, retention).then(
      (r) => {
        if (r) logger.info('audit records archived', { file: r.file, from_seq: r.from_seq, to_seq: r.to_seq });
      },
      (err: unknown) => {
        logger.error('audit retention failed; records stay in the live store', { error: describeError(err) });
      },
    );
  await archive();
  const timer = setInterval(() => void archive(), RETENTION_INTERVAL_MS);
  timer.unref();
  return timer;
}

// With one chain per replica: a signed tie over every chain's head now and then (the store writes one at close).
function startTies(audit: ChainStore, everyMs: number, logger: Logger): NodeJS.Timeout {
  const timer = setInterval(() => {
    audit.tie().catch((err: unknown) => {
      logger.error('could not write an audit tie over the chain heads; the next one is tried in audit.tieEveryMs', {
        error: describeError(err),
      });
    });
  }, everyMs);
  timer.unref();
  return timer;
}

// A stable key makes equal secrets hash equally across restarts (correlation without disclosure).
function loadOrCreateRedactKey(store: string, logger: Logger): string {
  if (!store.startsWith('sqlite:')) {
    logger.warn(
      'audit.redactKey is not set: redacted values get a per-process key and cannot be correlated across restarts',
    );
    return randomBytes(32).toString('hex');
  }
  const file = `${store.slice('sqlite:'.length)}.redact-key`;
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32).toString('hex');
  writeFileSync(file, key + '\n', { mode: 0o600 });
  return key;
}

/**
 * A decision log that applies the policy's masks ({@link policyMasks}) before `sink` writes. The
 * mask rule is evaluated in the policy's worker, so its lines are written when it answers, in
 * the order the decisions were made; without a mask rule a line is written at once. `close`
 * writes what is still pending first.
 */
function withPolicyMasks(policy: PolicyRuntime, logger: Logger, sink: DecisionLogSink): DecisionLogSink {
  let pending = 0;
  let tail: Promise<void> = Promise.resolve();
  return {
    write: (event) => {
      if (pending === 0 && !policy.hasEntrypoint(MASK_ENTRYPOINT)) return sink.write(event);
      pending++;
      tail = tail.then(async () => {
        try {
          sink.write(await policyMasks(policy, logger, event));
        } catch (err) {
          logger.error('decision log write failed', { decision_id: event.decision_id, error: describeError(err) });
        } finally {
          pending--;
        }
      });
    },
    close: async () => {
      await tail;
      await sink.close();
    },
    ...(sink.uploadStats ? { uploadStats: () => sink.uploadStats!() } : {}),
  };
}

/**
 * OPA's decision-log masking: when the active policy defines `data.system.log.mask`, it is
 * evaluated with the event as input and its pointers (or {op, path, value} objects) remove or
 * replace parts of the event before it is written; `erased` / `masked` list what changed.
 */
async function policyMasks(policy: PolicyRuntime, logger: Logger, event: DecisionLogEvent): Promise<DecisionLogEvent> {
  if (!policy.hasEntrypoint(MASK_ENTRYPOINT)) return event;
  const masks = await policy.evaluateEntrypoint(MASK_ENTRYPOINT, event);
  if (!masks.ok) {
    // Fail safe: a mask rule that cannot answer must not let the unmasked input through.
    logger.error('system.log.mask failed; the decision is logged without its input', {
      decision_id: event.decision_id,
      error: masks.message,
    });
    return { ...event, input: undefined, erased: ['/input'] };
  }
  return applyMasks(event as unknown as Record<string, unknown>, masks.result, {
    onError: (mask, message) =>
      logger.warn('system.log.mask returned an unusable mask', {
        decision_id: event.decision_id,
        mask,
        error: message,
      }),
  }) as unknown as DecisionLogEvent;
}
