import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CompletionInfo, DecisionInfo, PipelineObserver, ToolChangeInfo } from '../proxy/index.js';

/** What a scrape reads from the live front end: open sessions and each one's downstream states. */
export interface MetricsSource {
  sessionsOpen(): number;
  /** Every open session's downstream servers, by server name. */
  downstreamStates(): Iterable<{ server: string; up: boolean }>;
}

/**
 * Prometheus metrics of one Warden process, in their own registry (several Wardens can live in one
 * test process). Decision and call metrics come from the call pipeline through `observer`; session
 * and downstream gauges are read from `MetricsSource` at scrape time.
 *
 * @example
 * ```ts
 * const metrics = new WardenMetrics();
 * const warden = await createWarden(config, logger, { observer: metrics.observer });
 * res.type(metrics.contentType).send(await metrics.render());
 * ```
 */
export class WardenMetrics {
  readonly registry = new Registry();
  readonly observer: PipelineObserver;
  private source: MetricsSource | null = null;
  private readonly lastUp = new Map<string, number>();
  private readonly authFailures: Counter<'reason'>;
  private readonly sessionsRefused: Counter<'reason'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    // A decision with several reasons counts once under each of its rules; the decision histogram's
    // _count is the exact number of decisions.
    const decisions = new Counter({
      name: 'warden_decisions_total',
      help: 'Policy decisions by result (allow, deny, monitored: policy denied but monitor mode allowed, error: policy failure, denied) and rule (empty when no reason was given).',
      labelNames: ['result', 'rule'] as const,
      registers,
    });
    const decisionSeconds = new Histogram({
      name: 'warden_decision_duration_seconds',
      help: 'Time spent evaluating the policy for one decision.',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers,
    });
    const callSeconds = new Histogram({
      name: 'warden_call_duration_seconds',
      help: 'Time from a call reaching Warden to its result, by downstream server and outcome (success, error, denied).',
      labelNames: ['server', 'outcome'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    const toolChanges = new Counter({
      name: 'warden_tool_changes_total',
      help:
        'Tool definitions this process recorded as changed (tool.changed) or suspicious (the definition check found ' +
        'something), by server, tool, status and on_change (mcpServers.<name>.tools.onChange).',
      labelNames: ['server', 'tool', 'status', 'on_change'] as const,
      registers,
    });
    const self = this;
    new Gauge({
      name: 'warden_sessions_open',
      help: 'MCP sessions open on the HTTP front end.',
      registers,
      collect() {
        this.set(self.source?.sessionsOpen() ?? 0);
      },
    });
    new Gauge({
      name: 'warden_downstream_up',
      help: "1 when the server's connection is up in every open session, 0 when it is down in any; with no session open, the last value seen.",
      labelNames: ['server'] as const,
      registers,
      collect() {
        const now = new Map<string, number>();
        for (const { server, up } of self.source?.downstreamStates() ?? [])
          now.set(server, Math.min(now.get(server) ?? 1, up ? 1 : 0));
        for (const [server, value] of now) self.lastUp.set(server, value);
        for (const [server, value] of self.lastUp) this.set({ server }, value);
      },
    });
    this.authFailures = new Counter({
      name: 'warden_http_auth_failures_total',
      help: 'HTTP requests refused by authentication, by reason.',
      labelNames: ['reason'] as const,
      registers,
    });
    this.sessionsRefused = new Counter({
      name: 'warden_sessions_refused_total',
      help:
        'MCP initialize requests refused by a session cap, by reason: per_principal (http.maxSessionsPerPrincipal) ' +
        'or total (http.maxSessions).',
      labelNames: ['reason'] as const,
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'warden_' });

    this.observer = {
      onDecision(info: DecisionInfo) {
        const result = info.error ? 'error' : info.allow ? (info.policy_allow ? 'allow' : 'monitored') : 'deny';
        const rules = (info.allow ? info.monitored : info.reasons).map((r) => r.rule);
        if (rules.length === 0) decisions.inc({ result, rule: '' });
        for (const rule of new Set(rules)) decisions.inc({ result, rule });
        decisionSeconds.observe(info.eval_ns / 1e9);
      },
      onCompleted(info: CompletionInfo) {
        callSeconds.observe({ server: info.call.server, outcome: info.outcome }, info.duration_ms / 1000);
      },
      onToolChanged(info: ToolChangeInfo) {
        toolChanges.inc({ server: info.server, tool: info.tool, status: info.status, on_change: info.on_change });
      },
    };
  }

  /** Connects the scrape-time gauges to the running front end. */
  attach(source: MetricsSource): void {
    this.source = source;
  }

  authFailed(reason: string): void {
    this.authFailures.inc({ reason });
  }

  /** An initialize refused by a session cap. */
  sessionRefused(reason: 'per_principal' | 'total'): void {
    this.sessionsRefused.inc({ reason });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
