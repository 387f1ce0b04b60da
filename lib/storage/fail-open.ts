/**
 * The request path's view of a partition: storage errors never reach the
 * caller's request. A failed read is a miss, a failed write is reported and
 * dropped, and a circuit breaker shared by the partitions of one storage
 * skips the storage altogether while it is failing.
 */
import type { LeaseAttempt, LeasingPartition, Partition, SetOptions, SyncReadablePartition } from './contract.js';
import { offersLeases, readsSync, StorageRequestError } from './contract.js';
import { describe } from '../describe.js';
import type { CircuitBreaker } from './breaker.js';
import type { Reporter } from '../diagnostics.js';

export class FailOpenPartition {
  readonly name: string;
  /** The partition answers reads synchronously (see `getSync`). */
  readonly readsSync: boolean;
  readonly #partition: Partition;
  readonly #breaker: CircuitBreaker;
  readonly #reporter: Reporter;

  constructor(name: string, partition: Partition, breaker: CircuitBreaker, reporter: Reporter) {
    this.name = name;
    this.#partition = partition;
    this.readsSync = readsSync(partition);
    this.#breaker = breaker;
    this.#reporter = reporter;
  }

  /** The value, or undefined on a miss, an error, or while the breaker is open. */
  async get(key: string): Promise<Uint8Array | undefined> {
    if (!this.#breaker.allow()) return undefined;
    try {
      const value = await this.#partition.get(key);
      this.#breaker.success();
      return value;
    } catch (error) {
      this.#failed('get', error);
      return undefined;
    }
  }

  /**
   * Like get(), at once; only when `readsSync`; null when the partition cannot
   * tell synchronously. Reads that never leave the process are not what the
   * breaker guards, so it neither gates nor counts them.
   */
  getSync(key: string): Uint8Array | undefined | null {
    try {
      const value = (this.#partition as SyncReadablePartition).getSync(key);
      if (value !== undefined && value !== null && !(value instanceof Uint8Array)) {
        throw new TypeError(`getSync() must return bytes, undefined or null, got ${describe(value)}`);
      }
      return value;
    } catch (error) {
      this.#reporter.storageError({ operation: 'getSync', partition: this.name, error });
      return undefined;
    }
  }

  async getMany(keys: string[]): Promise<Map<string, Uint8Array>> {
    if (keys.length === 0 || !this.#breaker.allow()) return new Map();
    try {
      const values = await this.#partition.getMany(keys);
      this.#breaker.success();
      return values;
    } catch (error) {
      this.#failed('getMany', error);
      return new Map();
    }
  }

  /** True when the value was written. */
  async set(key: string, value: Uint8Array, opts?: SetOptions): Promise<boolean> {
    if (!this.#breaker.allow()) return false;
    try {
      await this.#partition.set(key, value, opts);
      this.#breaker.success();
      return true;
    } catch (error) {
      this.#failed('set', error);
      return false;
    }
  }

  async delete(key: string): Promise<void> {
    if (!this.#breaker.allow()) return;
    try {
      await this.#partition.delete(key);
      this.#breaker.success();
    } catch (error) {
      this.#failed('delete', error);
    }
  }

  /** The partition offers leases (see `acquireLease`). */
  get offersLeases(): boolean {
    return offersLeases(this.#partition);
  }

  /** A lease attempt; undefined when the storage could not say (then go on without one). */
  async acquireLease(key: string, ttlMs: number): Promise<LeaseAttempt | undefined> {
    if (!this.#breaker.allow()) return undefined;
    try {
      const attempt = await (this.#partition as LeasingPartition).acquireLease(key, ttlMs);
      this.#breaker.success();
      return attempt;
    } catch (error) {
      this.#failed('acquireLease', error);
      return undefined;
    }
  }

  async releaseLease(key: string, token: string): Promise<void> {
    try {
      await (this.#partition as LeasingPartition).releaseLease(key, token);
    } catch (error) {
      // The lease expires by itself: a failed release only makes others wait a little longer.
      this.#reporter.storageError({ operation: 'releaseLease', partition: this.name, error });
    }
  }

  /** How many were deleted; 0 on an error. */
  async bulkDelete(keys: string[]): Promise<number> {
    if (keys.length === 0 || !this.#breaker.allow()) return 0;
    try {
      const deleted = await this.#partition.bulkDelete(keys);
      this.#breaker.success();
      return deleted;
    } catch (error) {
      this.#failed('bulkDelete', error);
      return 0;
    }
  }

  #failed(operation: string, error: unknown): void {
    // A refused request says the storage is up: it does not count toward opening the breaker.
    if (error instanceof StorageRequestError) this.#breaker.success();
    else this.#breaker.failure();
    this.#reporter.storageError({ operation, partition: this.name, error });
  }
}
