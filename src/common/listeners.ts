/**
 * A set of listeners for one kind of event. Each listener's failure is its own: the others are
 * still called, and `onError` (when given) hears of it.
 *
 * @example
 * ```ts
 * const appended = new Listeners<AuditRecord>();
 * const unsubscribe = appended.add((record) => index.apply(record));
 * appended.emit(record);
 * ```
 */
export class Listeners<T> {
  private readonly set = new Set<(value: T) => void>();

  /** Adds `listener`; returns the function that removes it. */
  add(listener: (value: T) => void): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }

  emit(value: T, onError?: (err: unknown) => void): void {
    for (const listener of this.set) {
      try {
        listener(value);
      } catch (err) {
        onError?.(err);
      }
    }
  }
}
