// One native engine runs one call at a time: calls wait their turn here, and an AbortSignal that fires
// while a call runs asks the native side to stop between steps (prompt chunks, decoded tokens).
export class CallQueue {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(private readonly cancelNative: () => void) {}

  run<T>(signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    const next = this.tail.then(async () => {
      if (signal?.aborted) throw new Error('cancelled before it started');
      const onAbort = () => this.cancelNative();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        return await call();
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    });
    this.tail = next.catch(() => undefined);  // a failed call does not block the ones after it
    return next;
  }
}
