import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { ApprovalBroker, ApprovalRecords } from '../approval/index.js';
import {
  sessionClosed,
  sessionOpened,
  type AuditStore,
  type DecisionLogSink,
  type TrailFollower,
} from '../audit/index.js';
import { deferred, describeError, Listeners, type Logger } from '../common/index.js';
import type { Principal, WardenConfig } from '../config/index.js';
import { DownstreamPool } from '../downstream/index.js';
import { MASK_ENTRYPOINT, PolicyRuntime } from '../policy/index.js';
import { Session, type ClientInfo, type InputDocument, type PendingCall } from '../session/index.js';
import { CallPipeline } from './pipeline.js';
import type { AuditPort, PipelineObserver } from './ports.js';
import { SessionGate } from './gate.js';
import { createProxyServer, type UpstreamRelay } from './server.js';
import type { ToolPinning } from './tool-pinning.js';
import { ListFilter } from './visibility.js';

export const WARDEN_NAME = 'mcp-warden';

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

/** What a Warden runs on, opened by the composition root (`createWarden` in the `boot` part). */
export interface WardenParts {
  readonly config: WardenConfig;
  readonly logger: Logger;
  readonly policy: PolicyRuntime;
  readonly audit: AuditStore;
  /** The process's one follower of the audit trail, which every read model of it joins. */
  readonly trail: TrailFollower;
  readonly decisionLog: DecisionLogSink;
  readonly pipeline: CallPipeline;
  readonly approvals: ApprovalBroker;
  /** Whether a front serves the admin API: set by {@link Warden.enableAdminApprovals}, read by the broker. */
  readonly adminState: { enabled: boolean };
  /** The approvals of the audit trail, every replica's (what waits for an approver). */
  readonly recordedApprovals: ApprovalRecords;
  /** Stops what the composition root started beside the parts (the retention timer). */
  readonly stop?: () => void;
  /** The trace exporter: its buffered spans are flushed on close, after the sessions' last calls. */
  readonly telemetry?: { shutdown(): Promise<void> };
  /** Pinned tool definitions: every session's tool lists are observed (the pipeline checks calls). */
  readonly pinning?: ToolPinning;
}

/**
 * The running product: policy, audit trail, decision log and the call pipeline, shared by every
 * client session. Fronts (stdio, HTTP) attach sessions to it.
 */
export class Warden {
  private readonly sessions = new Set<ProxySession>();
  private readonly sessionListeners = new Listeners<SessionEvent>();

  readonly config: WardenConfig;
  readonly logger: Logger;
  readonly policy: PolicyRuntime;
  readonly audit: AuditStore;
  /** The process's one follower of the audit trail: read models of it join it, not the store. */
  readonly trail: TrailFollower;
  readonly pipeline: CallPipeline;
  /** Calls held for approval; the admin API and dashboard answer them through `decide`. */
  readonly approvals: ApprovalBroker;
  /** The approvals of the audit trail, every replica's: the admin API lists and answers them too. */
  readonly recordedApprovals: ApprovalRecords;
  private readonly decisionLog: DecisionLogSink;
  private readonly adminState: { enabled: boolean };
  private readonly stopParts: () => void;
  private readonly telemetry: WardenParts['telemetry'];
  private readonly lists: ListFilter;
  private readonly pinning: ToolPinning | undefined;

  /** Warden on parts already opened; `createWarden` (the `boot` part) opens them from a config. */
  constructor(parts: WardenParts) {
    this.config = parts.config;
    this.logger = parts.logger;
    this.policy = parts.policy;
    this.audit = parts.audit;
    this.trail = parts.trail;
    this.pipeline = parts.pipeline;
    this.approvals = parts.approvals;
    this.recordedApprovals = parts.recordedApprovals;
    this.decisionLog = parts.decisionLog;
    this.adminState = parts.adminState;
    this.stopParts = parts.stop ?? (() => undefined);
    this.telemetry = parts.telemetry;
    this.pinning = parts.pinning;
    this.lists = new ListFilter(parts.policy, parts.logger, parts.config.policy.mode);
  }

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
    return this.sessionListeners.add(listener);
  }

  private emitSession(event: SessionEvent): void {
    this.sessionListeners.emit(event, (err) =>
      this.logger.warn('session listener failed', { error: describeError(err) }),
    );
  }

  /** Called by a front that serves the admin API: held calls then wait for approvers (until the timeout). */
  enableAdminApprovals(): void {
    this.adminState.enabled = true;
  }

  /**
   * Attaches a client session to a transport. The session's downstream connections start when the
   * client's `initialize` arrives, declaring the client's own capabilities (sampling, elicitation,
   * roots) so servers offer what they would offer that client directly; the server Warden presents
   * offers the union of what they offer. Returns at once; `ready` settles after initialize.
   */
  async openSession(transport: Transport, principal: Principal = this.config.identity): Promise<ProxySession> {
    const options = { ...this.config.session, digestKey: this.config.approval.stateKey };
    const session = new Session(randomUUID(), principal, new Date().toISOString(), options);
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
            onToolsChanged: (name) => {
              const changed = pool?.server(name);
              if (changed) void this.pinning?.observe(name, changed.tools);
              void server?.sendToolListChanged().catch(() => undefined);
            },
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
        // Pinned before the client can list or call anything: a changed tool is caught at start-up too.
        await Promise.all(pool.servers.map((s) => this.pinning?.observe(s.name, s.tools)));
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
          lists: this.lists,
          ...(instructions ? { instructions } : {}),
          onInitialized: () => {
            const opened = {
              client: session.client,
              principal: session.principal,
              started_at: session.startedAt,
              instance: this.config.instance,
            };
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
              // Each server's era, as learned when this session's connections started.
              eras: Object.fromEntries(pool?.servers.map((s) => [s.name, s.era]) ?? []),
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
    this.stopParts();
    try {
      await Promise.all([...this.sessions].map((s) => s.close()));
    } finally {
      await this.decisionLog.close().catch(() => undefined);
      await this.audit
        .close()
        .catch((err: unknown) => this.logger.error('audit store did not close cleanly', { error: describeError(err) }));
      await this.telemetry
        ?.shutdown()
        .catch((err: unknown) => this.logger.warn('trace exporter did not flush', { error: describeError(err) }));
    }
  }
}

/** The capabilities a downstream server sees: the client's own, for what Warden relays. */
function mirrorCapabilities(client: ClientCapabilities): ClientCapabilities {
  const mirrored: ClientCapabilities = {};
  if (client.sampling) mirrored.sampling = client.sampling;
  if (client.elicitation) mirrored.elicitation = client.elicitation;
  if (client.roots) mirrored.roots = client.roots;
  return mirrored;
}
