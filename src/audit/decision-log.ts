import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import winston from 'winston';
import { documentJson } from '../common/index.js';
import {
  DecisionLogUploader,
  type DecisionLogUploadOptions,
  type DecisionLogUploadStats,
} from './decision-log-upload.js';

/**
 * One decision in OPA's decision-log shape (https://www.openpolicyagent.org/docs/management-decision-logs),
 * so that OPA-compatible collectors read Warden's logs as they are.
 */
export interface DecisionLogEvent {
  decision_id: string;
  path: string;
  input: unknown;
  result?: unknown;
  bundles: Record<string, { revision: string }>;
  timestamp: string;
  metrics: Record<string, number>;
  labels: { id: string; version: string; [label: string]: string };
  error?: { code: string; message: string };
  /** JSON pointers of values masked before writing (OPA convention). */
  masked?: string[];
  /** JSON pointers of values removed before writing (OPA convention). */
  erased?: string[];
  /** Warden's own context: the effective verdict after mode and obligations, the session, the call. */
  custom?: Record<string, unknown>;
  /** The W3C trace id of the call (OPA's field): the client's trace, continued, or Warden's own. */
  trace_id?: string;
  /** The call's span id in that trace (OPA's field), when Warden traces calls (docs/telemetry.md). */
  span_id?: string;
}

export interface DecisionLogSink {
  write(event: DecisionLogEvent): void;
  close(): Promise<void>;
  /** Upload counters when `decisionLogs.service` is configured (buffered, uploaded, dropped…). */
  uploadStats?(): DecisionLogUploadStats;
}

const EVENT = Symbol('decision');

/**
 * Writes one JSON line per decision through winston (file and/or stderr), and ships it to an
 * OPA-compatible collector when `service` is set. A `mask` function (the audit redactor) runs once,
 * before anything is written or shipped.
 */
export function createDecisionLog(options: {
  file?: string;
  stderr?: boolean;
  mask?: (event: DecisionLogEvent) => DecisionLogEvent;
  service?: Omit<DecisionLogUploadOptions, 'logger'>;
  logger?: DecisionLogUploadOptions['logger'];
}): DecisionLogSink {
  const uploader = options.service
    ? new DecisionLogUploader({ ...options.service, ...(options.logger ? { logger: options.logger } : {}) })
    : null;
  const transports: winston.transport[] = [];
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    transports.push(new winston.transports.File({ filename: options.file }));
  }
  if (options.stderr) {
    transports.push(new winston.transports.Console({ stderrLevels: ['info'] }));
  }
  const mask = options.mask ?? ((e: DecisionLogEvent) => e);
  if (transports.length === 0) {
    if (!uploader) return { write: () => undefined, close: async () => undefined };
    return {
      write: (event) => uploader.push(mask(event)),
      close: () => uploader.close(),
      uploadStats: () => uploader.stats(),
    };
  }
  const logger = winston.createLogger({
    level: 'info',
    format: winston.format.printf((info) => eventLine((info as unknown as Record<symbol, DecisionLogEvent>)[EVENT]!)),
    transports,
  });
  return {
    write(event) {
      const masked = mask(event);
      logger.info({ message: 'decision', [EVENT]: masked } as never);
      uploader?.push(masked);
    },
    async close() {
      await Promise.all([
        uploader?.close(),
        new Promise<void>((resolve) => {
          logger.on('finish', () => resolve());
          logger.end();
        }),
      ]);
    },
    ...(uploader ? { uploadStats: () => uploader.stats() } : {}),
  };
}

/**
 * The event's line: exactly `JSON.stringify(event)`, but with the input's text from
 * {@link documentJson}, where the policy evaluation left it (the input is the bulk of a line,
 * and it was serialised for the policy already). A masked or redacted input is a new object, so
 * it is serialised here. No field of an event has a `toJSON` that reads its key.
 */
function eventLine(event: DecisionLogEvent): string {
  const fields: string[] = [];
  for (const [key, value] of Object.entries(event)) {
    const text =
      key === 'input' && typeof value === 'object' && value !== null ? documentJson(value) : JSON.stringify(value);
    if (text !== undefined) fields.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${fields.join(',')}}`;
}

/** A fresh decision id (UUID v4, as OPA uses). */
export function newDecisionId(): string {
  return randomUUID();
}
