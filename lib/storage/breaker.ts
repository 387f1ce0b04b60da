/**
 * A circuit breaker for storage calls: after `failureThreshold` consecutive
 * infrastructure failures it opens and the cache skips the storage entirely
 * (no added latency per request); after `cooldownMs` it lets one probe
 * through (half-open) and closes again when that probe succeeds, or opens
 * again when it fails — a probe that outlives its deadline fails.
 *
 * Each call holds a ticket: the breaker's epoch when it started. Every change
 * of state starts a new epoch, and only calls of the current epoch count: a
 * slow call started before the storage went down (or before it recovered)
 * cannot close or re-open the breaker when it finally ends.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  onStateChange?: (state: BreakerState, failures: number) => void;
  now?: () => number;
}

/** What `allow()` hands a call that may go ahead; given back with its outcome. */
export type BreakerTicket = number;

export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #onStateChange: ((state: BreakerState, failures: number) => void) | undefined;
  readonly #now: () => number;
  #state: BreakerState = 'closed';
  #epoch = 0;
  #failures = 0;
  #openedAt = 0;
  #probeInFlight = false;

  constructor(options: BreakerOptions) {
    this.#threshold = options.failureThreshold;
    this.#cooldownMs = options.cooldownMs;
    this.#onStateChange = options.onStateChange;
    this.#now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** A ticket when a call may go to the storage now (in half-open state, the probe's), else undefined. */
  allow(): BreakerTicket | undefined {
    if (this.#state === 'closed') return this.#epoch;
    if (this.#state === 'open') {
      if (this.#now() - this.#openedAt < this.#cooldownMs) return undefined;
      this.#set('half-open');
    }
    if (this.#probeInFlight) return undefined;
    this.#probeInFlight = true;
    return this.#epoch;
  }

  success(ticket: BreakerTicket): void {
    if (ticket !== this.#epoch) return;
    this.#failures = 0;
    this.#probeInFlight = false;
    if (this.#state !== 'closed') this.#set('closed');
  }

  /** The call said nothing of the storage's health (it failed while the storage was still connecting): a probe may go again. */
  neutral(ticket: BreakerTicket): void {
    if (ticket === this.#epoch) this.#probeInFlight = false;
  }

  failure(ticket: BreakerTicket): void {
    if (ticket !== this.#epoch) return;
    this.#failures += 1;
    this.#probeInFlight = false;
    if (this.#state === 'half-open' || (this.#state === 'closed' && this.#failures >= this.#threshold)) {
      this.#openedAt = this.#now();
      this.#set('open');
    }
  }

  #set(state: BreakerState): void {
    this.#state = state;
    this.#epoch += 1;
    this.#onStateChange?.(state, this.#failures);
  }
}
