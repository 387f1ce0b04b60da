/**
 * The storage contract every backend implements: named partitions holding
 * opaque bytes under string keys, Map-like and asynchronous.
 *
 * Freshness is decided by the cache, never by the backend alone: `expiresAt`
 * is the moment after which the cache has no use left for a value (not even
 * to revalidate it), so a backend may drop it from then on.
 */

import { describe } from '../describe.js';

export interface SetOptions {
  /** Epoch milliseconds after which the value may be dropped. */
  expiresAt?: number | undefined;
  /**
   * The caller hands the bytes over and will never touch them again: a
   * backend that keeps values in memory may keep these without a copy.
   */
  transfer?: boolean | undefined;
}

/**
 * A value kept as it is, its bytes made only if someone asks for them: what
 * the cache hands a backend that keeps values in this process
 * (`capabilities.heldValues`), so that storing a response costs no encoding,
 * and reading it back no decoding. Every other read (get, getSync, getMany,
 * entries) gives the held value's bytes, from then on in place of it; only
 * `getHeld` gives it back as it was held. Like `getSync`, it never leaves the
 * process: the cache puts no deadline on `hold`, and its circuit breaker
 * neither gates nor counts it.
 */
export interface HeldValue {
  /** About how many bytes it takes (the backend's bound counts it). */
  readonly byteLength: number;
  /** Its bytes. A backend calls it at most once, the first time a reader asks for bytes. */
  encode(): Uint8Array;
}

/** What taking a lease gives: the lease, or who holds it until when. */
export type LeaseAttempt = { token: string } | { heldUntil: number };

/**
 * What a partition offers beyond the core, declared rather than guessed: the
 * cache reads this object, never looks for methods by name. Each capability
 * brings its methods (`CAPABILITY_METHODS`); declaring one without them, or
 * having them without declaring it, is refused when the cache is made.
 */
export interface PartitionCapabilities {
  /** `getSync(key)`: reads answered at once (memory, a local file); a hit then costs no tick. */
  readonly syncReads?: boolean;
  /** `hold(key, value)` / `getHeld(key)`: values kept unencoded in this process (with `syncReads`). */
  readonly heldValues?: boolean;
  /** `acquireLease(key, ttlMs)` / `releaseLease(key, token)`: collapsing misses across processes. */
  readonly leases?: boolean;
  /** `deleteExpired(now)`: a sweep the backend does in one pass. */
  readonly sweeps?: boolean;
  /** `deleteCreatedBefore(cutoff)`: `delete({ olderThan })` in one pass. */
  readonly deleteByAge?: boolean;
}

/** The methods each capability brings. */
const CAPABILITY_METHODS = {
  syncReads: ['getSync'],
  heldValues: ['hold', 'getHeld'],
  leases: ['acquireLease', 'releaseLease'],
  sweeps: ['deleteExpired'],
  deleteByAge: ['deleteCreatedBefore'],
} as const satisfies Record<keyof PartitionCapabilities, readonly string[]>;

/**
 * One named partition of a storage: opaque bytes under string keys.
 *
 * The core is four methods: `get`, `set`, `delete` and `keys`. The rest of
 * the Map-like surface (`getMany`, `has`, `bulkDelete`, `clear`, `entries`,
 * `size`) has defaults built on the core: extend `BasePartition` to inherit
 * them, and write your own where the backend does better (a batch read, a
 * count it keeps). What a backend offers beyond that it declares in
 * `capabilities`.
 */
export interface Partition {
  /** What this partition offers beyond the core. Default: nothing. */
  readonly capabilities?: PartitionCapabilities;
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array, opts?: SetOptions): Promise<void>;
  /** True when the key was there. */
  delete(key: string): Promise<boolean>;
  keys(): AsyncIterable<string>;

  /** The values found, by key (missing keys absent). Default: a `get` per key. */
  getMany?(keys: string[]): Promise<Map<string, Uint8Array>>;
  /** Default: `get`. */
  has?(key: string): Promise<boolean>;
  /** Deletes the keys that exist, ignores the others, and returns how many it deleted. Default: a `delete` per key. */
  bulkDelete?(keys: Iterable<string>): Promise<number>;
  /** Empties this partition only. Default: `keys`, then `bulkDelete`. */
  clear?(): Promise<void>;
  /** Default: `keys`, then a `get` each. */
  entries?(): AsyncIterable<[string, Uint8Array]>;
  /** Default: counts `keys`. */
  size?(): Promise<number>;

  /** With `capabilities.syncReads`: the value at once; `null` for "cannot tell at once: ask get()". */
  getSync?(key: string): Uint8Array | undefined | null;
  /** With `capabilities.heldValues`: keeps the value as it is (done when it returns). */
  hold?(key: string, value: HeldValue, opts?: SetOptions): void;
  /** With `capabilities.heldValues`: what is stored under the key, at once, as held (or the bytes that replaced it). */
  getHeld?(key: string): HeldValue | Uint8Array | undefined;
  /** With `capabilities.leases`. A lease expires by itself: a crashed holder blocks no one longer than `ttlMs`. */
  acquireLease?(key: string, ttlMs: number): Promise<LeaseAttempt>;
  /** With `capabilities.leases`: releases a lease if `token` still holds it. */
  releaseLease?(key: string, token: string): Promise<void>;
  /** With `capabilities.sweeps`: deletes every value whose `expiresAt` is at or before `now`; returns the count. */
  deleteExpired?(now: number): Promise<number>;
  /** With `capabilities.deleteByAge`: deletes every value set at or before `cutoff` (epoch ms); returns the count. */
  deleteCreatedBefore?(cutoff: number): Promise<number>;
}

