/**
 * The request path's view of a partition: storage errors never reach the
 * caller's request. A failed read is a miss, a failed write is reported and
 * dropped, and a circuit breaker shared by the partitions of one storage
 * skips the storage altogether while it is failing. Every call has a
 * deadline (reads one, writes another): a call that hangs is a failure too.
 */

import { describe } from '../describe.js';
import type { Reporter } from '../diagnostics.js';
import type { CircuitBreaker } from './breaker.js';
import type { CompletePartition, HeldValue, LeaseAttempt, Offering, SetOptions } from './contract.js';
import { declares, StorageRequestError } from './contract.js';
import type { Deadlines, LateWatch } from './deadline.js';

/** Timeouts of storage calls, in ms. */
export interface StorageTimeouts {
  /** Calls on the request path: get, getMany, acquireLease. */
  readMs: number;
  /** Writes, deletions and lease releases (off the request path). */
  writeMs: number;
}

/** What a guarded call gives when it was skipped or failed (a memory tier may still answer). */
const FAILED: unique symbol = Symbol('failed');

/**
 * The calls the request path makes on a partition, none of which throws:
 * reads give nothing and writes report whether they landed, on any failure.
 * Only what the request path uses is here; management goes through
 * `withDeadlines` (deadlined.ts), where errors reach the operator.
 */
export class FailOpenPartition {
  readonly name: string;
  /** The partition answers reads synchronously (see `getSync`). */
  readonly readsSync: boolean;
  /** The partition keeps values as they are given (see `hold`). */
  readonly holds: boolean;
  /** The partition offers leases (see `acquireLease`). */
  readonly offersLeases: boolean;
  readonly #partition: CompletePartition;
  readonly #breaker: CircuitBreaker;
  readonly #reporter: Reporter;
  readonly #timeouts: StorageTimeouts;
  readonly #deadlines: Deadlines;
  /** What a memory tier in front holds (see tiered.ts): the answer when the storage behind cannot give one. */
  readonly #local: ((key: string) => Uint8Array | undefined) | undefined;

  constructor(
    name: string,
    partition: CompletePartition,
    guards: {
      breaker: CircuitBreaker;
      reporter: Reporter;
      timeouts: StorageTimeouts;
      deadlines: Deadlines;
      local?: ((key: string) => Uint8Array | undefined) | undefined;
    },
  ) {
    const { breaker, reporter, timeouts, deadlines } = guards;
    this.name = name;
    this.#partition = partition;
    this.readsSync = declares(partition, 'syncReads');
    this.holds = declares(partition, 'heldValues');
    this.offersLeases = declares(partition, 'leases');
    this.#breaker = breaker;
    this.#reporter = reporter;
    this.#timeouts = timeouts;
    this.#deadlines = deadlines;
    this.#local = guards.local;
  }

