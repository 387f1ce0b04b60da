/**
 * A memory tier in front of any storage. Reads try memory first (at once,
 * synchronously), then the storage behind, and keep what they found in
 * memory for the value's remaining life; writes, deletes and clears reach
 * both. In a warm AWS Lambda, a repeated request then costs no DynamoDB call.
 *
 * A read never puts in memory a value that a write of this process replaced
 * while the read was under way.
 *
 * Each process has its own memory tier; deletions made by other processes
 * reach it through a generation stamp in the storage behind (one small
 * record, `generation` in the `syncPartition`): every delete, bulk delete or
 * clear writes a new stamp, and a memory tier reads the stamp when about to
 * answer from memory with what it last heard older than three quarters of
 * `syncEvery` ms (reads that go to the storage anyway pay nothing), and
 * empties itself when the stamp changed. Until `syncEvery` has passed, that
 * read goes on in the background and memory answers meanwhile, so under
 * steady traffic no request waits for it; after `syncEvery` without one, the
 * next answer from memory waits for it. So what another process deleted is
 * served from this one's memory for at most `syncEvery`, counted from the
 * start of the last read that heard; the cost is one write per deletion and
 * at most one read per ¾ `syncEvery` per process. If the stamp cannot be
 * read — an error, or no answer within `readTimeout` (a storage that is down
 * may queue the read forever) — memory goes on answering and the next read
 * of the stamp comes ¾ `syncEvery` later.
 *
 * Memory answers whatever the storage behind is doing: the cache asks it
 * (`localReader`) when the storage fails, passes its deadline or is skipped by
 * the circuit breaker.
 */

import { type Clock, isClock, systemClock, type Timer } from '../clock.js';
import { describe } from '../describe.js';
import type { CompletePartition, LeaseAttempt, Partition, PartitionCapabilities, SetOptions, Storage } from './contract.js';
import { completePartition, declares, mayHaveEvicted } from './contract.js';
import { MemoryStorage, type MemoryStorageOptions } from './memory.js';

const { randomUUID } = process.getBuiltinModule('node:crypto'); // not an import (a cold start: scripts/bundle.mjs)

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
  /**
   * The bytes memory keeps for a value of the storage behind; undefined: keep
   * none. The cache's opens a compressed record, so that a hit from memory
   * pays no decompression. Default: the value as it is.
   */
  frontValue?: (value: Uint8Array) => Uint8Array | undefined;
  /** Most ms memory answers without checking for deletions made by other processes; Infinity: never checks. Default: 2000. */
  syncEvery?: number;
  /** The partition of the storage behind holding the generation stamp. Default: "tiers". */
  syncPartition?: string;
  /** Most ms a read of the stamp may take; past it memory goes on answering. Default: 500. */
  readTimeout?: number;
  /** The time syncs and expiries are read by. Default: the system's; a cache's memory tier gets the cache's. */
  clock?: Clock;
}

const DEFAULT_FRONT_BYTES = 16 * 1024 * 1024;
const DEFAULT_SYNC_EVERY_MS = 2000;
const DEFAULT_READ_TIMEOUT_MS = 500;
const STAMP_KEY = 'generation';
/** The end of a stamp written for deleted keys (a stamp without it, as older versions wrote, is for everything). */
const KEYS_STAMP = '-keys';

/** When a stamp was written (epoch ms, its own prefix); 0 for none. */
function stampTime(stamp: string): number {
  const time = Number.parseInt(stamp.split('-')[0] ?? '', 36);
  return Number.isFinite(time) ? time : 0;
}

/**
 * The generation stamp shared through the storage behind: written on every
 * deletion, read ahead once what memory last heard is ¾ `syncEvery` old,
 * waited for once it is `syncEvery` old; a stamp that changed empties memory
 * (`forget`).
 */
class Generation {
  readonly #partition: Partition;
  readonly #everyMs: number;
  /** From this age on, the first to ask starts the next read in the background. */
  readonly #aheadMs: number;
  readonly #readMs: number;
  readonly #forget: () => void;
  readonly #clock: Clock;
  #known: string | undefined;
  /** Memory starts empty: nothing to hear of for a first `syncEvery`. */
  #checkedAt: number;
  readonly #startedAt: number;
  #checking: Promise<void> | undefined;

  /** Whether the storage behind tells of each key other processes change (then a stamp of deleted keys says nothing new). */
  watching = false;

  constructor(partition: Partition, everyMs: number, readMs: number, forget: () => void, clock: Clock) {
    this.#clock = clock;
    this.#checkedAt = clock.monotonic();
    this.#startedAt = clock.now();
    this.#partition = partition;
    this.#everyMs = everyMs;
    this.#aheadMs = everyMs * 0.75;
    this.#readMs = readMs;
    this.#forget = forget;
  }

