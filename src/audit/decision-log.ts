import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import winston from 'winston';

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
  /** Warden's own context: the effective verdict after mode and obligations, the session, the call. */
  custom?: Record<string, unknown>;
}

export interface DecisionLogSink {
  write(event: DecisionLogEvent): void;
  close(): Promise<void>;
}

const EVENT = Symbol('decision');

/**
 * Writes one JSON line per decision through winston (file and/or stderr). A `mask` function (the
 * audit redactor) runs before anything is written.
 */
export function createDecisionLog(options: { file?: string; stderr?: boolean; mask?: (event: DecisionLogEvent) => DecisionLogEvent }): DecisionLogSink {
  const transports: winston.transport[] = [];
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    transports.push(new winston.transports.File({ filename: options.file }));
  }
  if (options.stderr) {
    transports.push(new winston.transports.Console({ stderrLevels: ['info'] }));
  }
  if (transports.length === 0) {
    return { write: () => undefined, close: async () => undefined };
  }
  const logger = winston.createLogger({
    level: 'info',
    format: winston.format.printf((info) => JSON.stringify((info as unknown as Record<symbol, unknown>)[EVENT])),
    transports,
  });
  const mask = options.mask ?? ((e: DecisionLogEvent) => e);
  return {
    write(event) {
      logger.info({ message: 'decision', [EVENT]: mask(event) } as never);
    },
    close() {
      return new Promise((resolve) => {
        logger.on('finish', () => resolve());
        logger.end();
      });
    },
  };
}

/** A fresh decision id (UUID v4, as OPA uses). */
export function newDecisionId(): string {
  return randomUUID();
}
