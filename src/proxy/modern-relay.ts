import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ElicitRequestSchema, McpError, ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  createRequestStateCodec,
  inputRequired,
  ProtocolError,
  Server as ModernServer,
  type RequestStateCodec,
  type ServerCapabilities,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { canonicalJson, describeError, JsonRpcErrorCode, type Logger } from '../common/index.js';
import type { Principal } from '../config/index.js';
import { traceId } from '../session/index.js';
import { ROUND_META_KEY, stripPrefix } from './server.js';
import { WARDEN_NAME, WARDEN_VERSION, type ProxySession, type Warden } from './warden.js';

/** The stateless revision this front serves beside the handshake-era sessions of front.ts. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

const CLIENT_INFO_META = 'io.modelcontextprotocol/clientInfo';
const CLIENT_CAPABILITIES_META = 'io.modelcontextprotocol/clientCapabilities';
/** A relayed call may wait minutes for a person's approval; Warden's own hold timeout ends it first. */
const RELAY_TIMEOUT_MS = 24 * 60 * 60 * 1000;
/**
 * The requests a 2026-07-28 client sends that Warden relays. `ping`, `logging/setLevel` and
 * `resources/subscribe|unsubscribe` are gone from this revision; `subscriptions/listen` is not
 * relayed yet (docs/protocol.md).
 */
const RELAYED_METHODS = {
  'tools/list': 'tools',
  'tools/call': 'tools',
  'resources/list': 'resources',
  'resources/templates/list': 'resources',
  'resources/read': 'resources',
  'prompts/list': 'prompts',
  'prompts/get': 'prompts',
  'completion/complete': 'completions',
} as const;
type RelayedMethod = keyof typeof RELAYED_METHODS;
/**
 * Warden merges lists across servers without carrying their TTLs (a handshake-era server gives
 * none): the merge's is 0.
 * Private, too, and it must stay so: lists are filtered per principal (`mcp/visible`), so one
 * principal's list must never be served from a shared cache to another.
 */
const LIST_CACHE = { ttlMs: 0, cacheScope: 'private' } as const;

/**
 * Warden's own key in `inputRequests`/`inputResponses`: namespaced apart from the keys of a
 * downstream server's own rounds, which are relayed beside it.
 */
export const APPROVAL_INPUT_KEY = 'mcp-warden.dev/approval';

export interface ModernRelayOptions {
  warden: Warden;
  logger: Logger;
  /** `http.idleTimeoutMs`: a history scope without a request for this long is closed (0: never). */
  idleTimeoutMs: number;
  /** `approval.stateKey`: seals approval rounds; undefined: a key for this process only. */
  stateKey: string | undefined;
  /** How long an approval round's requestState stays valid (`approval.timeoutMs`). */
  stateTtlMs: number;
}

/**
 * What a requestState Warden mints carries: the call it was asked for (the tool, prompt name or
 * resource URI, and a digest of the arguments), and either Warden's own approval round or a
 * downstream server's round, whose own requestState rides inside.
 */
interface SealedState {
  /** sha256 of the principal's key: a state is refused when another principal echoes it. */
  principal: string;
  tool: string;
  arguments_digest: string;
  /** A downstream server's round (absent: Warden's approval round). */
  downstream?: { state?: string };
}

/** One relayed request in flight: how the approval gate's elicitation for it is answered. */
interface Round {
  /** This request's `clientCapabilities` include elicitation. */
  canElicit: boolean;
  /** The person's answer from a verified retry, handed to the gate when it asks. */
  answer: { action: string; content?: Record<string, unknown> } | undefined;
  /** The gate asks and no answer is at hand: the round ends with input_required. */
  ask(params: { message: string; requestedSchema: Record<string, unknown> }): void;
}

/**
 * One history scope of 2026-07-28 traffic: the requests of one principal within one W3C trace (or
 * without one), as docs/protocol.md describes. It is an ordinary Warden session (policy history,
 * approvals, audit records, downstream connections), driven through an in-process handshake-era
 * client: the call pipeline, the approval gate and the downstream pool serve both eras unchanged.
 */
