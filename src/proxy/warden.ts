import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { ApprovalBroker } from '../approval/index.js';
import {
  applyMasks,
  applyRetention,
  createDecisionLog,
  createRedactor,
  newDecisionId,
  openAuditStore,
  sessionClosed,
  sessionOpened,
  type AuditStore,
  type DecisionLogEvent,
  type DecisionLogSink,
} from '../audit/index.js';
import { deferred, describeError, type Logger } from '../common/index.js';
import type { Principal, WardenConfig } from '../config/index.js';
import { DownstreamPool } from '../downstream/index.js';
import { MASK_ENTRYPOINT, PolicyRuntime, runtimeOptionsFromConfig } from '../policy/index.js';
import { Session, type ClientInfo, type InputDocument, type PendingCall } from '../session/index.js';
import { CallPipeline } from './pipeline.js';
import type { AuditPort, PipelineObserver } from './ports.js';
import { SessionGate } from './gate.js';
import { createProxyServer, type UpstreamRelay } from './server.js';

export const WARDEN_NAME = 'mcp-warden';

/** How often audit.retention moves old records to archives (also once at start). */
const RETENTION_INTERVAL_MS = 6 * 60 * 60 * 1000;
export const WARDEN_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** One client connection: its session state, its downstream connections and its MCP server. */
export interface ProxySession {
  readonly session: Session;
  /** Resolves once the client's initialize has been answered and downstream servers are up. */
  readonly ready: Promise<void>;
  /** The session's downstream connections (null until the client's initialize arrives). */
  readonly pool: DownstreamPool | null;
  /** The MCP server this session's client talks to (null until initialize). */
  readonly server: Server | null;
  close(): Promise<void>;
}
/** A live client session, as read-only views (the admin API, the dashboard) see it. */
export interface LiveSessionState {
  readonly id: string;
  readonly client: ClientInfo;
  readonly principal: Principal;
  readonly startedAt: string;
  /** Calls decided so far. */
  readonly calls: number;
  /**
   * The session's input document as the policy would see it now, for a neutral call (kind tool,
   * empty names and arguments): what read-only entrypoints such as `mcp/workflow/status` take.
   */
  input(nowMs?: number): InputDocument;
}

/** A session opening (its client's initialize was answered) or closing, for live views. */
export type SessionEvent =
  | { type: 'session.opened'; session_id: string; client: ClientInfo; principal: Principal; at: string }
  | { type: 'session.closed'; session_id: string; calls: number; at: string };

const NEUTRAL_CALL: PendingCall = Object.freeze({
  kind: 'tool',
  server: '',
  tool: '',
  name: '',
  arguments: {},
  annotations: {},
}) as PendingCall;

/**
 * The running product: policy, audit trail, decision log and the call pipeline, shared by every
 * client session. Fronts (stdio, HTTP) attach sessions to it.
 */
export class Warden {
  readonly instanceId = randomUUID();
  private readonly sessions = new Set<ProxySession>();
  private readonly sessionListeners = new Set<(event: SessionEvent) => void>();

  private constructor(
    readonly config: WardenConfig,
    readonly logger: Logger,
    readonly policy: PolicyRuntime,
    readonly audit: AuditStore,
    private readonly decisionLog: DecisionLogSink,
    readonly pipeline: CallPipeline,
    /** Calls held for approval; the admin API and dashboard answer them through `decide`. */
    readonly approvals: ApprovalBroker,
    private readonly adminState: { enabled: boolean },
    private readonly retentionTimer: NodeJS.Timeout | null = null,
  ) {}

  /**
   * The sessions whose client has initialized, as read-only snapshots (newest last).
   *
   * @example
   * ```ts
   * for (const s of warden.liveSessions()) await runtime.evaluateEntrypoint('mcp/workflow/status', s.input());
   * ```
   */
  liveSessions(): LiveSessionState[] {
    return [...this.sessions]
      .filter((p) => p.server !== null)
      .map(({ session }) => ({
        id: session.id,
        client: session.client,
        principal: session.principal,
        startedAt: session.startedAt,
        calls: session.callCount,
        input: (nowMs = Date.now()) => session.buildInput(NEUTRAL_CALL, nowMs),
      }));
  }

  /** Calls `listener` when a session opens or closes. Returns an unsubscribe function. */
  onSessionEvent(listener: (event: SessionEvent) => void): () => void {
    this.sessionListeners.add(listener);
    return () => this.sessionListeners.delete(listener);
  }

