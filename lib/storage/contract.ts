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

export interface Partition {
  get(key: string): Promise<Uint8Array | undefined>;
  getMany(keys: string[]): Promise<Map<string, Uint8Array>>;
  set(key: string, value: Uint8Array, opts?: SetOptions): Promise<void>;
  delete(key: string): Promise<boolean>;
  has(key: string): Promise<boolean>;
  /** Deletes the keys that exist, ignores the others, and returns how many it deleted. */
  bulkDelete(keys: Iterable<string>): Promise<number>;
  /** Empties this partition only. */
  clear(): Promise<void>;
  keys(): AsyncIterable<string>;
  entries(): AsyncIterable<[string, Uint8Array]>;
  size(): Promise<number>;
}

export interface Storage {
  /** Cheap and free of I/O: partitions are views onto the backend. */
  partition(name: string): Partition;
  close(): Promise<void>;
}

/**
 * Optional: a backend that may drop values before their expiry to stay
 * within a bound (an LRU in memory, Redis under an `allkeys-*` or
 * `volatile-*` policy) says whether it may have done so. What the cache
 * keeps beside a response to find it again (a tag's index, a redirect's
 * alias) may then be gone while the response is not: purges read the
 * responses themselves instead.
 */
export interface EvictingStorage extends Storage {
  mayHaveEvicted(): boolean | Promise<boolean>;
}

/** Whether the storage may have dropped values before their expiry (false when it does not say: it never does). */
export async function mayHaveEvicted(storage: Storage): Promise<boolean> {
  const says = (storage as Partial<EvictingStorage>).mayHaveEvicted;
  return typeof says === 'function' ? says.call(storage) : false;
}

/**
 * Optional fast paths a backend may offer for maintenance. The cache uses
 * them when present and falls back to `keys()` / `entries()` otherwise.
 */
export interface SweepablePartition extends Partition {
  /** Deletes every value whose `expiresAt` is at or before `now`; returns the count. */
  deleteExpired(now: number): Promise<number>;
  /** Deletes every value set at or before `cutoff` (epoch ms); returns the count. Optional within the option. */
  deleteCreatedBefore?(cutoff: number): Promise<number>;
}

export function isSweepable(partition: Partition): partition is SweepablePartition {
  return typeof (partition as Partial<SweepablePartition>).deleteExpired === 'function';
}

/**
 * Optional: a backend that holds its values in memory (or in a local file)
 * may answer reads synchronously. The cache then serves a hit without waiting
 * a tick. `null` means "cannot tell at once: ask get()" (a memory tier in
 * front of a remote store, say).
 */
export interface SyncReadablePartition extends Partition {
  getSync(key: string): Uint8Array | undefined | null;
}

export function readsSync(partition: Partition): partition is SyncReadablePartition {
  return typeof (partition as Partial<SyncReadablePartition>).getSync === 'function';
}

/**
 * A value kept as it is, its bytes made only if someone asks for them: what
 * the cache hands a backend that keeps values in this process, so that
 * storing a response costs no encoding, and reading it back no decoding.
 */
export interface HeldValue {
  /** About how many bytes it takes (the backend's bound counts it). */
  readonly byteLength: number;
  /** Its bytes. A backend calls it at most once, the first time a reader asks for bytes. */
  encode(): Uint8Array;
}

/**
 * Optional: a backend that keeps values in this process may keep held values.
 * Every other read (get, getSync, getMany, entries) gives the held value's
 * bytes, from then on in place of it; only `getHeld` gives it back as it was
 * held, until then. Like `getSync`, it never leaves the process: `hold` is
 * done when it returns (the cache puts no deadline on it, and its circuit
 * breaker neither gates nor counts it).
 */
export interface HoldingPartition extends SyncReadablePartition {
  hold(key: string, value: HeldValue, opts?: SetOptions): void;
  /** What is stored under the key, at once: the held value (or the bytes that replaced it, or that were set). */
  getHeld(key: string): HeldValue | Uint8Array | undefined;
}

export function holdsValues(partition: Partition): partition is HoldingPartition {
  const candidate = partition as Partial<HoldingPartition>;
  return typeof candidate.hold === 'function' && typeof candidate.getHeld === 'function' && readsSync(partition);
}

/** What taking a lease gives: the lease, or who holds it until when. */
export type LeaseAttempt = { token: string } | { heldUntil: number };

/**
 * Optional: leases on keys, for collapsing misses across processes that share
 * a storage (DynamoDB: a conditional write). A lease expires by itself, so a
 * crashed holder blocks no one for longer than its time-to-live.
 */
export interface LeasingPartition extends Partition {
  acquireLease(key: string, ttlMs: number): Promise<LeaseAttempt>;
  /** Releases a lease if `token` still holds it. */
  releaseLease(key: string, token: string): Promise<void>;
}

export function offersLeases(partition: Partition): partition is LeasingPartition {
  const candidate = partition as Partial<LeasingPartition>;
  return typeof candidate.acquireLease === 'function' && typeof candidate.releaseLease === 'function';
}

export function canDeleteByAge(partition: Partition): partition is SweepablePartition & Required<Pick<SweepablePartition, 'deleteCreatedBefore'>> {
  return typeof (partition as Partial<SweepablePartition>).deleteCreatedBefore === 'function';
}

const partitionMethods = ['get', 'getMany', 'set', 'delete', 'has', 'bulkDelete', 'clear', 'keys', 'entries', 'size'] as const;

/** Checks, once, that an object implements the contract; throws a TypeError naming what is missing. */
export function assertStorage(storage: unknown, optionName = 'storage'): asserts storage is Storage {
  if (storage === null || typeof storage !== 'object') {
    throw new TypeError(`${optionName} must be a Storage (an object with partition() and close()), got ${describe(storage)}`);
  }
  for (const method of ['partition', 'close'] as const) {
    if (typeof (storage as Record<string, unknown>)[method] !== 'function') {
      throw new TypeError(`${optionName} needs to have a ${method}() function`);
    }
  }
}

export function assertPartition(partition: unknown, name: string): asserts partition is Partition {
  if (partition === null || typeof partition !== 'object') {
    throw new TypeError(`storage.partition('${name}') must return a Partition, got ${describe(partition)}`);
  }
  for (const method of partitionMethods) {
    if (typeof (partition as Record<string, unknown>)[method] !== 'function') {
      throw new TypeError(`storage.partition('${name}') needs to have a ${method}() function`);
    }
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
