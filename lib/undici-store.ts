/**
 * `cachette/undici-store`: any cachette storage (memory, SQLite, DynamoDB,
 * Redis, yours) as a store for undici's own `interceptors.cache`, per undici's
 * CacheStore contract (`get`, `createWriteStream`, `delete`; undici 7 and 8).
 *
 *   const store = new UndiciCacheStore({ storage: new DynamoDBStorage({ tableName }) });
 *   const agent = new Agent().compose(interceptors.cache({ store }));
 *
 * undici decides what is stored and reused; this only keeps it. Every
 * response for one URL (its variants, by method and Vary) lives in one record
 * under a digest of the origin, the path and the authority a `Host` field
 * names, read and rewritten as a whole, with the storage's expiry set to the
 * latest `deleteAt`. Records are msgpack with a CRC-32: a corrupt one is a
 * miss and is deleted; header fields are kept as pairs and handed back as
 * plain objects whose fields are own properties (a field may be called
 * `__proto__`). Fail-open like the
 * cachette cache: a storage that errors or passes its deadline is a miss (or
 * an unstored response), never a failed request.
 */

import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { Packr } from 'msgpackr/pack';
import { lowerAscii, trimOws } from './ascii.js';
import { describe } from './describe.js';
import { KeyedQueue } from './keyed-queue.js';
import { normalizeRequestHeaders, type RequestHeadersInput } from './policy/headers.js';
import { frame, unframe } from './records/frame.js';
import { OwnedBody } from './records/owned-body.js';
import { type CompletePartition, completePartition, declares, type Storage } from './storage/contract.js';
import { Deadlines } from './storage/deadline.js';
import { renamedTimeout, timeoutsInMs } from './timeouts.js';

/** undici's CacheKey: what a request is stored under. */
export interface UndiciCacheKey {
  origin: string;
  method: string;
  path: string;
  headers?: Record<string, string | string[]>;
}

/** undici's CacheValue: a response's metadata, as undici gives it. */
export interface UndiciCacheValue {
  statusCode: number;
  statusMessage: string;
  headers: Record<string, string | string[]>;
  vary?: Record<string, string | string[] | null>;
  etag?: string;
  cacheControlDirectives?: Record<string, unknown>;
  cachedAt: number;
  staleAt: number;
  deleteAt: number;
}

export interface UndiciCacheStoreOptions {
  storage: Storage;
  /** The partition holding the records. Default: "undici". */
  partition?: string;
  /** Bodies larger than this many bytes are not stored. Default: 10 MiB. */
  maxEntrySize?: number;
  /** Deadlines of a read and of a write, in seconds (past them: a miss, an unstored response). Default: `{ read: 0.5, write: 5 }`. */
  timeouts?: { read?: number; write?: number };
  /** Told of each storage failure (the request went on without the store). */
  onError?: (error: unknown) => void;
}

/** What `get` gives undici: the response and its body as a list of chunks. */
export type UndiciGetResult = UndiciCacheValue & { body: Buffer[] };

interface StoredVariant extends UndiciCacheValue {
  method: string;
  body: Uint8Array;
}

/** A variant as its record keeps it: its field maps as [name, value] pairs (a map's names would be msgpack's object keys, and `__proto__` is not one). */
interface PackedVariant extends Omit<StoredVariant, 'headers' | 'vary'> {
  headers: Array<[string, string | string[]]>;
  vary?: Array<[string, string | string[] | null]>;
}