/** The Map-like methods `BasePartition` gives defaults for. */
const DEFAULTED = ['getMany', 'has', 'bulkDelete', 'clear', 'entries', 'size'] as const;
const CORE = ['get', 'set', 'delete', 'keys'] as const;

/** A partition with every Map-like method there: what the cache works with (see `completePartition`). */
export type CompletePartition = Partition & Required<Pick<Partition, (typeof DEFAULTED)[number]>>;

type Capability = keyof PartitionCapabilities;
/** The methods a capability brings (held values are read at once: they come with syncReads'). */
type MethodsOf<C extends Capability> = (typeof CAPABILITY_METHODS)[C][number] | (C extends 'heldValues' ? 'getSync' : never);

/** A partition that offers `C`'s methods: what `declares(partition, C)` narrows to. */
export type Offering<C extends Capability> = CompletePartition & Required<Pick<Partition, MethodsOf<C>>>;

/** Whether the partition declares the capability (and so, checked when the cache was made, has its methods). */
export function declares<C extends Capability>(partition: Partition, capability: C): partition is Partition & Required<Pick<Partition, MethodsOf<C>>> {
  return partition.capabilities?.[capability] === true;
}

/**
 * The base a backend's partition extends: the core left to write, defaults
 * for the rest. The defaults are correct, not fast: each is a call of the
 * core per key.
 */
export abstract class BasePartition implements CompletePartition {
  readonly capabilities: PartitionCapabilities = {};
  abstract get(key: string): Promise<Uint8Array | undefined>;
  abstract set(key: string, value: Uint8Array, opts?: SetOptions): Promise<void>;
  abstract delete(key: string): Promise<boolean>;
  abstract keys(): AsyncIterable<string>;

  async getMany(keys: string[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    const values = await Promise.all(keys.map((key) => this.get(key)));
    values.forEach((value, i) => {
      if (value !== undefined) found.set(keys[i] as string, value);
    });
    return found;
  }

  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  async bulkDelete(keys: Iterable<string>): Promise<number> {
    let deleted = 0;
    for (const key of new Set(keys)) if (await this.delete(key)) deleted += 1;
    return deleted;
  }

  async clear(): Promise<void> {
    const all: string[] = [];
    for await (const key of this.keys()) all.push(key);
    await this.bulkDelete(all);
  }

  async *entries(): AsyncIterable<[string, Uint8Array]> {
    for await (const key of this.keys()) {
      const value = await this.get(key);
      if (value !== undefined) yield [key, value];
    }
  }

  async size(): Promise<number> {
    let count = 0;
    for await (const _ of this.keys()) count += 1;
    return count;
  }
}

/** A partition of 0.1's shape or a plain object, with the defaults it leaves out filled in from BasePartition's. */
class Completed extends BasePartition {
  override readonly capabilities: PartitionCapabilities;
  readonly #inner: Partition;

