/**
 * A clock that moves only when told (`cachette/testing`): hand it to
 * `createCache({ clock })` (and to the storages and origin a test builds),
 * then `await clock.advance(seconds)` where a test would have slept — entries
 * go stale, deadlines pass, cool-downs end, at once and in order.
 */
import type { Clock, Timer } from './clock.js';
import { describe } from './describe.js';

interface Pending {
  at: number;
  seq: number;
  callback: () => void;
}

export class FakeClock implements Clock {
  #wall: number;
  #monotonic = 0;
  #seq = 0;
  readonly #pending = new Set<Pending>();

  /** Starts at `start` (a Date or epoch ms; default: the real time now). */
  constructor(start: Date | number = Date.now()) {
    const at = start instanceof Date ? start.getTime() : start;
    if (typeof at !== 'number' || !Number.isFinite(at)) throw new TypeError(`FakeClock starts at a Date or epoch ms, got ${describe(start)}`);
    this.#wall = at;
  }

  now(): number {
    return this.#wall;
  }

  monotonic(): number {
    return this.#monotonic;
  }

  setTimer(callback: () => void, ms: number): Timer {
    const pending: Pending = { at: this.#monotonic + Math.max(0, Number(ms) || 0), seq: ++this.#seq, callback };
    this.#pending.add(pending);
    return { cancel: () => this.#pending.delete(pending) };
  }

  /** Timers set and not yet called. */
  get pendingTimers(): number {
    return this.#pending.size;
  }

  /**
   * Moves time forward by `seconds`, calling each timer that falls due on the
   * way at its moment, in order; between them, what the callbacks started
   * (promises, I/O already done) runs, so that timers they set in the span
   * fall due too.
   */
  async advance(seconds: number): Promise<void> {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
      throw new TypeError(`advance() takes seconds (0 or more), got ${describe(seconds)}`);
    }
    const end = this.#monotonic + seconds * 1000;
    await settle();
    for (let next = this.#next(end); next !== undefined; next = this.#next(end)) {
      this.#pending.delete(next);
      this.#move(next.at);
      next.callback();
      await settle();
    }
    this.#move(end);
    await settle();
  }

  /** The earliest timer due by `end`. */
  #next(end: number): Pending | undefined {
    let next: Pending | undefined;
    for (const pending of this.#pending) {
      if (pending.at > end) continue;
      if (next === undefined || pending.at < next.at || (pending.at === next.at && pending.seq < next.seq)) next = pending;
    }
    return next;
  }

  #move(to: number): void {
    if (to <= this.#monotonic) return;
    this.#wall += to - this.#monotonic;
    this.#monotonic = to;
  }
}

/** Turns of the event loop let run before and after each step: work scheduled a turn or two ahead (a write the cache starts off the response path) starts before time moves. */
const TURNS = 5;

/** Lets what is ready run: promise reactions, I/O callbacks already due, work scheduled a few turns ahead. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < TURNS; turn++) await new Promise((resolve) => setImmediate(resolve));
}