const MAGIC = 0xcac5;
/** 2: field maps as pairs. */
const VERSION = 2;
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export class UndiciCacheStore {
  readonly #partition: CompletePartition;
  readonly #maxEntrySize: number;
  readonly #readMs: number;
  readonly #writeMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #deadlines = new Deadlines();
  /** Rewrites of one URL's record, one at a time in this process. */
  readonly #writing = new KeyedQueue();
  /** Variants on their way to the storage, by record: a request made meanwhile finds them (as in undici's own stores). */
  readonly #landing = new Map<string, StoredVariant[]>();
  /** Deletions of each record so far: a write queued before one is dropped. */
  readonly #deletions = new Map<string, number>();
  /** Deletions under way (for settled()). */
  readonly #deleting = new Set<Promise<void>>();

  constructor(options: UndiciCacheStoreOptions) {
    if (options === null || typeof options !== 'object' || options.storage === null || typeof options.storage?.partition !== 'function') {
      throw new TypeError(`UndiciCacheStore needs { storage: a cachette Storage }, got ${describe(options)}`);
    }
    const number = (value: unknown, name: string, fallback: number): number => {
      if (value === undefined) return fallback;
      if (typeof value !== 'number' || !(value > 0)) throw new TypeError(`UndiciCacheStore ${name} must be a positive number, got ${describe(value)}`);
      return value;
    };
    const name = options.partition ?? 'undici';
    this.#partition = completePartition(options.storage.partition(name), name);
    this.#maxEntrySize = number(options.maxEntrySize, 'maxEntrySize', 10 * 1024 * 1024);
    renamedTimeout('UndiciCacheStore', options, ['readTimeout', 'writeTimeout'], 'timeouts: { read, write }');
    const timeouts = timeoutsInMs('UndiciCacheStore', options.timeouts, { read: 0.5, write: 5 });
    this.#readMs = timeouts.read;
    this.#writeMs = timeouts.write;
    this.#onError = options.onError ?? (() => undefined);
  }

  /**
   * The stored response for a request (its method and Vary values), or
   * undefined: at once, as undici's own stores answer, when this process is
   * writing it or the storage reads synchronously (memory, SQLite); a
   * promise of it otherwise. Its body is a list of chunks (one), as undici's
   * own stores give it: after a 304, undici copies the stored body by
   * iterating it (`body.values()`), which over a Buffer would give bytes, not
   * chunks.
   */
  get(key: UndiciCacheKey): UndiciGetResult | undefined | Promise<UndiciGetResult | undefined> {
    const name = recordKey(key);
    // The newest first: what this process is writing, then what the storage holds.
    const landing = this.#landing.get(name)?.findLast((variant) => matches(key, variant, Date.now()));
    if (landing !== undefined) return answer(landing);
    const held = this.#readSync(name);
    if (held !== null) return answer(held?.find((variant) => matches(key, variant, Date.now())));
    return this.#read(name, this.#readMs).then((variants) => answer(variants?.find((variant) => matches(key, variant, Date.now()))));
  }

  /** A stream undici writes the body to; on its end, the response joins the URL's record. */
  createWriteStream(key: UndiciCacheKey, value: UndiciCacheValue): Writable {
    // Copied as undici writes it, before its caller (who has the same chunks) can change them.
    const body = new OwnedBody();
    const maxEntrySize = this.#maxEntrySize;
    return new Writable({
      write(chunk: Buffer | string, encoding, callback) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
        if (body.size + bytes.byteLength > maxEntrySize) {
          this.destroy();
          return;
        }
        body.append(bytes);
        callback();
      },
      final: (callback) => {
        const variant: StoredVariant = { ...pick(value), method: key.method, body: body.finish() };
        this.#save(key, variant).then(
          () => callback(),
          () => callback(),
        );
      },
    });
  }

  /**
   * Resolves when the writes this store has under way have landed or given
   * up (each has `timeouts.write`): before an AWS Lambda handler returns, or
   * before a test reads the storage behind.
   */
  async settled(): Promise<void> {
    while (this.#writing.size > 0 || this.#deleting.size > 0) await Promise.all([this.#writing.drained(), ...this.#deleting]);
  }

  /** Deletes every stored response of the URL. */
  delete(key: UndiciCacheKey): Promise<void> {
    const deleting = this.#delete(key);
    this.#deleting.add(deleting);
    void deleting.finally(() => this.#deleting.delete(deleting));
    return deleting;
  }

  async #delete(key: UndiciCacheKey): Promise<void> {
    const name = recordKey(key);
    this.#landing.delete(name);
    this.#deletions.set(name, (this.#deletions.get(name) ?? 0) + 1);
    // After a rewrite under way (it would otherwise land after the deletion).
    await this.#writing.idle(name);
    try {
      await this.#deadlines.run(() => this.#partition.delete(name), this.#writeMs, 'delete');
    } catch (error) {
      this.#onError(error);
    }
  }

  async #read(name: string, timeoutMs: number): Promise<StoredVariant[] | undefined> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.#deadlines.run(() => this.#partition.get(name), timeoutMs, 'get');
    } catch (error) {
      this.#onError(error);
      return undefined;
    }
    return this.#decodeOrDrop(name, bytes);
  }

  /** The record at once from a storage that can tell synchronously; null when it cannot (ask #read). */
  #readSync(name: string): StoredVariant[] | undefined | null {
    const partition = this.#partition;
    if (!declares(partition, 'syncReads')) return null;
    let bytes: Uint8Array | undefined | null;
    try {
      bytes = partition.getSync(name);
    } catch (error) {
      this.#onError(error);
      return undefined;
    }
    return bytes === null ? null : this.#decodeOrDrop(name, bytes);
  }

  #decodeOrDrop(name: string, bytes: Uint8Array | undefined): StoredVariant[] | undefined {
    if (bytes === undefined) return undefined;
    const variants = decode(bytes);
    if (variants === undefined) {
      this.#onError(new Error(`unreadable undici-store record under key ${name} deleted`));
      void this.#partition.delete(name).catch(() => undefined);
    }
    return variants;
  }

  /** Adds (or replaces) a variant in the URL's record. */
  #save(key: UndiciCacheKey, variant: StoredVariant): Promise<void> {
    const name = recordKey(key);
    const landing = this.#landing.get(name) ?? [];
    landing.push(variant);
    this.#landing.set(name, landing);
    const landed = (): void => {
      landing.splice(landing.indexOf(variant), 1);
      if (landing.length === 0 && this.#landing.get(name) === landing) this.#landing.delete(name);
    };
    const deletions = this.#deletions.get(name) ?? 0;
    const next = this.#writing.run(name, async () => {
      if ((this.#deletions.get(name) ?? 0) !== deletions) return; // deleted since: not to be written
      const now = Date.now();
      const kept = ((await this.#read(name, this.#writeMs)) ?? []).filter((stored) => stored.deleteAt > now && !sameVariant(stored, variant));
      const variants = [...kept, variant];
      const expiresAt = Math.max(...variants.map((stored) => stored.deleteAt));
      try {
        await this.#deadlines.run(() => this.#partition.set(name, encode(variants), { expiresAt }), this.#writeMs, 'set');
      } catch (error) {
        this.#onError(error);
      }
    });
    // Before anyone waiting for this key's writes goes on: the variant is in the storage, or given up.
    void next.then(landed, landed);
    return next;
  }
}

/**
 * One record per URL, whatever its variants: a digest (storages bound key
 * lengths) of origin and path, and of the `Host` field when there is one
 * (it names the resource: RFC 9110 §7.2).
 */
function recordKey(key: UndiciCacheKey): string {
  // undici hands its request's headers as they were given: any case of names, an object, pairs or a flat list.
  const host = normalizeRequestHeaders(key.headers as RequestHeadersInput)['host'];
  if (host === undefined) return createHash('sha256').update(`${key.origin}\n${key.path}`).digest('base64url');
  // Read as HTTP reads it (a null value is sent empty); each part its own JSON string, so none can pass for another.
  return createHash('sha256')
    .update(JSON.stringify([key.origin, key.path, lowerAscii(trimOws(host))]))
    .digest('base64url');
}

function answer(found: StoredVariant | undefined): UndiciGetResult | undefined {
  if (found === undefined) return undefined;
  const { method: _method, body, ...value } = found;
  return { ...value, body: [Buffer.from(body.buffer, body.byteOffset, body.byteLength)] };
}

function pick(value: UndiciCacheValue): UndiciCacheValue {
  return {
    statusCode: value.statusCode,
    statusMessage: value.statusMessage,
    headers: value.headers ?? {},
    ...(value.vary === undefined ? {} : { vary: value.vary }),
    ...(value.etag === undefined ? {} : { etag: value.etag }),
    ...(value.cacheControlDirectives === undefined ? {} : { cacheControlDirectives: value.cacheControlDirectives }),
    cachedAt: value.cachedAt,
    staleAt: value.staleAt,
    deleteAt: value.deleteAt,
  };
}

/** As undici's own stores match: alive, same method, and every Vary value equal. */
function matches(key: UndiciCacheKey, variant: StoredVariant, now: number): boolean {
  if (variant.deleteAt <= now || variant.method !== key.method) return false;
  for (const [name, value] of Object.entries(variant.vary ?? {})) {
    const asked = key.headers !== undefined && Object.hasOwn(key.headers, name) ? key.headers[name] : undefined;
    if (!sameValue(asked, value)) return false;
  }
  return true;
}

function sameVariant(a: StoredVariant, b: StoredVariant): boolean {
  if (a.method !== b.method) return false;
  const names = new Set([...Object.keys(a.vary ?? {}), ...Object.keys(b.vary ?? {})]);
  for (const name of names) if (!sameValue(a.vary?.[name], b.vary?.[name])) return false;
  return true;
}

function sameValue(a: string | string[] | null | undefined, b: string | string[] | null | undefined): boolean {
  if (a == null || b == null) return a == null && b == null;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => item === b[i]);
  }
  return a === b;
}

