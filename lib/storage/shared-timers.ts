/**
 * One timer for many deadlines. Calls that start within one window (a tenth
 * of their timeout, 100 ms at most) share what the window opened — a set of
 * pending calls, an AbortSignal — and one timer, which fires the timeout
 * after the window closes: each call gets at least its timeout, at most a
 * tenth more. What a timer per call would cost instead: docs/performance.md
 * (the DynamoDB section, measured in pairs).
 *
 * The cache's deadlines (deadline.ts) use it, and the abort signals of
 * DynamoDBStorage's SDK calls and RedisStorage's commands (deadline-signals.ts).
 */
import type { Clock } from '../clock.js';

export class SharedTimers<Shared> {
  readonly #windows = new Map<number, { closes: number; shared: Shared }>();
  readonly #clock: Clock;
  readonly #open: (timeoutMs: number) => Shared;
  readonly #fire: (shared: Shared, timeoutMs: number) => void;

  /** `open` makes what a new window's calls share; `fire` is called with it when their time is up. */
  constructor(clock: Clock, open: (timeoutMs: number) => Shared, fire: (shared: Shared, timeoutMs: number) => void) {
    this.#clock = clock;
    this.#open = open;
    this.#fire = fire;
  }

  /** What the calls starting now with this timeout share. */
  current(timeoutMs: number): Shared {
    const now = this.#clock.monotonic();
    const window = this.#windows.get(timeoutMs);
    if (window !== undefined && now < window.closes) return window.shared;
    const span = Math.max(1, Math.min(100, Math.floor(timeoutMs / 10)));
    const opened = { closes: now + span, shared: this.#open(timeoutMs) };
    // The timer does not keep the process alive: a call under way does, if it must.
    this.#clock.setTimer(
      () => {
        if (this.#windows.get(timeoutMs) === opened) this.#windows.delete(timeoutMs);
        this.#fire(opened.shared, timeoutMs);
      },
      span + timeoutMs,
      { ref: false },
    );
    this.#windows.set(timeoutMs, opened);
    return opened.shared;
  }
}
