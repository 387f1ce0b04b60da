/**
 * Deadlines on storage calls. A storage that hangs never throws, so without a
 * deadline it would hold a request (or a write chain, or `close()`) forever,
 * and never open the breaker. The cache cannot cancel a backend's call (the
 * contract has no signal): past its deadline the call counts as failed, and
 * whatever it does later is ignored.
 */

import { type Clock, systemClock } from '../clock.js';
import { isThenable } from '../thenable.js';
import { SharedTimers } from './shared-timers.js';

/** Told of a call its deadline gave up on: when that happens, and when the call settles after all. */
export interface LateWatch {
  expired(): void;
  landed(): void;
}

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

interface Pending {
  operation: string;
  fail(error: Error): void;
}

/**
 * The deadlines of one cache's storage calls. A timer per call costs more
 * than the call itself on a miss against an in-memory storage (a write per
 * response, thousands of timers under way at once): calls that start
 * together share one timer (SharedTimers), which fails those still pending.
 */
export class Deadlines {
  readonly #timers: SharedTimers<Set<Pending>>;

  constructor(clock: Clock = systemClock) {
    this.#timers = new SharedTimers(
      clock,
      () => new Set(),
      (pending, timeoutMs) => {
        for (const entry of pending) entry.fail(new StorageDeadlineError(entry.operation, timeoutMs));
        pending.clear();
      },
    );
  }

  /**
   * What `call` returns, or a StorageDeadlineError after `timeoutMs`,
   * whichever comes first. A call that throws at once, or returns a plain
   * value, is treated as the promise it should have returned. `late` is told
   * when the deadline gives up on the call, and when the call settles after that.
   */
  run<T>(call: () => Promise<T> | T, timeoutMs: number, operation: string, late?: LateWatch): Promise<T> {
    let pending: Promise<T> | T;
    try {
      pending = call();
    } catch (error) {
      return Promise.reject(error);
    }
    if (!isThenable(pending) || !Number.isFinite(timeoutMs)) return Promise.resolve(pending);
    const promise = pending;
    const window = this.#timers.current(timeoutMs);
    return new Promise<T>((resolve, reject) => {
      let expired = false;
      const entry: Pending = {
        operation,
        fail: (error) => {
          expired = true;
          late?.expired();
          reject(error);
        },
      };
      window.add(entry);
      promise.then(
        (value) => {
          window.delete(entry);
          if (expired) late?.landed();
          resolve(value);
        },
        (error: unknown) => {
          window.delete(entry);
          if (expired) late?.landed();
          reject(error);
        },
      );
    });
  }
}
