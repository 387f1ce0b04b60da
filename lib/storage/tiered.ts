/**
 * A memory tier in front of any storage. Reads try memory first (at once,
 * synchronously), then the storage behind, and keep what they found in
 * memory for the value's remaining life; writes, deletes and clears reach
 * both. In a warm AWS Lambda, a repeated request then costs no DynamoDB call.
 *
 * A read never puts in memory a value that a write of this process replaced
 * while the read was under way. Each process has its own memory tier: what
 * another process deletes stays in this one's memory until it expires or is
 * evicted (for an HTTP cache, a response that was fresh when stored stays
 * fresh; the cache still checks).
 */

import { describe } from '../describe.js';
import type { Partition, SetOptions, Storage, SweepablePartition, SyncReadablePartition } from './contract.js';
import { canDeleteByAge, isSweepable, type LeaseAttempt, offersLeases } from './contract.js';
import { MemoryStorage, type MemoryStorageOptions } from './memory.js';

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

/** Keys written while reads are under way, remembered at most this many before a read gives up filling memory. */
const MAX_TRACKED_WRITES = 10_000;

class TieredPartition implements SyncReadablePartition {
  readonly #front: MemoryPartitionView;
  readonly #back: Partition;
  readonly #expiryOf: (value: Uint8Array) => number | undefined;
  /*
   * A read from the back may return what a write (set, delete, clear) running
   * alongside has just replaced; it must not then put that old value in memory.
   * Writes tick a clock when they end; a read fills memory only if no write to
   * its key is under way, and none ended since the read began.
   */
  #clock = 0;
  #reads = 0;
  readonly #writing = new Map<string, number>();
  readonly #written = new Map<string, number>();
  #wipes = 0;
  #wipedAt = 0;
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
      ? // Memory cannot tell when a value it copied was first stored: it is emptied.
        (cutoff) =>
          this.#wipe(async () => {
            await front.clear();
            return back.deleteCreatedBefore(cutoff);
          })
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
    const began = this.#beginRead();
    try {
      const far = await this.#back.get(key);
      if (far !== undefined) await this.#remember(key, far, began);
      return far;
    } finally {
      this.#endRead();
    }
  }

  async getMany(keys: string[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    const missing: string[] = [];
    for (const key of keys) {
      const near = this.#front.getSync(key);
      if (near === undefined) missing.push(key);
      else found.set(key, near);
    }
    if (missing.length === 0) return found;
    const began = this.#beginRead();
    try {
      for (const [key, value] of await this.#back.getMany(missing)) {
        found.set(key, value);
        await this.#remember(key, value, began);
      }
      return found;
    } finally {
      this.#endRead();
    }
  }

  async set(key: string, value: Uint8Array, opts?: SetOptions): Promise<void> {
    const expiry = opts === undefined ? undefined : { expiresAt: opts.expiresAt };
    // The storage behind first: it is the truth; memory follows (and keeps its own copy).
    await this.#write([key], async () => {
      await this.#back.set(key, value, expiry);
      await this.#front.set(key, value, expiry);
    });
  }

  async delete(key: string): Promise<boolean> {
    return this.#write([key], async () => {
      const [, deleted] = await Promise.all([this.#front.delete(key), this.#back.delete(key)]);
      return deleted;
    });
  }

  async has(key: string): Promise<boolean> {
    return this.#front.getSync(key) !== undefined || this.#back.has(key);
  }

  async bulkDelete(keys: Iterable<string>): Promise<number> {
    const list = [...keys];
    return this.#write(list, async () => {
      const [, deleted] = await Promise.all([this.#front.bulkDelete(list), this.#back.bulkDelete(list)]);
      return deleted;
    });
  }

  async clear(): Promise<void> {
    await this.#wipe(() => Promise.all([this.#front.clear(), this.#back.clear()]));
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

  #beginRead(): number {
    this.#reads += 1;
    return this.#clock;
  }

  #endRead(): void {
    this.#reads -= 1;
    // With no read under way, what writes ended is of no more use.
    if (this.#reads === 0) this.#written.clear();
  }

  async #write<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    for (const key of keys) this.#writing.set(key, (this.#writing.get(key) ?? 0) + 1);
    try {
      return await work();
    } finally {
      this.#clock += 1;
      const tracked = this.#reads > 0 && this.#written.size + keys.length <= MAX_TRACKED_WRITES;
      // Too many to track: count it as a wipe, so reads under way fill nothing.
      if (this.#reads > 0 && !tracked) this.#wipedAt = this.#clock;
      for (const key of keys) {
        const left = (this.#writing.get(key) ?? 1) - 1;
        if (left === 0) this.#writing.delete(key);
        else this.#writing.set(key, left);
        if (tracked) this.#written.set(key, this.#clock);
      }
    }
  }

  async #wipe<T>(work: () => Promise<T>): Promise<T> {
    this.#wipes += 1;
    try {
      return await work();
    } finally {
      this.#wipes -= 1;
      this.#clock += 1;
      this.#wipedAt = this.#clock;
    }
  }

  /** Whether a value read from the back since `began` may still be the current one. */
  #current(key: string, began: number): boolean {
    return this.#wipes === 0 && this.#wipedAt <= began && !this.#writing.has(key) && (this.#written.get(key) ?? 0) <= began;
  }

  async #remember(key: string, value: Uint8Array, began: number): Promise<void> {
    if (!this.#current(key, began)) return;
    const expiresAt = this.#expiryOf(value);
    // Already dead: not worth a place in memory.
    if (expiresAt !== undefined && expiresAt <= Date.now()) return;
    await this.#front.set(key, value, { expiresAt });
  }
}
