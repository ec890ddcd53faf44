import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { describeError } from '../common/index.js';
import type { CallSpan, CallStep, CallTracer, SpanValue } from '../proxy/index.js';

const propagator = new W3CTraceContextPropagator();

const METHODS: Record<string, string> = { tool: 'tools/call', resource: 'resources/read', prompt: 'prompts/get' };

/**
 * The {@link CallTracer} port on an OpenTelemetry tracer. Contexts are passed explicitly (no context
 * manager): a call's span is the parent of its steps, and the client's `traceparent` its own parent.
 *
 * @example
 * ```ts
 * const tracer = new OtelCallTracer(provider.getTracer('mcp-warden', WARDEN_VERSION));
 * ```
 */
export class OtelCallTracer implements CallTracer {
  constructor(private readonly tracer: Tracer) {}

  startCall(call: { kind: string; server: string; name: string; traceparent?: string }): CallSpan {
    const parent = call.traceparent
      ? propagator.extract(ROOT_CONTEXT, { traceparent: call.traceparent }, defaultTextMapGetter)
      : ROOT_CONTEXT;
    const method = METHODS[call.kind] ?? call.kind;
    const attributes: Attributes = {
      'mcp.method.name': method,
      'warden.call.kind': call.kind,
      'warden.call.name': call.name,
      'warden.server': call.server,
      ...(call.kind === 'tool' ? { 'gen_ai.tool.name': call.name } : {}),
      ...(call.kind === 'resource' ? { 'mcp.resource.uri': call.name } : {}),
    };
    const span = this.tracer.startSpan(`${method} ${call.name}`, { kind: SpanKind.SERVER, attributes }, parent);
    return new OtelCallSpan(this.tracer, span, trace.setSpan(parent, span));
  }
}

class OtelCallSpan implements CallSpan {
  readonly traceId: string;
  readonly spanId: string;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
    private readonly context: Context,
  ) {
    ({ traceId: this.traceId, spanId: this.spanId } = span.spanContext());
  }

  step<T>(step: CallStep, work: (traceparent: string | undefined) => Promise<T>, detail?: string): Promise<T> {
    const kind = step === 'downstream' ? SpanKind.CLIENT : SpanKind.INTERNAL;
    const name = detail ? `warden.${step} ${detail}` : `warden.${step}`;
    const child = this.tracer.startSpan(name, { kind }, this.context);
    const carrier: Record<string, string> = {};
    propagator.inject(trace.setSpan(this.context, child), carrier, defaultTextMapSetter);
    let running: Promise<T>;
    try {
      // At once, not on a later tick: audit appends keep the order the pipeline starts them in.
      running = work(carrier['traceparent']);
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.then(
      (value) => {
        child.end();
        return value;
      },
      (err: unknown) => {
        child.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err) });
        child.end();
        throw err;
      },
    );
  }

  set(attributes: Record<string, SpanValue | undefined>): void {
    for (const [key, value] of Object.entries(attributes)) if (value !== undefined) this.span.setAttribute(key, value);
  }

  end(outcome: 'success' | 'error' | 'denied'): void {
    this.span.setAttribute('warden.outcome', outcome);
    // A denial is Warden doing its job, not a failure of the call's span.
    if (outcome === 'error') this.span.setStatus({ code: SpanStatusCode.ERROR });
    this.span.end();
  }
}
