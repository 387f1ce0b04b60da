/**
 * Deadlines on storage calls. A storage that hangs never throws, so without a
 * deadline it would hold a request (or a write chain, or `close()`) forever,
 * and never open the breaker. The cache cannot cancel a backend's call (the
 * contract has no signal): past its deadline the call counts as failed, and
 * whatever it does later is ignored.
 */

import { type Clock, systemClock } from '../clock.js';
import { isThenable } from '../thenable.js';

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

/** Calls that started in one window: they share its timer. */
interface Window {
  /** The clock's monotonic time after which calls start a new window. */
  closes: number;
  pending: Set<Pending>;
}

interface Pending {
  operation: string;
  fail(error: Error): void;
}

/**
 * The deadlines of one cache's storage calls. A timer per call costs more
 * than the call itself on a miss against an in-memory storage (a write per
 * response, thousands of timers under way at once): calls that start within
 * one window (a tenth of the timeout, 100 ms at most) share one timer, which
 * fails those still pending at the window's close plus the timeout. Each call
 * gets at least its timeout, at most a tenth more. The timers do not keep the
 * process alive.
 */
export class Deadlines {
  readonly #windows = new Map<number, Window>();
  readonly #clock: Clock;

  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
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
    const window = this.#window(timeoutMs);
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
      window.pending.add(entry);
      promise.then(
        (value) => {
          window.pending.delete(entry);
          if (expired) late?.landed();
          resolve(value);
        },
        (error: unknown) => {
          window.pending.delete(entry);
          if (expired) late?.landed();
          reject(error);
        },
      );
    });
  }

  #window(timeoutMs: number): Window {
    const now = this.#clock.monotonic();
    let window = this.#windows.get(timeoutMs);
    if (window === undefined || now >= window.closes) {
      const span = Math.max(1, Math.min(100, Math.floor(timeoutMs / 10)));
      const opened: Window = { closes: now + span, pending: new Set() };
      this.#clock.setTimer(() => {
        for (const entry of opened.pending) entry.fail(new StorageDeadlineError(entry.operation, timeoutMs));
        opened.pending.clear();
        if (this.#windows.get(timeoutMs) === opened) this.#windows.delete(timeoutMs);
      }, span + timeoutMs);
      this.#windows.set(timeoutMs, opened);
      window = opened;
    }
    return window;
  }
}
