/**
 * Deadlines on storage calls. A storage that hangs never throws, so without a
 * deadline it would hold a request (or a write chain, or `close()`) forever,
 * and never open the breaker. The cache cannot cancel a backend's call (the
 * contract has no signal): past its deadline the call counts as failed, and
 * whatever it does later is ignored.
 */

/** A storage call that did not settle within its deadline. */
export class StorageDeadlineError extends Error {
  override readonly name = 'StorageDeadlineError';
  readonly operation: string;
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super(`storage ${operation} did not settle within ${timeoutMs} ms`);
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * What `call` returns, or a StorageDeadlineError after `timeoutMs`, whichever
 * comes first. A call that throws at once, or returns a plain value, is
 * treated as the promise it should have returned. The timer does not keep the
 * process alive.
 */
export function withDeadline<T>(call: () => Promise<T> | T, timeoutMs: number, operation: string): Promise<T> {
  let pending: Promise<T> | T;
  try {
    pending = call();
  } catch (error) {
    return Promise.reject(error);
  }
  if (!isThenable(pending)) return Promise.resolve(pending);
  const promise = pending;
  if (!Number.isFinite(timeoutMs)) return Promise.resolve(promise);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StorageDeadlineError(operation, timeoutMs)), timeoutMs);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function isThenable<T>(value: Promise<T> | T): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
