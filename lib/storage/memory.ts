import { type Clock, isClock, systemClock } from '../clock.js';
import { describe } from '../describe.js';
import type { CompletePartition, HeldValue, SetOptions, Storage } from './contract.js';

export interface MemoryStorageOptions {
  /** Most entries held across all partitions. Default: unbounded (bytes bound it). */
  maxEntries?: number;
  /** Most bytes held across all partitions (values, keys and a per-entry overhead). Default: 64 MiB. */
  maxBytes?: number;
  /** The time expiries are read by. Default: the system's; a cache's memory tier gets the cache's. */
  clock?: Clock;
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
// A rough cost of the bookkeeping around each value (node object, Map slot),
// so that a flood of tiny entries is bounded too.
const ENTRY_OVERHEAD_BYTES = 96;

interface Node {
  owner: MemoryPartition;
  key: string;
  /** Bytes, or a value held as it was given until someone asks for its bytes. */
  value: Uint8Array | HeldValue;
  expiresAt: number | undefined;
  created: number;
  bytes: number;
  newer: Node | null;
  older: Node | null;
}

/**
 * An in-process LRU store bounded by the bytes it holds. Every operation is
 * O(1) apart from listing: a doubly linked list orders all entries of all
 * partitions by last use, so the bound is shared, and eviction takes the
 * least recently used entry whichever partition it lives in.
 *
 * Values are copied on the way in (unless handed over with `transfer`); the
 * bytes `get()` returns are the stored ones and must be treated as read-only.
 * A held value (`hold`) is kept as it was given until a reader asks for
 * bytes: they are made then, once, and kept in its place.
 */
export class MemoryStorage implements Storage {
  /** It drops the least recently used entries to stay within its bounds. */
  readonly capabilities = { evicts: true } as const;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly #partitions = new Map<string, MemoryPartition>();
  readonly #lru: Lru;
  readonly #clock: Clock;