interface Scope {
  readonly key: string;
  readonly session: ProxySession;
  readonly client: Client;
  lastUsed: number;
  inflight: number;
}

/** Who a request is for, and its history scope: built by the front that received it. */
export interface ScopeTicket {
  principal: Principal;
  principalKey: string;
  scopeKey: string;
  clientInfo: { name: string; version: string };
}

/**
 * The 2026-07-28 side of both fronts, below the v2 SDK's wire handling (createMcpHandler on HTTP,
 * serveStdio on stdio): builds the SDK server a request is served by, binds it to its history
 * scope, relays it to that scope's session, and turns the approval gate's question into an
 * input_required round with a sealed requestState (docs/protocol.md).
 */
export class ModernRelay {
  private readonly scopes = new Map<string, Promise<Scope>>();
  private readonly tickets = new Map<string, ScopeTicket>();
  private readonly reaper: NodeJS.Timeout | undefined;
  private readonly rounds = new Map<string, Round>();
  private readonly codec: RequestStateCodec<SealedState>;

  private warnedKey = false;

  constructor(private readonly options: ModernRelayOptions) {
    // Bound to the principal through the payload's digest of it (verifyState), not the codec's
    // bind: one server instance serves a stdio connection, whose requests carry no HTTP context.
    this.codec = createRequestStateCodec<SealedState>({
      key: options.stateKey ?? randomBytes(32),
      ttlSeconds: Math.max(1, Math.ceil(options.stateTtlMs / 1000)),
    });
    if (options.idleTimeoutMs > 0) {
      this.reaper = setInterval(() => void this.reapIdle(), Math.min(options.idleTimeoutMs, 30_000));
      this.reaper.unref();
    }
  }

  /** Open history scopes (of one principal, by its key): they count against the front's session caps. */
  scopeCount(principalKey?: string): number {
    if (principalKey === undefined) return this.scopes.size;
    return [...this.tickets.values()].filter((t) => t.principalKey === principalKey).length;
  }

  hasScope(ticket: ScopeTicket): boolean {
    return this.scopes.has(ticket.scopeKey);
  }

  async close(): Promise<void> {
    if (this.reaper) clearInterval(this.reaper);
    const scopes = [...this.scopes.values()];
    this.scopes.clear();
    this.tickets.clear();
    await Promise.all(scopes.map((s) => s.then((scope) => scope.session.close()).catch(() => undefined)));
  }

  /** A v2 SDK server for one request (HTTP) or one connection (stdio), bound to its history scope. */
  async serverFor(ticket: ScopeTicket): Promise<ModernServer> {
    const scope = await this.scope(ticket);
    const capabilities = (scope.session.pool?.capabilities() ?? {}) as ServerCapabilities;
    const server = new ModernServer(
      { name: WARDEN_NAME, version: WARDEN_VERSION },
      {
        capabilities,
        cacheHints: {
          'tools/list': LIST_CACHE,
          'prompts/list': LIST_CACHE,
          'resources/list': LIST_CACHE,
          'resources/templates/list': LIST_CACHE,
          'resources/read': LIST_CACHE,
          'server/discover': LIST_CACHE,
        },
        requestState: { verify: (state) => this.verifyState(state, ticket) },
      },
    );
    // Each relayed method has its own handler, so any other method is the SDK's -32601 at HTTP 404.
    for (const [method, capability] of Object.entries(RELAYED_METHODS) as [RelayedMethod, keyof ServerCapabilities][]) {
      if (!capabilities[capability]) continue; // the SDK refuses a handler for an undeclared capability
      server.setRequestHandler(method, ((request: { params?: Record<string, unknown> }, reqCtx: ServerContext) =>
        this.relay(scope, ticket, method, request.params ?? {}, reqCtx)) as never);
    }
    return server;
  }