  /**
   * The value, or undefined on a miss, an error, a call past its deadline, or
   * while the breaker is open — then what a memory tier in front holds, if any.
   */
  async get(key: string): Promise<Uint8Array | undefined> {
    const found = await this.#guard('get', this.#timeouts.readMs, FAILED, async () => {
      const value = await this.#partition.get(key);
      if (value !== undefined && !(value instanceof Uint8Array)) throw new TypeError(`get() must return bytes or undefined, got ${describe(value)}`);
      return value;
    });
    return found === FAILED ? this.#local?.(key) : found;
  }

  /**
   * Like get(), at once; only when `readsSync`; null when the partition cannot
   * tell synchronously. Reads that never leave the process are not what the
   * breaker guards, so it neither gates nor counts them.
   */
  getSync(key: string): Uint8Array | undefined | null {
    try {
      const value = (this.#partition as Offering<'syncReads'>).getSync(key);
      if (value !== undefined && value !== null && !(value instanceof Uint8Array)) {
        throw new TypeError(`getSync() must return bytes, undefined or null, got ${describe(value)}`);
      }
      return value;
    } catch (error) {
      this.#reporter.storageError({ operation: 'getSync', partition: this.name, error });
      return undefined;
    }
  }

  /** What is stored under the key, as it was held (or its bytes); only when `holds`. Never throws, like getSync. */
  getHeld(key: string): HeldValue | Uint8Array | undefined {
    try {
      return (this.#partition as Offering<'heldValues'>).getHeld(key);
    } catch (error) {
      this.#reporter.storageError({ operation: 'getHeld', partition: this.name, error });
      return undefined;
    }
  }

  async getMany(keys: string[]): Promise<Map<string, Uint8Array>> {
    if (keys.length === 0) return new Map();
    const found = await this.#guard('getMany', this.#timeouts.readMs, FAILED, () => this.#partition.getMany(keys));
    if (found !== FAILED) return found;
    const local = new Map<string, Uint8Array>();
    if (this.#local !== undefined) {
      for (const key of keys) {
        const value = this.#local(key);
        if (value !== undefined) local.set(key, value);
      }
    }
    return local;
  }

  async set(key: string, value: Uint8Array, opts?: SetOptions): Promise<void> {
    await this.trySet(key, value, opts);
  }

  /**
   * `set`, telling whether the value was written. `late` is told if the
   * deadline gives up on the storage's call, and if the call lands after all
   * (it may then have written over what was written since).
   */
  trySet(key: string, value: Uint8Array, opts?: SetOptions, late?: LateWatch): Promise<boolean> {
    return this.#guard(
      'set',
      this.#timeouts.writeMs,
      false,
      async () => {
        await this.#partition.set(key, value, opts);
        return true;
      },
      late,
    );
  }

  /**
   * `hold` (only when `holds`), telling whether the value was kept. It never
   * leaves the process: like getSync, neither gated nor counted by the breaker.
   */
  tryHold(key: string, value: HeldValue, opts?: SetOptions): boolean {
    try {
      (this.#partition as Offering<'heldValues'>).hold(key, value, opts);
      return true;
    } catch (error) {
      this.#reporter.storageError({ operation: 'hold', partition: this.name, error });
      return false;
    }
  }

  /** True when the value was there and is deleted; false too when the deletion failed. */
  delete(key: string): Promise<boolean> {
    return this.#guard('delete', this.#timeouts.writeMs, false, () => this.#partition.delete(key));
  }

  /** A lease attempt; undefined when the storage could not say (then go on without one). */
  acquireLease(key: string, ttlMs: number): Promise<LeaseAttempt | undefined> {
    return this.#guard('acquireLease', this.#timeouts.readMs, undefined, () => (this.#partition as Offering<'leases'>).acquireLease(key, ttlMs));
  }

  async releaseLease(key: string, token: string): Promise<void> {
    try {
      await this.#deadlines.run(() => (this.#partition as Offering<'leases'>).releaseLease(key, token), this.#timeouts.writeMs, 'releaseLease');
    } catch (error) {
      // The lease expires by itself: a failed release only makes others wait a little longer.
      this.#reporter.storageError({ operation: 'releaseLease', partition: this.name, error });
    }
  }

  /** How many were deleted; 0 on an error. */
  bulkDelete(keys: Iterable<string>): Promise<number> {
    const list = [...keys];
    if (list.length === 0) return Promise.resolve(0);
    return this.#guard('bulkDelete', this.#timeouts.writeMs, 0, () => this.#partition.bulkDelete(list));
  }

  /** Runs one storage call under the breaker and a deadline: its value, or `fallback` when it is skipped or fails. */
  async #guard<T, F>(operation: string, timeoutMs: number, fallback: F, call: () => Promise<T>, late?: LateWatch): Promise<T | F> {
    const ticket = this.#breaker.allow();
    if (ticket === undefined) return fallback;
    try {
      const value = await this.#deadlines.run(call, timeoutMs, operation, late);
      this.#breaker.success(ticket);
      return value;
    } catch (error) {
      // A refused request says the storage is up: it does not count toward opening the breaker;
      // nor does a failure while the storage is still setting up its connection (see redis.ts).
      if (error instanceof StorageRequestError) this.#breaker.success(ticket);
      else if ((this.#partition as { settingUp?: unknown }).settingUp === true) this.#breaker.neutral(ticket);
      else this.#breaker.failure(ticket);
      this.#reporter.storageError({ operation, partition: this.name, error });
      return fallback;
    }
  }
}