  /**
   * Memory may answer without waiting for a read of the stamp. Past ¾ of
   * `syncEvery`, the first to ask starts the next read in the background,
   * so that under steady traffic none waits.
   */
  mayAnswer(): boolean {
    const age = this.#clock.monotonic() - this.#checkedAt;
    if (age < this.#aheadMs) return true;
    if (age >= this.#everyMs) return false;
    void this.#read();
    return true;
  }

  /** Reads the stamp unless memory may answer without waiting. */
  ensure(): Promise<void> | undefined {
    return this.mayAnswer() ? undefined : this.#read();
  }

  /** One read under way at a time; it never rejects. */
  #read(): Promise<void> {
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #check(): Promise<void> {
    let timer: Timer | undefined;
    // What the stamp says holds from the moment it was asked for.
    const began = this.#clock.monotonic();
    try {
      const timeUp = new Promise<never>((_, reject) => {
        timer = this.#clock.setTimer(() => reject(new Error('the stamp could not be read in time')), this.#readMs);
      });
      const bytes = await Promise.race([this.#partition.get(STAMP_KEY), timeUp]);
      const stamp = bytes === undefined ? '' : Buffer.from(bytes).toString('latin1');
      // The first stamp read: a deletion made since this memory tier started (by the stamp's own clock) counts.
      const changed = this.#known === undefined ? stampTime(stamp) >= this.#startedAt : stamp !== this.#known;
      // Keys deleted elsewhere: a memory that hears of each changed key has dropped them already.
      if (changed && !(this.watching && stamp.endsWith(KEYS_STAMP))) this.#forget();
      this.#known = stamp;
      this.#checkedAt = began;
    } catch {
      // The storage behind cannot say: memory goes on answering, and asks again later.
      this.#checkedAt = this.#clock.monotonic();
    } finally {
      timer?.cancel();
    }
  }

  /**
   * A deletion was made: others must hear of it. `keys`: of keys, which a
   * memory that watches the storage's changes hears of key by key; `all`:
   * of everything (a clear, a deletion by age), which every memory forgets.
   */
  async bump(kind: 'keys' | 'all'): Promise<void> {
    const stamp = `${this.#clock.now().toString(36)}-${randomUUID()}${kind === 'keys' ? KEYS_STAMP : ''}`;
    await this.#partition.set(STAMP_KEY, Buffer.from(stamp, 'latin1'));
    this.#known = stamp;
  }
}

export class TieredStorage implements Storage {
  /** Whether values may be gone before their expiry is the storage behind's to say. */
  readonly capabilities = { evicts: true } as const;
  readonly front: MemoryStorage;
  readonly back: Storage;
  readonly #values: FrontValues;
  readonly #partitions = new Map<string, TieredPartition>();
  readonly #generation: Generation;
  readonly #clock: Clock;

  constructor(options: TieredStorageOptions) {
    if (options === null || typeof options !== 'object' || options.back === undefined) {
      throw new TypeError(`TieredStorage needs { back: a Storage }, got ${describe(options)}`);
    }
    this.back = options.back;
    const clock = options.clock ?? systemClock;
    if (!isClock(clock)) throw new TypeError(`TieredStorage clock must be a Clock ({ now, monotonic, setTimer }), got ${describe(clock)}`);
    this.front = options.front instanceof MemoryStorage ? options.front : new MemoryStorage({ maxBytes: DEFAULT_FRONT_BYTES, ...options.front, clock });
    this.#clock = clock;
    this.#values = { expiryOf: options.expiryOf ?? (() => undefined), frontValue: options.frontValue ?? ((value) => value) };
    const syncEvery = options.syncEvery ?? DEFAULT_SYNC_EVERY_MS;
    if (typeof syncEvery !== 'number' || Number.isNaN(syncEvery) || syncEvery < 0) {
      throw new TypeError(`TieredStorage syncEvery must be milliseconds (0 or more, or Infinity), got ${describe(syncEvery)}`);
    }
    const syncPartition = options.syncPartition ?? 'tiers';
    if (typeof syncPartition !== 'string' || syncPartition === '')
      throw new TypeError(`TieredStorage syncPartition must be a partition name, got ${describe(syncPartition)}`);
    const readTimeout = options.readTimeout ?? DEFAULT_READ_TIMEOUT_MS;
    if (typeof readTimeout !== 'number' || !(readTimeout > 0)) {
      throw new TypeError(`TieredStorage readTimeout must be a positive number of milliseconds, got ${describe(readTimeout)}`);
    }
    this.#generation = new Generation(
      this.back.partition(syncPartition),
      syncEvery,
      readTimeout,
      () => {
        for (const partition of this.#partitions.values()) partition.forget();
      },
      clock,
    );
    // Per-key invalidation where the storage behind tells of changes (Redis's client-side caching): memory
    // drops exactly what other processes change. When the storage stops telling (a connection lost), the stamp
    // rules again and memory goes on answering (a server that is down changes nothing); when it starts telling
    // again, what changed in between is unknown: memory forgets all, once.
    this.#unwatch = this.back.watchChanges?.(
      (name, key) => this.#partitions.get(name)?.changedElsewhere(key),
      (watching: boolean) => {
        this.#generation.watching = watching;
        if (watching) for (const partition of this.#partitions.values()) partition.forget();
      },
    );
  }

  readonly #unwatch: (() => void) | undefined;

  partition(name: string): CompletePartition {
    let partition = this.#partitions.get(name);
    if (partition === undefined) {
      partition = new TieredPartition(
        this.front.partition(name) as MemoryPartitionView,
        completePartition(this.back.partition(name), name),
        this.#values,
        this.#generation,
        this.#clock,
      );
      this.#partitions.set(name, partition);
    }
    return partition;
  }

  /**
   * Tells the memory tiers of other processes that records changed in the
   * storage behind without a deletion (a soft purge rewrote them): they
   * empty themselves as for a deletion — or, where the storage tells of each
   * changed key, drop those. This process's memory already holds the new records.
   */
  announceChange(): Promise<void> {
    // Rewritten keys: a memory that watches changes has heard of each.
    return this.#generation.bump('keys');
  }

  /** Whether the storage behind tells memory of each key other processes change, now (see `Storage.watchChanges`). */
  get watchingChanges(): boolean {
    return this.#generation.watching;
  }

  /** What memory holds for a partition's key, whatever the storage behind is doing (see the module's comment). */
  localReader(name: string): (key: string) => Uint8Array | undefined {
    const partition = this.partition(name) as TieredPartition;
    return (key) => partition.getLocal(key);
  }

  /** The storage behind is the truth: whether it may have evicted (the memory tier evicting loses nothing). */
  mayHaveEvicted(): Promise<boolean> {
    return mayHaveEvicted(this.back);
  }

  async close(): Promise<void> {
    this.#unwatch?.();
    await Promise.all([this.front.close(), this.back.close()]);
  }
}

/** What memory keeps of a value of the storage behind, and until when. */
interface FrontValues {
  expiryOf: (value: Uint8Array) => number | undefined;
  frontValue: (value: Uint8Array) => Uint8Array | undefined;
}

type MemoryPartitionView = Omit<CompletePartition, 'getSync' | 'deleteExpired'> & {
  getSync(key: string): Uint8Array | undefined;
  deleteExpired(now: number): Promise<number>;
};

/** Keys written while reads are under way, remembered at most this many before a read gives up filling memory. */
const MAX_TRACKED_WRITES = 10_000;

class TieredPartition implements CompletePartition {
  /** Reads at once from memory; sweeps and leases when the storage behind offers them. */
  readonly capabilities: PartitionCapabilities;
  readonly #front: MemoryPartitionView;
  readonly #back: CompletePartition;
  readonly #values: FrontValues;
  readonly #generation: Generation;
  readonly #time: Clock;
  /*
   * A read from the back may return what a write (set, delete, clear) running
   * alongside has just replaced; it must not then put that old value in memory.
   * Writes tick a counter when they end; a read fills memory only if no write to
   * its key is under way, and none ended since the read began.
   */
  #ticks = 0;
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

  constructor(front: MemoryPartitionView, back: CompletePartition, values: FrontValues, generation: Generation, time: Clock) {
    this.#time = time;
    this.#front = front;
    this.#back = back;
    this.#values = values;
    this.#generation = generation;
    this.capabilities = { syncReads: true, sweeps: declares(back, 'sweeps'), deleteByAge: declares(back, 'deleteByAge'), leases: declares(back, 'leases') };
    this.deleteExpired = declares(back, 'sweeps')
      ? async (now) => {
          await front.deleteExpired(now);
          return back.deleteExpired(now);
        }
      : undefined;
    this.deleteCreatedBefore = declares(back, 'deleteByAge')
      ? // Memory cannot tell when a value it copied was first stored: it is emptied.
        (cutoff) =>
          this.#wipe(async () => {
            await front.clear();
            const deleted = await back.deleteCreatedBefore(cutoff);
            await generation.bump('all');
            return deleted;
          })
      : undefined;
    const leasing = declares(back, 'leases') ? back : undefined;
    this.acquireLease = leasing === undefined ? undefined : (key, ttlMs) => leasing.acquireLease(key, ttlMs);
    this.releaseLease = leasing === undefined ? undefined : (key, token) => leasing.releaseLease(key, token);
  }

  /** The storage behind is still setting up its connection (see redis.ts). */
  get settingUp(): boolean {
    return (this.#back as { settingUp?: unknown }).settingUp === true;
  }

  /** What memory holds, whatever the storage behind is doing and whenever it last heard of deletions (see the module's comment). */
  getLocal(key: string): Uint8Array | undefined {
    return this.#front.getSync(key);
  }

  /** From memory at once; null (ask get()) when memory does not have it, or must first hear of deletions made elsewhere. */
  getSync(key: string): Uint8Array | undefined | null {
    // Memory's own misses go to the storage behind: they need no read of the stamp.
    const near = this.#front.getSync(key);
    if (near === undefined || !this.#generation.mayAnswer()) return null;
    return near;
  }

  /**
   * Another process changed or deleted `key` (the storage behind said so;
   * this process's own writes it does not tell of): memory drops it, and
   * reads under way do not put back what they read before.
   */
  changedElsewhere(key: string): void {
    this.#ticks += 1;
    if (this.#reads > 0) {
      if (this.#written.size < MAX_TRACKED_WRITES) this.#written.set(key, this.#ticks);
      else this.#wipedAt = this.#ticks;
    }
    void this.#front.delete(key);
  }

  /** Empties memory (deletions were made elsewhere); reads under way fill nothing. */
  forget(): void {
    this.#ticks += 1;
    this.#wipedAt = this.#ticks;
    void this.#front.clear();
  }

  /** Before answering from memory: hear of deletions made elsewhere, if `syncEvery` has passed (see Generation). */
  async #heard(keys: readonly string[]): Promise<void> {
    const reading = keys.some((key) => this.#front.getSync(key) !== undefined) ? this.#generation.ensure() : undefined;
    if (reading !== undefined) await reading;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    await this.#heard([key]);
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
    await this.#heard(keys);
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
      const near = this.#values.frontValue(value);
      if (near === undefined) await this.#front.delete(key);
      else await this.#front.set(key, near, expiry);
    });
  }

  async delete(key: string): Promise<boolean> {
    return this.#write([key], async () => {
      const [, deleted] = await Promise.all([this.#front.delete(key), this.#back.delete(key)]);
      await this.#generation.bump('keys');
      return deleted;
    });
  }

  async has(key: string): Promise<boolean> {
    await this.#heard([key]);
    return this.#front.getSync(key) !== undefined || this.#back.has(key);
  }

  async bulkDelete(keys: Iterable<string>): Promise<number> {
    const list = [...keys];
    return this.#write(list, async () => {
      const [, deleted] = await Promise.all([this.#front.bulkDelete(list), this.#back.bulkDelete(list)]);
      if (list.length > 0) await this.#generation.bump('keys');
      return deleted;
    });
  }

  async clear(): Promise<void> {
    await this.#wipe(async () => {
      await Promise.all([this.#front.clear(), this.#back.clear()]);
      await this.#generation.bump('all');
    });
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
    return this.#ticks;
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
      this.#ticks += 1;
      const tracked = this.#reads > 0 && this.#written.size + keys.length <= MAX_TRACKED_WRITES;
      // Too many to track: count it as a wipe, so reads under way fill nothing.
      if (this.#reads > 0 && !tracked) this.#wipedAt = this.#ticks;
      for (const key of keys) {
        const left = (this.#writing.get(key) ?? 1) - 1;
        if (left === 0) this.#writing.delete(key);
        else this.#writing.set(key, left);
        if (tracked) this.#written.set(key, this.#ticks);
      }
    }
  }

  async #wipe<T>(work: () => Promise<T>): Promise<T> {
    this.#wipes += 1;
    try {
      return await work();
    } finally {
      this.#wipes -= 1;
      this.#ticks += 1;
      this.#wipedAt = this.#ticks;
    }
  }

  /** Whether a value read from the back since `began` may still be the current one. */
  #current(key: string, began: number): boolean {
    return this.#wipes === 0 && this.#wipedAt <= began && !this.#writing.has(key) && (this.#written.get(key) ?? 0) <= began;
  }

  async #remember(key: string, value: Uint8Array, began: number): Promise<void> {
    if (!this.#current(key, began)) return;
    const near = this.#values.frontValue(value);
    if (near === undefined) return;
    const expiresAt = this.#values.expiryOf(near);
    // Already dead: not worth a place in memory.
    if (expiresAt !== undefined && expiresAt <= this.#time.now()) return;
    await this.#front.set(key, near, { expiresAt });
  }
}