  /**
   * Relays one request to the scope's session. A call the approval gate holds ends this round
   * with input_required (the gate's question, and a requestState sealed to the call and the
   * principal); the retry carries the person's answer, which the gate gets when it asks again.
   */
  private async relay(
    scope: Scope,
    ticket: ScopeTicket,
    method: string,
    params: Record<string, unknown>,
    ctx: ServerContext,
  ): Promise<Record<string, unknown>> {
    scope.lastUsed = Date.now();
    scope.inflight += 1;
    const roundId = randomUUID();
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    ctx.mcpReq.signal.addEventListener('abort', onAbort, { once: true });
    let ask!: (params: { message: string; requestedSchema: Record<string, unknown> }) => void;
    const asked = new Promise<{ message: string; requestedSchema: Record<string, unknown> }>((r) => (ask = r));
    const capabilities = (envelopeOf(ctx)[CLIENT_CAPABILITIES_META] ?? {}) as Record<string, unknown>;
    const sealed = this.retryState(method, params, ctx, ticket);
    this.rounds.set(roundId, {
      canElicit: !!capabilities['elicitation'],
      answer: method === 'tools/call' && sealed && !sealed.downstream ? approvalAnswer(ctx) : undefined,
      ask,
    });
    try {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      const { progressToken: _own, ...rest } = (ctx.mcpReq._meta ?? {}) as Record<string, unknown>;
      const meta = { ...rest, ...envelopeOf(ctx), [ROUND_META_KEY]: roundId };
      const forwarded = { ...downstreamRound(params, ctx, sealed), _meta: meta };
      const call = scope.client.request({ method, params: forwarded }, ResultSchema, {
        signal: stop.signal,
        timeout: RELAY_TIMEOUT_MS,
        resetTimeoutOnProgress: true,
        ...(progressToken !== undefined
          ? {
              onprogress: (p) =>
                void ctx.mcpReq
                  .notify({ method: 'notifications/progress', params: { ...p, progressToken } })
                  .catch(() => undefined),
            }
          : {}),
      });
      const first = await Promise.race([call.then((result) => ({ result })), asked.then((question) => ({ question }))]);
      if ('result' in first) return this.sealDownstreamRound(method, params, first.result, ticket);
      stop.abort();
      call.catch(() => undefined);
      this.warnPerProcessKey();
      const state: SealedState = {
        principal: principalDigest(ticket),
        tool: targetOf(method, params),
        arguments_digest: argumentsDigest(params['arguments']),
      };
      return inputRequired({
        inputRequests: { [APPROVAL_INPUT_KEY]: { method: 'elicitation/create', params: first.question } } as never,
        requestState: await this.codec.mint(state),
      }) as unknown as Record<string, unknown>;
    } catch (err) {
      if (err instanceof McpError) throw new ProtocolError(err.code, stripPrefix(err.message, err.code), err.data);
      throw err;
    } finally {
      ctx.mcpReq.signal.removeEventListener('abort', onAbort);
      this.rounds.delete(roundId);
      scope.inflight -= 1;
      scope.lastUsed = Date.now();
    }
  }

  /** Said once, when the first approval round is sealed with a key only this process holds. */
  private warnPerProcessKey(): void {
    if (this.options.stateKey || this.warnedKey) return;
    this.warnedKey = true;
    this.options.logger.warn(
      'approval.stateKey is not set: approvals asked of 2026-07-28 clients are sealed with a per-process key, ' +
        'so their retries must reach this same Warden instance. Fix: set approval.stateKey (32+ characters, ' +
        'the same on every instance)',
    );
  }

  /**
   * The SDK's requestState hook, before anything runs: a state that is not Warden's, expired, or
   * minted for another principal is refused (the SDK answers -32602).
   */
  private async verifyState(state: string, ticket: ScopeTicket): Promise<SealedState> {
    let payload: SealedState | undefined;
    let reason: string;
    try {
      payload = await this.codec.verify(state, undefined as never);
      reason = payload.principal === principalDigest(ticket) ? '' : 'another principal';
    } catch (err) {
      reason = describeError(err);
    }
    if (payload && !reason) return payload;
    this.options.logger.warn('2026-07-28 retry refused: requestState is invalid', {
      reason,
      principal: ticket.principal.sub,
    });
    throw new Error(`requestState refused: ${reason}`);
  }