function encode(variants: StoredVariant[]): Uint8Array {
  return frame(packr.pack([MAGIC, VERSION, variants.map(packVariant)]));
}

function decode(bytes: Uint8Array): StoredVariant[] | undefined {
  const packed = unframe(bytes);
  if (packed === undefined) return undefined;
  let fields: unknown;
  try {
    fields = packr.unpack(packed);
  } catch {
    return undefined;
  }
  if (!Array.isArray(fields) || fields[0] !== MAGIC || fields[1] !== VERSION || !Array.isArray(fields[2])) return undefined;
  const variants = fields[2] as unknown[];
  return variants.every(isVariant) ? variants.map(unpackVariant) : undefined;
}

function packVariant(variant: StoredVariant): PackedVariant {
  const { headers, vary, ...rest } = variant;
  return { ...rest, headers: Object.entries(headers), ...(vary === undefined ? {} : { vary: Object.entries(vary) }) };
}

function unpackVariant(packed: PackedVariant): StoredVariant {
  const { headers, vary, ...rest } = packed;
  return { ...rest, headers: fieldMapOf(headers), ...(vary === undefined ? {} : { vary: fieldMapOf(vary) }) };
}

/**
 * Pairs as a plain object, as undici's own stores give back what undici gave
 * them; each field an own property, defined rather than assigned, so that a
 * field called `__proto__` is a field, not the object's prototype.
 */
function fieldMapOf<T>(pairs: Array<[string, T]>): Record<string, T> {
  const map: Record<string, T> = {};
  for (const [name, value] of pairs) Object.defineProperty(map, name, { value, enumerable: true, writable: true, configurable: true });
  return map;
}

function isPairs(value: unknown): value is Array<[string, unknown]> {
  return Array.isArray(value) && value.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string');
}

function isVariant(value: unknown): value is PackedVariant {
  if (value === null || typeof value !== 'object') return false;
  const variant = value as Record<string, unknown>;
  const status = variant['statusCode'];
  return (
    typeof status === 'number' &&
    Number.isInteger(status) &&
    status >= 200 &&
    status <= 599 &&
    typeof variant['statusMessage'] === 'string' &&
    typeof variant['method'] === 'string' &&
    variant['body'] instanceof Uint8Array &&
    isPairs(variant['headers']) &&
    (variant['vary'] === undefined || isPairs(variant['vary'])) &&
    ['cachedAt', 'staleAt', 'deleteAt'].every((name) => typeof variant[name] === 'number')
  );
}
