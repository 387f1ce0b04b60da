/**
 * The time a cache reads: one clock per cache, in its context (DESIGN:
 * Time). Wall time dates responses and decides expiries; monotonic time
 * measures durations (deadlines, cool-downs), which a wall clock set back
 * would stretch; timers end waits. `systemClock` is the machine's; a test
 * injects `FakeClock` (cachette/testing) and moves it instead of sleeping.
 *
 * It speaks the platform's milliseconds (as Date.now and setTimeout do);
 * every option and helper of cachette takes seconds.
 */

export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
  /** Milliseconds from an arbitrary origin, never going back, as `performance.now()`. */
  monotonic(): number;
  /**
   * Calls `callback` once, `ms` from now. A timer does not keep the process
   * alive (a deadline, a cool-down), unless `ref` says someone is waiting on it.
   */
  setTimer(callback: () => void, ms: number, options?: { ref?: boolean }): Timer;
}

export interface Timer {
  /** The callback will not be called (if it has not been). */
  cancel(): void;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(callback: () => void, ms: number, options?: { ref?: boolean }): Timer {
    const timer = setTimeout(callback, ms);
    if (options?.ref !== true) timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
});

/** Waits `ms` on the clock's time; the process stays alive meanwhile (someone is waiting). */
export function delay(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(resolve, ms, { ref: true }));
}

export function isClock(value: unknown): value is Clock {
  if (value === null || typeof value !== 'object') return false;
  const clock = value as Partial<Clock>;
  return typeof clock.now === 'function' && typeof clock.monotonic === 'function' && typeof clock.setTimer === 'function';
}