  /**
   * The verified state a retry carries, for the call it was sealed to; a state sealed to another
   * call (another tool, prompt or resource, other arguments) is refused.
   */
  private retryState(
    method: string,
    params: Record<string, unknown>,
    ctx: ServerContext,
    ticket: ScopeTicket,
  ): SealedState | undefined {
    const state = ctx.mcpReq.requestState<SealedState>();
    if (state === undefined) return undefined;
    if (
      typeof state !== 'object' ||
      state.tool !== targetOf(method, params) ||
      state.arguments_digest !== argumentsDigest(params['arguments'])
    ) {
      this.options.logger.warn('2026-07-28 retry refused: requestState was issued for another call', {
        principal: ticket.principal.sub,
        tool: targetOf(method, params),
      });
      throw new ProtocolError(
        JsonRpcErrorCode.InvalidParams,
        'requestState was issued for another call (another tool or other arguments): retry the call exactly as ' +
          'it was first sent, or send it again without requestState to be asked anew',
        { reason: 'request_state_mismatch' },
      );
    }
    return state;
  }

  /**
   * A downstream server's `input_required` result, relayed to the client with its requestState
   * sealed inside Warden's own: bound to this principal and this call, so one user cannot replay
   * another's round (the downstream sees Warden, not the user, as its client).
   */
  private async sealDownstreamRound(
    method: string,
    params: Record<string, unknown>,
    result: Record<string, unknown>,
    ticket: ScopeTicket,
  ): Promise<Record<string, unknown>> {
    if (result['resultType'] !== 'input_required') return result;
    const own = result['requestState'];
    const state: SealedState = {
      principal: principalDigest(ticket),
      tool: targetOf(method, params),
      arguments_digest: argumentsDigest(params['arguments']),
      downstream: typeof own === 'string' ? { state: own } : {},
    };
    return { ...result, requestState: await this.codec.mint(state) };
  }

  /** The approval gate asks the person at a 2026-07-28 client: answered from the retry, or by a new round. */
  private onElicit(params: Record<string, unknown>): { action: string; content?: Record<string, unknown> } {
    const roundId = (params['_meta'] as Record<string, unknown> | undefined)?.[ROUND_META_KEY];
    const round = typeof roundId === 'string' ? this.rounds.get(roundId) : undefined;
    if (!round)
      throw new McpError(
        JsonRpcErrorCode.MethodNotFound,
        'a downstream server asked for input during a 2026-07-28 call; relaying that as input_required is not ' +
          'supported yet',
      );
    if (!round.canElicit)
      throw new McpError(
        JsonRpcErrorCode.MethodNotFound,
        'the client did not declare elicitation: the call waits for an approver',
      );
    if (round.answer) {
      const answer = round.answer;
      round.answer = undefined;
      return answer;
    }
    round.ask({
      message: String(params['message'] ?? ''),
      requestedSchema: (params['requestedSchema'] ?? {}) as Record<string, unknown>,
    });
    return { action: 'cancel' };
  }

  /** The scope's session, opened on its first request; concurrent first requests share one. */
  private scope(ticket: ScopeTicket): Promise<Scope> {
    let scope = this.scopes.get(ticket.scopeKey);
    if (!scope) {
      scope = this.openScope(ticket);
      this.scopes.set(ticket.scopeKey, scope);
      this.tickets.set(ticket.scopeKey, ticket);
      scope.catch(() => {
        this.scopes.delete(ticket.scopeKey);
        this.tickets.delete(ticket.scopeKey);
      });
    }
    return scope;
  }

  private async openScope(ticket: ScopeTicket): Promise<Scope> {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const session = await this.options.warden.openSession(serverSide, ticket.principal);
    // The scope's client declares elicitation, so the approval gate's question can become an
    // input_required round of a client that declares it (Round.canElicit; others are held for an
    // approver). Sampling and roots requests of downstream servers are not relayed into rounds
    // yet, so it declares neither.
    const client = new Client(ticket.clientInfo, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, (request) =>
      this.onElicit((request.params ?? {}) as Record<string, unknown>),
    );
    try {
      await client.connect(clientSide);
      await session.ready;
    } catch (err) {
      await session.close();
      throw err;
    }
    const scope: Scope = { key: ticket.scopeKey, session, client, lastUsed: Date.now(), inflight: 0 };
    session.session.client = ticket.clientInfo;
    this.options.logger.info('2026-07-28 history scope opened', {
      session_id: session.session.id,
      principal: ticket.principal.sub,
    });
    return scope;
  }