  private emitSession(event: SessionEvent): void {
    for (const listener of this.sessionListeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.warn('session listener failed', { error: describeError(err) });
      }
    }
  }

  /** Called by a front that serves the admin API: held calls then wait for approvers (until the timeout). */
  enableAdminApprovals(): void {
    this.adminState.enabled = true;
  }

  /** Loads the policy and opens the records. Throws (at start-up) with a message naming what to fix. */
  static async create(
    config: WardenConfig,
    logger: Logger,
    options: { observer?: PipelineObserver } = {},
  ): Promise<Warden> {
    const policy = new PolicyRuntime(runtimeOptionsFromConfig(config), {
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

    const redactKey = config.audit.redactKey ?? loadOrCreateRedactKey(config.audit.store, logger);
    const redaction = createRedaction(config.audit.redact, redactKey);

    const audit = await openAuditStore(config.audit.store, {
      checkpointEvery: config.audit.checkpointEvery,
      synchronous: config.audit.synchronous,
      ...(config.audit.signingKey ? { signingKey: readFileSync(config.audit.signingKey, 'utf8') } : {}),
      redact: redaction.record,
    });
    const retention = config.audit.retention;
    let retentionTimer: NodeJS.Timeout | null = null;
    if (retention) {
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
      retentionTimer = setInterval(() => void archive(), RETENTION_INTERVAL_MS);
      retentionTimer.unref();
    }
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
    const auditPort: AuditPort = { append: (e) => audit.append(e) };
    const labels = { id: randomUUID(), version: WARDEN_VERSION };
    // The admin channel exists once an HTTP front serves the admin API (enableAdminApprovals).
    const adminState = { enabled: false };
    const approvals = new ApprovalBroker({
      timeoutMs: config.approval.timeoutMs,
      keepAliveMs: config.approval.progressIntervalMs,
      adminChannel: () => adminState.enabled,
    });
    const pipeline = new CallPipeline({
      policy,
      mode: config.policy.mode,
      audit: auditPort,
      auditOnFailure: config.audit.onFailure,
      // A multi-bundle policy lists each bundle's revision in the decision log, as OPA does.
      decisionLog: { write: (event) => decisionLog.write({ ...event, bundles: policy.expandBundles(event.bundles) }) },
      ...(options.observer ? { observer: options.observer } : {}),
      labels,
      bundleName: () => policy.bundleName,
      logger,
      auditResultMaxChars: config.audit.resultMaxChars,
      argumentLimits: { maxDepth: config.limits.argumentsMaxDepth, maxBytes: config.limits.argumentsMaxBytes },
      redactArguments: redaction.arguments,
      approvals,
      newId: newDecisionId,
    });
    return new Warden(config, logger, policy, audit, decisionLog, pipeline, approvals, adminState, retentionTimer);
  }

  /**
   * Attaches a client session to a transport. The session's downstream connections start when the
   * client's `initialize` arrives, declaring the client's own capabilities (sampling, elicitation,
   * roots) so servers offer what they would offer that client directly; the server Warden presents
   * offers the union of what they offer. Returns at once; `ready` settles after initialize.
   */
  async openSession(transport: Transport, principal: Principal = this.config.identity): Promise<ProxySession> {
    const session = new Session(randomUUID(), principal, new Date().toISOString(), this.config.session);
    let pool: DownstreamPool | null = null;
    let server: Server | null = null;
    let closed = false;
    const initialized = deferred<void>();
    const ready = initialized.promise;
    ready.catch(() => undefined);

    const proxySession: ProxySession = {
      session,
      ready,
      get pool() {
        return pool;
      },
      get server() {
        return server;
      },
      close: async () => {
        if (closed) return;
        closed = true;
        this.sessions.delete(proxySession);
        try {
          if (server) {
            this.emitSession({
              type: 'session.closed',
              session_id: session.id,
              calls: session.callCount,
              at: new Date().toISOString(),
            });
            await this.audit.append(sessionClosed(session.id, { calls: session.callCount })).catch((err: unknown) =>
              this.logger.error('audit trail could not record session.closed', {
                session_id: session.id,
                error: describeError(err),
              }),
            );
          }
        } finally {
          await pool?.close();
          await (server ? server.close() : transport.close()).catch(() => undefined);
        }
      },
    };

    const gate = new SessionGate(transport, async (initialize) => {
      try {
        const params = (initialize.params ?? {}) as { capabilities?: ClientCapabilities };
        let relay: UpstreamRelay | null = null;
        pool = new DownstreamPool(this.config.servers, {
          clientInfo: { name: WARDEN_NAME, version: WARDEN_VERSION },
          capabilities: mirrorCapabilities(params.capabilities ?? {}),
          logger: this.logger,
          hooks: {
            onToolsChanged: () => void server?.sendToolListChanged().catch(() => undefined),
            onServerExit: (_name, detail) =>
              void server
                ?.sendLoggingMessage({ level: 'warning', logger: WARDEN_NAME, data: detail })
                .catch(() => undefined),
            onNotification: (name, notification) => relay?.notify(name, notification),
            onRequest: (name, request, signal) => {
              if (!relay) return Promise.reject(new Error('session is not initialized'));
              return relay.request(name, request, signal);
            },
          },
        });
        await pool.start();
        const instructions = pool.servers
          .map((s) => s.instructions && `[${s.name}] ${s.instructions}`)
          .filter(Boolean)
          .join('\n\n');
        const created = createProxyServer({
          pool,
          pipeline: this.pipeline,
          session,
          logger: this.logger,
          serverInfo: { name: WARDEN_NAME, version: WARDEN_VERSION },
          capabilities: pool.capabilities(),
          maxUriLength: this.config.limits.maxUriLength,
          ...(instructions ? { instructions } : {}),
          onInitialized: () => {
            const opened = { client: session.client, principal: session.principal, started_at: session.startedAt };
            this.audit.append(sessionOpened(session.id, opened)).catch((err: unknown) =>
              this.logger.error('audit trail could not record session.opened', {
                session_id: session.id,
                error: describeError(err),
              }),
            );
            this.emitSession({
              type: 'session.opened',
              session_id: session.id,
              client: session.client,
              principal: session.principal,
              at: new Date().toISOString(),
            });
            this.logger.info('session opened', {
              session_id: session.id,
              client: session.client,
              principal: session.principal.sub,
              tools: pool?.listTools().length,
            });
          },
        });
        server = created.server;
        relay = created.relay;
        server.onclose = () => void proxySession.close();
        await server.connect(gate);
        initialized.resolve();
      } catch (err) {
        this.logger.error(describeError(err), { session_id: session.id });
        initialized.reject(err);
        await pool?.close();
        pool = null;
        throw err;
      }
    });
    gate.onclose = () => void proxySession.close();
    this.sessions.add(proxySession);
    await gate.open();
    return proxySession;
  }

  /** Closes every session, then the records. */
  async close(): Promise<void> {
    this.policy.stop();
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    try {
      await Promise.all([...this.sessions].map((s) => s.close()));
    } finally {
      await this.decisionLog.close().catch(() => undefined);
      await this.audit
        .close()
        .catch((err: unknown) => this.logger.error('audit store did not close cleanly', { error: describeError(err) }));
    }
  }
}

/**
 * One redaction (`audit.redact`, one HMAC key) for everything a person or a log sees: audit records,
 * decision-log lines, and the arguments shown to approvers (admin API, live events, elicitation).
 * Each value is replaced once, from its own text, so a secret gets the same mark in all of them.
 * Names match at any depth; pointers (`/card/number`) are relative to a call's arguments.
 */
function createRedaction(
  rules: readonly string[],
  secret: string,
): {
  record: (data: Record<string, unknown>) => Record<string, unknown>;
  decision: (event: DecisionLogEvent) => DecisionLogEvent;
  arguments: (args: Record<string, unknown>) => Record<string, unknown>;
} {
  if (rules.length === 0) return { record: (data) => data, decision: (event) => event, arguments: (args) => args };
  const keys = rules.filter((r) => !r.startsWith('/'));
  const pointers = rules.filter((r) => r.startsWith('/'));
  const argumentsOf = (value: unknown): unknown =>
    value && typeof value === 'object' ? (value as Record<string, unknown>)['arguments'] : undefined;
  const record = createRedactor({ keys, pointers, secret, pointersFrom: (data) => [argumentsOf(data)] });
  const decision = createRedactor({
    keys,
    pointers,
    secret,
    pointersFrom: (event) => {
      const input = (event as { input?: { call?: unknown; history?: unknown } }).input;
      return [argumentsOf(input?.call), ...(Array.isArray(input?.history) ? input.history.map(argumentsOf) : [])];
    },
  });
  return {
    record: (data) => record(data) as Record<string, unknown>,
    // The input (the call, its history) and the policy's result; the rest is Warden's own metadata.
    decision: (event) => {
      const redacted = decision({ input: event.input, result: event.result });
      return { ...event, ...(redacted as Pick<DecisionLogEvent, 'input' | 'result'>) };
    },
    arguments: (args) => (record({ arguments: args }) as { arguments: Record<string, unknown> }).arguments,
  };
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

/** The capabilities a downstream server sees: the client's own, for what Warden relays. */
function mirrorCapabilities(client: ClientCapabilities): ClientCapabilities {
  const mirrored: ClientCapabilities = {};
  if (client.sampling) mirrored.sampling = client.sampling;
  if (client.elicitation) mirrored.elicitation = client.elicitation;
  if (client.roots) mirrored.roots = client.roots;
  return mirrored;
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
