import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Logger } from '../common/index.js';
import type { TelemetryConfig } from '../config/index.js';
import type { CallTracer, PipelineObserver } from '../proxy/index.js';
import { OtelCallTracer } from './call-tracer.js';
import { otelMetrics } from './metrics.js';

/** Warden's traces, when an exporter is configured: the tracer, and the flush that ends them. */
export interface Telemetry {
  readonly tracer: CallTracer;
  /** The pipeline's metrics, as the Prometheus ones; open sessions are counted by `countSessions`. */
  readonly observer: PipelineObserver;
  /** Where the open-sessions gauge reads its value (set once Warden exists). */
  countSessions(count: () => number): void;
  /** Exports the spans still buffered, then stops the exporter. */
  shutdown(): Promise<void>;
}

/**
 * Opens OpenTelemetry tracing when `telemetry.otlp` or the OTEL_* environment names an exporter
 * (OTEL_TRACES_EXPORTER=otlp, OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
 * OTEL_TRACES_EXPORTER=none and OTEL_SDK_DISABLED=true turn it off. Null when off: no provider,
 * no exporter, and the pipeline traces nothing.
 *
 * @example
 * ```ts
 * const telemetry = openTelemetry(config.telemetry, { instance: 'a', version: '1.0.0' }, logger);
 * ```
 */
export function openTelemetry(
  config: TelemetryConfig,
  service: { instance: string; version: string },
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Telemetry | null {
  if (!exporterWanted(config, env, logger)) return null;
  // Without telemetry.otlp the exporter reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout) itself.
  const exporter = new OTLPTraceExporter(
    config.otlp ? { url: signalUrl(config.otlp.endpoint, 'traces'), headers: { ...config.otlp.headers } } : {},
  );
  const resource = resourceFromAttributes({
    'service.name': config.serviceName ?? nonEmpty(env['OTEL_SERVICE_NAME']) ?? 'mcp-warden',
    'service.version': service.version,
    'service.instance.id': service.instance,
  });
  const provider = new TracerProvider({ resource, spanProcessors: [new BatchSpanProcessor({ exporter })] });
  // Metrics go where the config or OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT says, every
  // OTEL_METRIC_EXPORT_INTERVAL ms (60 s by default) and at shutdown; OTEL_METRICS_EXPORTER=none: none.
  const readers = metricsWanted(config, env)
    ? [
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter(
            config.otlp ? { url: signalUrl(config.otlp.endpoint, 'metrics'), headers: { ...config.otlp.headers } } : {},
          ),
          exportIntervalMillis: Number(nonEmpty(env['OTEL_METRIC_EXPORT_INTERVAL']) ?? 60_000),
        }),
      ]
    : [];
  const meters = new MeterProvider({ resource, readers });
  let sessions = (): number => 0;
  const observer = otelMetrics(meters.getMeter('mcp-warden', service.version), () => sessions());
  logger.info('OpenTelemetry traces and metrics on', {
    endpoint: config.otlp?.endpoint ?? 'from OTEL_EXPORTER_OTLP_*',
  });
  return {
    tracer: new OtelCallTracer(provider.getTracer('mcp-warden', service.version)),
    observer,
    countSessions: (count) => {
      sessions = count;
    },
    shutdown: async () => {
      await Promise.allSettled([provider.shutdown(), meters.shutdown()]);
    },
  };
}

function exporterWanted(config: TelemetryConfig, env: NodeJS.ProcessEnv, logger: Logger): boolean {
  if (nonEmpty(env['OTEL_SDK_DISABLED'])?.toLowerCase() === 'true') return false;
  const exporters = (nonEmpty(env['OTEL_TRACES_EXPORTER']) ?? '').split(',').map((e) => e.trim().toLowerCase());
  if (exporters.includes('none')) return false;
  const others = exporters.filter((e) => e && e !== 'otlp');
  if (others.length)
    logger.warn('OTEL_TRACES_EXPORTER names exporters Warden does not ship; only otlp is used', { ignored: others });
  return (
    config.otlp !== undefined ||
    exporters.includes('otlp') ||
    nonEmpty(env['OTEL_EXPORTER_OTLP_ENDPOINT']) !== undefined ||
    nonEmpty(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) !== undefined
  );
}

function metricsWanted(config: TelemetryConfig, env: NodeJS.ProcessEnv): boolean {
  const exporters = (nonEmpty(env['OTEL_METRICS_EXPORTER']) ?? '').split(',').map((e) => e.trim().toLowerCase());
  if (exporters.includes('none')) return false;
  return (
    config.otlp !== undefined ||
    nonEmpty(env['OTEL_EXPORTER_OTLP_ENDPOINT']) !== undefined ||
    nonEmpty(env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT']) !== undefined
  );
}

/** OTLP/HTTP's rule for a base endpoint: each signal goes to <endpoint>/v1/<signal>. */
function signalUrl(endpoint: string, signal: 'traces' | 'metrics'): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/${signal}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