  private async reapIdle(): Promise<void> {
    const cutoff = Date.now() - this.options.idleTimeoutMs;
    for (const [key, pending] of this.scopes) {
      const scope = await pending.catch(() => null);
      if (!scope || scope.inflight > 0 || scope.lastUsed > cutoff) continue;
      this.scopes.delete(key);
      this.tickets.delete(key);
      this.options.logger.info('2026-07-28 history scope closed: idle', { session_id: scope.session.session.id });
      await scope.session.close().catch(() => undefined);
    }
  }
}

/**
 * The ticket of a stateless request: its principal, and its history scope, which is the principal
 * together with the trace id of the W3C `traceparent` in `_meta` when there is one (HTTP), or a
 * fixed `scope` (stdio: the client process). Two principals never share a scope.
 */
export function scopeTicket(principal: Principal, meta: Record<string, unknown>, scope?: string): ScopeTicket {
  const trace = scope === undefined ? traceId(meta['traceparent']) : undefined;
  const info = meta[CLIENT_INFO_META] as { name?: unknown; version?: unknown } | undefined;
  const clientInfo = {
    name: typeof info?.name === 'string' ? info.name : 'unnamed-client',
    version: typeof info?.version === 'string' ? info.version : '0',
  };
  const principalKey = JSON.stringify([principal.sub, principal.claims['iss'] ?? null]);
  return { principal, principalKey, scopeKey: JSON.stringify([principalKey, scope ?? trace ?? null]), clientInfo };
}

/** The envelope keys the SDK lifted out of `_meta` (full `io.modelcontextprotocol/…` names), for the policy input. */
function envelopeOf(ctx: ServerContext): Record<string, unknown> {
  return { ...((ctx.mcpReq.envelope ?? {}) as Record<string, unknown>) };
}

function principalDigest(ticket: ScopeTicket): string {
  return createHash('sha256').update(ticket.principalKey).digest('hex');
}

/** The person's answer to Warden's approval question in a retry's inputResponses. */
function approvalAnswer(ctx: ServerContext): { action: string; content?: Record<string, unknown> } | undefined {
  const answer = ctx.mcpReq.inputResponses?.[APPROVAL_INPUT_KEY] as
    { action?: unknown; content?: Record<string, unknown> } | undefined;
  if (!answer || typeof answer.action !== 'string') return undefined;
  return { action: answer.action, ...(answer.content ? { content: answer.content } : {}) };
}

/**
 * The params relayed for one round: the client's inputResponses but Warden's own, and the
 * downstream server's requestState unsealed from Warden's (none on a first round or an approval
 * round). Nothing the client sends as requestState reaches a server unverified.
 */
function downstreamRound(
  params: Record<string, unknown>,
  ctx: ServerContext,
  sealed: SealedState | undefined,
): Record<string, unknown> {
  const { inputResponses: _responses, requestState: _state, ...rest } = params;
  const { [APPROVAL_INPUT_KEY]: _approval, ...responses } = (ctx.mcpReq.inputResponses ?? {}) as Record<
    string,
    unknown
  >;
  const state = sealed?.downstream?.state;
  return {
    ...rest,
    ...(Object.keys(responses).length ? { inputResponses: responses } : {}),
    ...(state !== undefined ? { requestState: state } : {}),
  };
}

/** What a round is bound to: the tool or prompt name, or the resource URI. */
function targetOf(method: string, params: Record<string, unknown>): string {
  return String(method === 'resources/read' ? params['uri'] : params['name']);
}

/** Digest of a call's arguments as sent (canonical JSON), to bind an approval round to them. */
function argumentsDigest(args: unknown): string {
  return createHash('sha256')
    .update(canonicalJson(args ?? {}) ?? '')
    .digest('hex');
}