  constructor(options: MemoryStorageOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`MemoryStorage options must be an object, got ${describe(options)}`);
    }
    this.maxEntries = checkLimit(options.maxEntries, 'maxEntries', Number.POSITIVE_INFINITY);
    this.maxBytes = checkLimit(options.maxBytes, 'maxBytes', DEFAULT_MAX_BYTES);
    const clock = options.clock ?? systemClock;
    if (!isClock(clock)) throw new TypeError(`MemoryStorage clock must be a Clock ({ now, monotonic, setTimer }), got ${describe(clock)}`);
    this.#clock = clock;
    this.#lru = new Lru(this.maxEntries, this.maxBytes);
  }

  partition(name: string): CompletePartition {
    let partition = this.#partitions.get(name);
    if (partition === undefined) {
      partition = new MemoryPartition(this.#lru, this.#clock);
      this.#partitions.set(name, partition);
    }
    return partition;
  }

  /** Whether an entry was ever dropped to keep within a bound (`capabilities.evicts`). */
  mayHaveEvicted(): boolean {
    return this.#lru.evicted;
  }

  /** Entries and bytes currently held across all partitions. */
  get usage(): { entries: number; bytes: number } {
    return { entries: this.#lru.entries, bytes: this.#lru.bytes };
  }

  async close(): Promise<void> {
    for (const partition of this.#partitions.values()) partition.removeAll();
  }
}

/**
 * Every entry of every partition of one MemoryStorage, ordered by last use
 * (a doubly linked list: O(1) to link, touch and unlink), with the totals its
 * bounds are kept by.
 */
class Lru {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #newest: Node | null = null;
  #oldest: Node | null = null;
  entries = 0;
  bytes = 0;
  evicted = false;

  constructor(maxEntries: number, maxBytes: number) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  /** Puts a node in front; false when it is larger than the whole bound (then it is not kept). */
  link(node: Node): boolean {
    if (node.bytes > this.#maxBytes) return false;
    node.newer = null;
    node.older = this.#newest;
    if (this.#newest !== null) this.#newest.newer = node;
    this.#newest = node;
    if (this.#oldest === null) this.#oldest = node;
    this.entries += 1;
    this.bytes += node.bytes;
    this.#evictPast(node);
    return true;
  }

  /** A held value became bytes: counts their size instead (then evicts, never `node`, if past the bound). */
  resize(node: Node, bytes: number): void {
    this.bytes += bytes - node.bytes;
    node.bytes = bytes;
    this.#evictPast(node);
  }

  unlink(node: Node): void {
    if (node.newer !== null) node.newer.older = node.older;
    else this.#newest = node.older;
    if (node.older !== null) node.older.newer = node.newer;
    else this.#oldest = node.newer;
    node.newer = null;
    node.older = null;
    this.entries -= 1;
    this.bytes -= node.bytes;
  }

  touch(node: Node): void {
    if (this.#newest === node) return;
    // Detach without changing the totals, then put back in front.
    if (node.newer !== null) node.newer.older = node.older;
    if (node.older !== null) node.older.newer = node.newer;
    else this.#oldest = node.newer;
    node.newer = null;
    node.older = this.#newest;
    if (this.#newest !== null) this.#newest.newer = node;
    this.#newest = node;
  }

  /** Evicts the least recently used entries while past a bound; `kept` stays. */
  #evictPast(kept: Node): void {
    while ((this.bytes > this.#maxBytes || this.entries > this.#maxEntries) && this.#oldest !== null && this.#oldest !== kept) {
      const evicted = this.#oldest;
      this.evicted = true;
      evicted.owner.forget(evicted.key);
      this.unlink(evicted);
    }
  }
}

class MemoryPartition implements CompletePartition {
  readonly capabilities = { syncReads: true, heldValues: true, sweeps: true, deleteByAge: true } as const;
  readonly #lru: Lru;
  readonly #clock: Clock;
  readonly #nodes = new Map<string, Node>();

  constructor(lru: Lru, clock: Clock) {
    this.#clock = clock;
    this.#lru = lru;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.getSync(key);
  }

  getSync(key: string): Uint8Array | undefined {
    const node = this.#live(key, this.#clock.now());
    return node === undefined ? undefined : this.#bytesOf(node);
  }

  getHeld(key: string): HeldValue | Uint8Array | undefined {
    return this.#live(key, this.#clock.now())?.value;
  }

  async getMany(keys: string[]): Promise<Map<string, Uint8Array>> {
    const now = this.#clock.now();
    const found = new Map<string, Uint8Array>();
    for (const key of keys) {
      const node = this.#live(key, now);
      if (node !== undefined) found.set(key, this.#bytesOf(node));
    }
    return found;
  }

  async set(key: string, value: Uint8Array, opts?: SetOptions): Promise<void> {
    checkKey(key);
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(`value must be a Uint8Array, got ${describe(value)}`);
    }
    const owned = opts?.transfer === true && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? value : copy(value);
    this.#add(key, owned, value.byteLength, opts);
  }

  hold(key: string, value: HeldValue, opts?: SetOptions): void {
    checkKey(key);
    if (value === null || typeof value !== 'object' || typeof value.encode !== 'function' || !(value.byteLength >= 0)) {
      throw new TypeError(`a held value needs encode() and a byteLength, got ${describe(value)}`);
    }
    this.#add(key, value, value.byteLength, opts);
  }

  #add(key: string, value: Uint8Array | HeldValue, byteLength: number, opts: SetOptions | undefined): void {
    this.#remove(key);
    const node: Node = {
      owner: this,
      key,
      value,
      expiresAt: opts?.expiresAt,
      created: this.#clock.now(),
      bytes: byteLength + key.length * 2 + ENTRY_OVERHEAD_BYTES,
      newer: null,
      older: null,
    };
    this.#nodes.set(key, node);
    // A value bigger than the whole store is not kept: the cache treats that as a miss later.
    if (!this.#lru.link(node)) this.#nodes.delete(key);
  }

  /** The node's bytes: a held value's are made now, once, and kept in its place. */
  #bytesOf(node: Node): Uint8Array {
    const value = node.value;
    if (value instanceof Uint8Array) return value;
    let bytes: unknown;
    try {
      bytes = value.encode();
      if (!(bytes instanceof Uint8Array)) throw new TypeError(`a held value's encode() must return bytes, got ${describe(bytes)}`);
    } catch (error) {
      // A value that cannot give its bytes is of no use to anyone: it goes.
      this.#remove(node.key);
      throw error;
    }
    node.value = bytes;
    this.#lru.resize(node, bytes.byteLength + node.key.length * 2 + ENTRY_OVERHEAD_BYTES);
    return bytes;
  }

  async delete(key: string): Promise<boolean> {
    const node = this.#nodes.get(key);
    if (node === undefined) return false;
    const live = !isExpired(node, this.#clock.now());
    this.#remove(key);
    return live;
  }

  async has(key: string): Promise<boolean> {
    return this.#live(key, this.#clock.now()) !== undefined;
  }

  async bulkDelete(keys: Iterable<string>): Promise<number> {
    const now = this.#clock.now();
    let deleted = 0;
    for (const key of keys) {
      const node = this.#nodes.get(key);
      if (node === undefined) continue;
      if (!isExpired(node, now)) deleted += 1;
      this.#remove(key);
    }
    return deleted;
  }

  async clear(): Promise<void> {
    this.removeAll();
  }

  async *keys(): AsyncIterable<string> {
    const now = this.#clock.now();
    const live: string[] = [];
    for (const node of this.#nodes.values()) if (!isExpired(node, now)) live.push(node.key);
    yield* live;
  }

  async *entries(): AsyncIterable<[string, Uint8Array]> {
    yield* this.#snapshot();
  }

  async size(): Promise<number> {
    const now = this.#clock.now();
    let count = 0;
    for (const node of this.#nodes.values()) if (!isExpired(node, now)) count += 1;
    return count;
  }

  async deleteExpired(now: number): Promise<number> {
    let deleted = 0;
    for (const node of [...this.#nodes.values()]) {
      if (isExpired(node, now)) {
        this.#remove(node.key);
        deleted += 1;
      }
    }
    return deleted;
  }

  async deleteCreatedBefore(cutoff: number): Promise<number> {
    let deleted = 0;
    for (const node of [...this.#nodes.values()]) {
      if (node.created <= cutoff) {
        this.#remove(node.key);
        deleted += 1;
      }
    }
    return deleted;
  }

  /** The LRU evicted one of this partition's nodes. */
  forget(key: string): void {
    this.#nodes.delete(key);
  }

  /** Empties the partition (the storage closes). */
  removeAll(): void {
    for (const node of this.#nodes.values()) this.#lru.unlink(node);
    this.#nodes.clear();
  }

  #live(key: string, now: number): Node | undefined {
    const node = this.#nodes.get(key);
    if (node === undefined) return undefined;
    if (isExpired(node, now)) {
      this.#remove(key);
      return undefined;
    }
    this.#lru.touch(node);
    return node;
  }

  #remove(key: string): void {
    const node = this.#nodes.get(key);
    if (node === undefined) return;
    this.#nodes.delete(key);
    this.#lru.unlink(node);
  }

  // Listing works on a copy so that callers may delete while they iterate.
  #snapshot(): Array<[string, Uint8Array]> {
    const now = this.#clock.now();
    const live: Array<[string, Uint8Array]> = [];
    // Making a held value's bytes may evict others: those evicted meanwhile are left out.
    for (const node of [...this.#nodes.values()]) if (this.#nodes.get(node.key) === node && !isExpired(node, now)) live.push([node.key, this.#bytesOf(node)]);
    return live;
  }
}

/** An exact-size copy (not from Buffer's shared pool, which would keep a whole 8 KB slab alive per small value). */
function copy(value: Uint8Array): Uint8Array {
  const owned = Buffer.allocUnsafeSlow(value.byteLength);
  owned.set(value);
  return owned;
}

function isExpired(node: Node, now: number): boolean {
  return node.expiresAt !== undefined && node.expiresAt <= now;
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new TypeError(`key must be a string, got ${describe(key)}`);
}

function checkLimit(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || (Number.isFinite(value) && !Number.isInteger(value))) {
    throw new TypeError(`MemoryStorage ${name} must be a positive integer, got ${describe(value)}`);
  }
  return value;
}
