/**
 * Single-flight: concurrent requests for one key reach the origin once. The
 * first (the leader) forwards; the others (followers) wait for its outcome:
 *
 * - the leader got a complete response it could store or share: every
 *   follower gets a copy of it (`collapsed`), even when the storage is down;
 * - the response may not be shared (no-store, private or Set-Cookie in a
 *   shared cache, larger than maxEntrySize): followers go to the origin on
 *   their own, and for a few seconds later requests for that key do not
 *   wait on each other (like having no cache for it);
 * - the origin could not be reached: followers get the same error (or the
 *   stale entry the leader fell back to), rather than all retrying at once;
 * - the leader's own caller aborted: followers start over, and one of them
 *   leads;
 * - the leader takes longer than 30 s to complete: its followers stop
 *   waiting and fetch on their own.
 */
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { ResponseHeaders } from '../policy/headers.js';
import { abortError } from './abort-error.js';
import type { CacheStatus } from './cache-status.js';

export interface SharedResponse {
  status: number;
  statusText: string;
  /** Headers as the leader's caller got them, without our Cache-Status member. */
  headers: ResponseHeaders;
  body: Uint8Array;
  /** The leader's Cache-Status; followers add `collapsed`. */
  cacheStatus: CacheStatus;
  /** Request header pairs the response varies on, when it does: only followers with the same values may use it. */
  vary: Array<string | null> | undefined;
}

export type FlightOutcome =
  | { kind: 'response'; response: SharedResponse }
  /** Nobody was waiting: the flight just ends. */
  | { kind: 'done' }
  | { kind: 'solo' }
  | { kind: 'failed'; error: Error }
  | { kind: 'abandoned' };

type Waiter = (outcome: FlightOutcome) => void;

/** How long requests for a key whose response may not be shared skip waiting for each other. */
const SOLO_MS = 5_000;

export class Flight {
  readonly key: string;
  // Most flights have no follower: the set is made for the first one.
  #waiters: Set<Waiter> | undefined;
  readonly #flights: Flights;
  #settled = false;

  constructor(key: string, flights: Flights) {
    this.key = key;
    this.#flights = flights;
  }

  get followers(): number {
    return this.#waiters?.size ?? 0;
  }

  /** Waits for the leader. The handler learns of the wait at once, so that its caller can abort it. */
  follow(handler: Dispatcher.DispatchHandler): Promise<{ outcome: FlightOutcome; controller: WaitController } | undefined> {
    const controller = new WaitController();
    return new Promise((resolve) => {
      // A leader slower than this (a stalled origin, a huge body) no longer holds its followers: each goes alone.
      const timer = this.#flights.clock.setTimer(() => {
        this.#waiters?.delete(waiter);
        waiter({ kind: 'solo' });
      }, this.#flights.followTimeoutMs);
      const waiter: Waiter = (outcome) => {
        timer.cancel();
        controller.onAbort = undefined;
        resolve({ outcome, controller });
      };
      controller.onAbort = (reason) => {
        timer.cancel();
        this.#waiters?.delete(waiter);
        handler.onResponseError?.(controller, reason);
        resolve(undefined);
      };
      if (this.#waiters === undefined) this.#waiters = new Set();
      this.#waiters.add(waiter);
      handler.onRequestStart?.(controller, {});
    });
  }

  settle(outcome: FlightOutcome): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#flights.finished(this, outcome);
    if (this.#waiters === undefined) return;
    for (const waiter of this.#waiters) waiter(outcome);
    this.#waiters.clear();
  }
}

/** How long a follower waits for its leader's response before going to the origin itself. */
const FOLLOW_TIMEOUT_MS = 30_000;

/** Keys remembered as invalidated; past this many, every request made before is treated as invalidated. */
const INVALIDATED_KEYS = 10_000;

export class Flights {
  readonly #inFlight = new Map<string, Flight>();
  readonly #soloUntil = new Map<string, number>();
  /** Invalidations counted; a request notes the count when it is sent (`stamp`). */
  #stamp = 0;
  /** The count at each key's last invalidation. */
  readonly #invalidated = new Map<string, number>();
  /** The count when `#invalidated` was last emptied (to bound it): anything sent before may have been invalidated. */
  #forgottenAt = 0;
  readonly followTimeoutMs: number;
  readonly clock: Clock;

  constructor(options: { clock: Clock; followTimeoutMs?: number }) {
    this.clock = options.clock;
    this.followTimeoutMs = options.followTimeoutMs ?? FOLLOW_TIMEOUT_MS;
  }

  /** The flight under way for a key, if requests for it are being collapsed. */
  current(key: string): Flight | undefined {
    return this.#inFlight.get(key);
  }

  /** Starts a flight (the caller leads), or returns undefined when this key's requests go alone for now. */
  start(key: string): Flight | undefined {
    const solo = this.#soloUntil.get(key);
    if (solo !== undefined) {
      if (this.clock.monotonic() < solo) return undefined;
      this.#soloUntil.delete(key);
    }
    const flight = new Flight(key, this);
    this.#inFlight.set(key, flight);
    return flight;
  }

  /** What a request notes when it is sent, to ask `invalidatedSince` at its response's end. */
  stamp(): number {
    return this.#stamp;
  }

  /**
   * These keys' stored responses were invalidated (RFC 9111 §4.4, or a
   * purge): a request made from now on waits for no flight sent before, and
   * a response to a request sent before is not stored — it may be what was
   * just invalidated, and stored after, it would bring it back.
   */
  invalidate(keys: Iterable<string>): void {
    this.#stamp += 1;
    if (this.#invalidated.size >= INVALIDATED_KEYS) {
      this.#invalidated.clear();
      this.#forgottenAt = this.#stamp;
    }
    for (const key of keys) {
      this.#inFlight.delete(key);
      this.#invalidated.set(key, this.#stamp);
    }
  }

  /**
   * Stored responses were purged by what they carry (a tag, a match of their
   * metadata), which names no key of a response still on its way: every
   * flight is detached, and no response to a request sent before is stored.
   * A few more requests reach the origin once; none brings back what was purged.
   */
  invalidateAll(): void {
    this.#stamp += 1;
    this.#invalidated.clear();
    this.#forgottenAt = this.#stamp;
    this.#inFlight.clear();
  }

  /** Whether the key was invalidated after a request that noted `stamp` was sent. */
  invalidatedSince(key: string, stamp: number): boolean {
    if (stamp < this.#forgottenAt) return true;
    const at = this.#invalidated.get(key);
    return at !== undefined && at > stamp;
  }

  /** Whether any flight is under way (a background refresh counts). */
  get busy(): boolean {
    return this.#inFlight.size > 0;
  }

  /** @internal */
  finished(flight: Flight, outcome: FlightOutcome): void {
    if (this.#inFlight.get(flight.key) === flight) this.#inFlight.delete(flight.key);
    if (outcome.kind === 'solo') {
      if (this.#soloUntil.size > 10_000) this.#soloUntil.clear();
      this.#soloUntil.set(flight.key, this.clock.monotonic() + SOLO_MS);
    }
  }
}

/** The controller a waiting follower's handler holds: aborting it stops the wait. */
export class WaitController implements Dispatcher.DispatchController {
  onAbort: ((reason: Error) => void) | undefined;
  #aborted = false;
  #reason: Error | null = null;

  get aborted(): boolean {
    return this.#aborted;
  }

  get paused(): boolean {
    return false;
  }

  get reason(): Error | null {
    return this.#reason;
  }

  abort(reason?: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason ?? abortError();
    this.onAbort?.(this.#reason);
  }

  pause(): void {}

  resume(): void {}
}
