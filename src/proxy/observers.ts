import type { PipelineObserver } from './ports.js';

/**
 * Runs several observers as one: the HTTP front's metrics, its live event stream and the telemetry
 * all watch the call pipeline, which takes a single observer. One observer's failure does not stop
 * the others.
 *
 * @example
 * ```ts
 * createWarden(config, logger, { observer: composeObservers(metrics.observer, live.observer) });
 * ```
 */
export function composeObservers(...observers: PipelineObserver[]): PipelineObserver {
  return {
    onDecision(info) {
      for (const o of observers) {
        try {
          o.onDecision?.(info);
        } catch {
          // an observer's failure is its own; the call goes on
        }
      }
    },
    onCompleted(info) {
      for (const o of observers) {
        try {
          o.onCompleted?.(info);
        } catch {
          // as above
        }
      }
    },
    onToolChanged(info) {
      for (const o of observers) {
        try {
          o.onToolChanged?.(info);
        } catch {
          // as above
        }
      }
    },
  };
}
