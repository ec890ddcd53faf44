/** A promise with its settle functions, for code that settles it from callbacks elsewhere. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (reason: unknown) => void;
}

/**
 * A promise settled from outside its executor: by an event handler, a timer or a later step.
 * Like any promise, an unhandled rejection is reported: attach a handler if nothing awaits it.
 *
 * @example
 * const ready = deferred<void>();
 * worker.once('message', () => ready.resolve());
 * worker.once('exit', (code) => ready.reject(new Error(`exited with ${code}`)));
 * await ready.promise;
 */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
