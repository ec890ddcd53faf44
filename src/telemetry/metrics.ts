import type { Meter } from '@opentelemetry/api';
import type { CompletionInfo, DecisionInfo, PipelineObserver, ToolChangeInfo } from '../proxy/index.js';

/**
 * The pipeline's metrics as OpenTelemetry instruments, named and labelled as the Prometheus ones
 * of `GET /metrics` (docs/http.md): decisions by result and rule, decision and call durations,
 * tool definition changes, and the open sessions (read at export time from `sessionsOpen`).
 */
export function otelMetrics(meter: Meter, sessionsOpen: () => number): PipelineObserver {
  const decisions = meter.createCounter('warden_decisions_total', {
    description: 'Policy decisions by result (allow, deny, monitored, error) and rule (empty when none).',
  });
  const decisionSeconds = meter.createHistogram('warden_decision_duration_seconds', {
    description: 'Time spent evaluating the policy for one decision.',
    unit: 's',
  });
  const callSeconds = meter.createHistogram('warden_call_duration_seconds', {
    description: 'Time from a call reaching Warden to its result, by downstream server and outcome.',
    unit: 's',
  });
  const toolChanges = meter.createCounter('warden_tool_changes_total', {
    description: 'Tool definitions recorded as changed or suspicious, by server, tool, status and tools.onChange.',
  });
  meter
    .createObservableGauge('warden_sessions_open', { description: 'MCP sessions open.' })
    .addCallback((result) => result.observe(sessionsOpen()));
  return {
    onDecision(info: DecisionInfo) {
      // As the Prometheus counter: a decision with several reasons counts once under each rule.
      const result = info.error ? 'error' : info.allow ? (info.policy_allow ? 'allow' : 'monitored') : 'deny';
      const rules = new Set((info.allow ? info.monitored : info.reasons).map((r) => r.rule));
      if (rules.size === 0) decisions.add(1, { result, rule: '' });
      for (const rule of rules) decisions.add(1, { result, rule });
      decisionSeconds.record(info.eval_ns / 1e9);
    },
    onCompleted(info: CompletionInfo) {
      callSeconds.record(info.duration_ms / 1000, { server: info.call.server, outcome: info.outcome });
    },
    onToolChanged(info: ToolChangeInfo) {
      toolChanges.add(1, { server: info.server, tool: info.tool, status: info.status, on_change: info.on_change });
    },
  };
}