  constructor(inner: Partition) {
    super();
    this.#inner = inner;
    this.capabilities = inner.capabilities ?? {};
    for (const name of DEFAULTED) {
      const own = inner[name];
      if (typeof own === 'function') Object.defineProperty(this, name, { value: own.bind(inner) });
    }
    for (const methods of Object.values(CAPABILITY_METHODS)) {
      for (const name of methods) {
        const own = inner[name];
        if (typeof own === 'function') Object.defineProperty(this, name, { value: own.bind(inner) });
      }
    }
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#inner.get(key);
  }
  set(key: string, value: Uint8Array, opts?: SetOptions): Promise<void> {
    return this.#inner.set(key, value, opts);
  }
  delete(key: string): Promise<boolean> {
    return this.#inner.delete(key);
  }
  keys(): AsyncIterable<string> {
    return this.#inner.keys();
  }
}

/**
 * Checks, once, what `storage.partition(name)` returned: the core is there,
 * each declared capability has its methods, and no capability's methods are
 * there undeclared (0.1 found them by name; 1.0 asks for the declaration, so
 * a storage of 0.1 that offered one is told what to add). Returns the
 * partition with every Map-like method: itself when it has them all.
 */
export function completePartition(partition: unknown, name: string): CompletePartition {
  const where = `storage.partition('${name}')`;
  if (partition === null || typeof partition !== 'object') {
    throw new TypeError(`${where} must return a Partition, got ${describe(partition)}`);
  }
  const candidate = partition as Record<string, unknown> & Partition;
  for (const method of CORE) {
    if (typeof candidate[method] !== 'function') throw new TypeError(`${where} needs to have a ${method}() function`);
  }
  const declared = candidate.capabilities ?? {};
  if (declared === null || typeof declared !== 'object') {
    throw new TypeError(`${where}.capabilities must be an object like { syncReads: true }, got ${describe(declared)}`);
  }
  for (const [capability, methods] of Object.entries(CAPABILITY_METHODS) as [Capability, readonly string[]][]) {
    const present = methods.filter((method) => typeof candidate[method] === 'function');
    if ((declared as PartitionCapabilities)[capability] === true) {
      const missing = methods.filter((method) => !present.includes(method));
      if (missing.length > 0) throw new TypeError(`${where} declares capabilities.${capability} but has no ${missing.map((m) => `${m}()`).join(' or ')}`);
    } else if (present.length > 0) {
      throw new TypeError(
        `${where} has ${present.map((m) => `${m}()`).join(' and ')} but does not declare capabilities.${capability}: ` +
          `in 1.0 a partition declares what it offers (readonly capabilities = { ${capability}: true }), or drops the method`,
      );
    }
  }
  if (declared.heldValues === true && declared.syncReads !== true) throw new TypeError(`${where} declares capabilities.heldValues without syncReads`);
  return DEFAULTED.every((method) => typeof candidate[method] === 'function') ? (candidate as CompletePartition) : new Completed(candidate);
}

/**
 * A storage that may drop values before their expiry to stay within a bound
 * (an LRU in memory, Redis under an `allkeys-*` or `volatile-*` policy)
 * declares `capabilities.evicts` and says, when asked, whether it may have
 * done so. What the cache keeps beside a response to find it again (a tag's
 * index, a redirect's alias) may then be gone while the response is not:
 * purges read the responses themselves instead.
 */
export interface StorageCapabilities {
  readonly evicts?: boolean;
}

export interface Storage {
  /** What the storage offers beyond partitions. Default: nothing. */
  readonly capabilities?: StorageCapabilities;
  /** Cheap and free of I/O: partitions are views onto the backend. */
  partition(name: string): Partition;
  close(): Promise<void>;
  /** With `capabilities.evicts`: whether values may have been dropped before their expiry. */
  mayHaveEvicted?(): boolean | Promise<boolean>;
  /**
   * Tells of the changes other processes make to its values, key by key, as they happen (Redis's
   * client-side caching): what lets a memory tier in front drop exactly what changed. `changed` is called
   * with each key another process changed or deleted, and its partition; `watching(true)` when the
   * storage starts (or starts again) telling — what changed before is unknown — and `watching(false)`
   * when it can no longer tell (a connection lost). Returns a function that stops watching, or undefined
   * when this storage cannot watch.
   */
  watchChanges?(changed: (partition: string, key: string) => void, watching: (on: boolean) => void): (() => void) | undefined;
}

/** Whether the storage may have dropped values before their expiry (false when it declares it never does). */
export async function mayHaveEvicted(storage: Storage): Promise<boolean> {
  return storage.capabilities?.evicts === true && storage.mayHaveEvicted !== undefined ? storage.mayHaveEvicted() : false;
}

/** Checks, once, that an object implements the contract; throws a TypeError naming what is missing. */
export function assertStorage(storage: unknown, optionName = 'storage'): asserts storage is Storage {
  if (storage === null || typeof storage !== 'object') {
    throw new TypeError(`${optionName} must be a Storage (an object with partition() and close()), got ${describe(storage)}`);
  }
  const candidate = storage as Record<string, unknown> & Storage;
  for (const method of ['partition', 'close'] as const) {
    if (typeof candidate[method] !== 'function') throw new TypeError(`${optionName} needs to have a ${method}() function`);
  }
  const evicts = candidate.capabilities?.evicts === true;
  const says = typeof candidate.mayHaveEvicted === 'function';
  if (evicts && !says) throw new TypeError(`${optionName} declares capabilities.evicts but has no mayHaveEvicted()`);
  if (!evicts && says) {
    throw new TypeError(
      `${optionName} has mayHaveEvicted() but does not declare capabilities.evicts: in 1.0 a storage declares it (readonly capabilities = { evicts: true })`,
    );
  }
}

/**
 * Thrown by a backend when it refused one request (a value too large, a key it
 * cannot hold) while the storage itself is healthy. The cache reports it but
 * does not count it toward opening the circuit breaker.
 */
export class StorageRequestError extends Error {
  override readonly name = 'StorageRequestError';
  readonly reason: string;

  constructor(message: string, reason: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}
