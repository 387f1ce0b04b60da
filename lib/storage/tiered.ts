/**
 * A memory tier in front of any storage. Reads try memory first (at once,
 * synchronously), then the storage behind, and keep what they found in
 * memory for the value's remaining life; writes, deletes and clears reach
 * both. In a warm AWS Lambda, a repeated request then costs no DynamoDB call.
 *
 * Each process has its own memory tier: what another process deletes stays
 * in this one's memory until it expires or is evicted (for an HTTP cache, a
 * response that was fresh when stored stays fresh; the cache still checks).
 */
import type { Partition, SetOptions, Storage, SweepablePartition, SyncReadablePartition } from './contract.js';
import { canDeleteByAge, isSweepable, offersLeases, type LeaseAttempt } from './contract.js';
import { MemoryStorage, type MemoryStorageOptions } from './memory.js';
import { describe } from '../describe.js';

export interface TieredStorageOptions {
  /** The storage behind: the source of truth. */
  back: Storage;
  /** The memory tier, or the options of one. Default: a MemoryStorage of 16 MiB. */
  front?: MemoryStorage | MemoryStorageOptions;
  /**
   * How long a value read from the back may stay in memory (epoch ms), from
   * the value itself. The cache passes the entry's own expiry. Default: until evicted.
   */
  expiryOf?: (value: Uint8Array) => number | undefined;
}

const DEFAULT_FRONT_BYTES = 16 * 1024 * 1024;

export class TieredStorage implements Storage {
  readonly front: MemoryStorage;
  readonly back: Storage;
  readonly #expiryOf: (value: Uint8Array) => number | undefined;
  readonly #partitions = new Map<string, TieredPartition>();

  constructor(options: TieredStorageOptions) {
    if (options === null || typeof options !== 'object' || options.back === undefined) {
      throw new TypeError(`TieredStorage needs { back: a Storage }, got ${describe(options)}`);
    }
    this.back = options.back;
    this.front = options.front instanceof MemoryStorage ? options.front : new MemoryStorage({ maxBytes: DEFAULT_FRONT_BYTES, ...options.front });
    this.#expiryOf = options.expiryOf ?? (() => undefined);
  }

  partition(name: string): Partition {
    let partition = this.#partitions.get(name);
    if (partition === undefined) {
      partition = new TieredPartition(this.front.partition(name) as MemoryPartitionView, this.back.partition(name), this.#expiryOf);
      this.#partitions.set(name, partition);
    }
    return partition;
  }

  async close(): Promise<void> {
    await Promise.all([this.front.close(), this.back.close()]);
  }
}

type MemoryPartitionView = SweepablePartition & { getSync(key: string): Uint8Array | undefined };

class TieredPartition implements SyncReadablePartition {
  readonly #front: MemoryPartitionView;
  readonly #back: Partition;
  readonly #expiryOf: (value: Uint8Array) => number | undefined;
  /** The fast sweeps, offered when the storage behind offers them. */
  readonly deleteExpired: ((now: number) => Promise<number>) | undefined;
  readonly deleteCreatedBefore: ((cutoff: number) => Promise<number>) | undefined;
  /** Leases are the storage behind's, when it offers them. */
  readonly acquireLease: ((key: string, ttlMs: number) => Promise<LeaseAttempt>) | undefined;
  readonly releaseLease: ((key: string, token: string) => Promise<void>) | undefined;

  constructor(front: MemoryPartitionView, back: Partition, expiryOf: (value: Uint8Array) => number | undefined) {
    this.#front = front;
    this.#back = back;
    this.#expiryOf = expiryOf;
    this.deleteExpired = isSweepable(back)
      ? async (now) => {
        await front.deleteExpired(now);
        return back.deleteExpired(now);
      }
      : undefined;
    this.deleteCreatedBefore = canDeleteByAge(back)
      ? async (cutoff) => {
        await front.deleteCreatedBefore?.(cutoff);
        return back.deleteCreatedBefore(cutoff);
      }
      : undefined;
    this.acquireLease = offersLeases(back) ? (key, ttlMs) => back.acquireLease(key, ttlMs) : undefined;
    this.releaseLease = offersLeases(back) ? (key, token) => back.releaseLease(key, token) : undefined;
  }

  /** From memory at once; null (ask get()) when memory does not have it. */
  getSync(key: string): Uint8Array | undefined | null {
    return this.#front.getSync(key) ?? null;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const near = this.#front.getSync(key);
    if (near !== undefined) return near;
    const far = await this.#back.get(key);
    if (far !== undefined) await this.#remember(key, far);
    return far;
  }

  async getMany(keys: string[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    const missing: string[] = [];
    for (const key of keys) {
      const near = this.#front.getSync(key);
      if (near === undefined) missing.push(key);
      else found.set(key, near);
    }
    if (missing.length > 0) {
      for (const [key, value] of await this.#back.getMany(missing)) {
        found.set(key, value);
        await this.#remember(key, value);
      }
    }
    return found;
  }

  async set(key: string, value: Uint8Array, opts?: SetOptions): Promise<void> {
    // The storage behind first: it is the truth; memory follows (and keeps its own copy).
    await this.#back.set(key, value, opts === undefined ? undefined : { expiresAt: opts.expiresAt });
    await this.#front.set(key, value, opts === undefined ? undefined : { expiresAt: opts.expiresAt });
  }

  async delete(key: string): Promise<boolean> {
    const [, deleted] = await Promise.all([this.#front.delete(key), this.#back.delete(key)]);
    return deleted;
  }

  async has(key: string): Promise<boolean> {
    return this.#front.getSync(key) !== undefined || this.#back.has(key);
  }

  async bulkDelete(keys: Iterable<string>): Promise<number> {
    const list = [...keys];
    const [, deleted] = await Promise.all([this.#front.bulkDelete(list), this.#back.bulkDelete(list)]);
    return deleted;
  }

  async clear(): Promise<void> {
    await Promise.all([this.#front.clear(), this.#back.clear()]);
  }

  keys(): AsyncIterable<string> {
    return this.#back.keys();
  }

  entries(): AsyncIterable<[string, Uint8Array]> {
    return this.#back.entries();
  }

  size(): Promise<number> {
    return this.#back.size();
  }

  async #remember(key: string, value: Uint8Array): Promise<void> {
    const expiresAt = this.#expiryOf(value);
    // Already dead: not worth a place in memory.
    if (expiresAt !== undefined && expiresAt <= Date.now()) return;
    await this.#front.set(key, value, { expiresAt });
  }
}
