export { OtelCallTracer } from './call-tracer.js';
export { openTelemetry } from './open.js';
export type { Telemetry } from './open.js';
