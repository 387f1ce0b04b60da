/**
 * The record layer: the one owner of what the cache stores. It holds both
 * partitions (responses, and the redirects that lead to them), and knows
 * where each piece of a stored response lives — the response under its key,
 * or, when it varies, a Vary index there and the variants beside it; a
 * redirect's alias under its target's key. It finds records (decoded once),
 * saves them (off the response path, visible to lookups at once), invalidates
 * and deletes them, and lists them.
 *
 * Two views of each partition: the request path's, which never throws (a
 * storage error is a miss or a dropped write, every call has a deadline), and
 * the raw one for management (`clear`, `deleteBy`...), which throws (a call
 * that hangs throws at its deadline: see storage/deadlined.ts).
 */

import type { Background } from '../background.js';
import type { Clock } from '../clock.js';
import type { Reporter } from '../diagnostics.js';
import type { CredentialDigests } from '../digest.js';
import { KeyedQueue } from '../keyed-queue.js';
import type { CompletePartition, LeaseAttempt } from '../storage/contract.js';
import { declares } from '../storage/contract.js';
import type { LateWatch } from '../storage/deadline.js';
import type { FailOpenPartition } from '../storage/fail-open.js';
import { codecLoaded, decodeRecord, encodeRecord, loadCodec } from './codec.js';
import { type Compression, unreadableHere } from './compression.js';
import { DecodedRecords } from './decoded.js';
import { HeldRecord } from './held.js';
import { describeEntry, type EntryInfo } from './inspect.js';
import { invalidateKeys, staleKeys } from './invalidate.js';
import type { StoredRecord, StoredResponse, StoredVariants } from './model.js';
import { INDEX_VALUE, isIndexValue } from './tags.js';
import type { Dumped, SkippedLine } from './transfer.js';
import { isHiddenVaryName, newGeneration, type RequestFields, sameVaryPairs, variantKey, varyPairs } from './variants.js';
import { type Deletion, isDeletion, WriteQueue } from './writes.js';

/** What a lookup is made with: the request's key, and its header fields (to pick a variant). */
export interface FindRequest {
  readonly key: string;
  readonly headers: RequestFields;
}

export type Lookup =
  | { found: true; entry: StoredResponse; key: string; variants: StoredVariants | undefined }
  | { found: false; fwd: 'uri-miss' | 'vary-miss'; variants: StoredVariants | undefined };

/** A response to store. */
export interface NewEntry {
  /** The request's key (a variant goes under a key derived from it). */
  readonly key: string;
  /** The request's header fields, for the values of the Vary names. */
  readonly requestHeaders: RequestFields;
  /** The response as it will be stored; `vary` is filled in here when it varies. */
  readonly record: StoredResponse;
  /** Lower-case request header names from Vary, sorted; empty when it does not vary. */
  readonly varyNames: readonly string[];
  /** The Vary index met at lookup, if any: a new variant joins it. */
  readonly variants: StoredVariants | undefined;
  /** For a redirect: the key of its Location, so that deleting the target deletes the redirect too. */
  readonly redirectTarget: string | undefined;
  /** Where its freshness came from (max-age, expires, configured...), for the `cachette:store` report. */
  readonly freshness: string;
}

export interface RecordStoreOptions {
  /** The request path's views (fail-open, with deadlines). */
  responses: FailOpenPartition;
  redirects: FailOpenPartition;
  /** The partitions for management: errors are thrown, and so is a call past its deadline (`withDeadlines`). */
  rawResponses: CompletePartition;
  rawRedirects: CompletePartition;
  reporter: Reporter;
  /** Request header names whose values are digested, never stored (`ignoredParameters`). */
  ignoredHeaders: ReadonlySet<string>;
  /** How credentials a response varies on are digested (this cache's memo of them). */
  credentials: CredentialDigests;
  /** Most bytes of responses waiting to be written; past it, new ones are not stored. */
  maxBacklogBytes: number;
  /** How long a write may take from the moment it is queued, ms (the storage's write deadline). */
  writeDeadlineMs: number;
  /** The cache's clock: write deadlines run on it. */
  clock: Clock;
  /** Where work done for no caller (a lease released, a damaged record deleted) is tracked, for settled(). */
  background: Background;
  /** Whether the storage may have dropped values before their expiry (then an index may miss what it indexed). */
  mayHaveEvicted: () => Promise<boolean>;
  /** The largest body this cache stores (`maxEntrySize`): a loaded record with a larger one is skipped. */
  maxEntrySize: number;
  /** The responses partition is a memory tier in front of a storage. */
  tiered: boolean;
  /** How records are compressed for a storage that keeps bytes (`compression`); undefined: never. */
  compression?: Compression | undefined;
  /** Tells the memory tiers of other processes that records changed without being deleted (a soft purge); nothing without a tier. */
  announce?: (() => Promise<void>) | undefined;
  /** The partition indexing a tag: the request path's view, the raw one, and the one older versions wrote (read only: see partitions.ts). */
  tagIndex: (tag: string) => { guarded: FailOpenPartition; raw: CompletePartition; legacy: CompletePartition | undefined };
}

/** A soft purge: what it makes stale, it makes stale as of `now` (epoch ms, the cache's clock). */
export interface SoftPurge {
  now: number;
}

const URI_MISS: Lookup = { found: false, fwd: 'uri-miss', variants: undefined };

/** Most variant keys an index remembers (for deleting them with their URL); a variant it forgets is no longer served. */
const MAX_TRACKED_VARIANTS = 64;
/** Most redirect keys remembered per target URL. */
const MAX_TRACKED_ALIASES = 64;
const ALIAS_RETENTION_MS = 30 * 24 * 3600 * 1000;
/** Keys deleted (or records loaded) per batch of storage calls when purging a group or loading records. */
const PURGE_PAGE = 100;

/** Where to look next when the URL's key holds a Vary index. */
interface VariantStep {
  key: string;
  index: StoredVariants;
  pairs: Array<string | null>;
}

export class RecordStore {
  readonly #responses: FailOpenPartition;
  readonly #redirects: FailOpenPartition;
  readonly #rawResponses: CompletePartition;
  readonly #rawRedirects: CompletePartition;
  readonly #reporter: Reporter;
  readonly #ignoredHeaders: ReadonlySet<string>;
  readonly #credentials: CredentialDigests;
  readonly #decoded = new DecodedRecords();
  readonly #writes: WriteQueue;
  /** Updates of each redirect target's aliases, one at a time (each reads the record, then rewrites it). */
  readonly #aliasUpdates = new KeyedQueue();
  readonly #maxBacklogBytes: number;
  readonly #maxEntrySize: number;
  readonly #mayHaveEvicted: () => Promise<boolean>;
  readonly #announce: () => Promise<void>;
  readonly #compression: Compression | undefined;
  readonly #tagIndex: RecordStoreOptions['tagIndex'];
  readonly #tiered: boolean;
  /** Lease releases under way (they never reject: failures are reported and the lease expires). */
  readonly #background: Background;
  #backlogBytes = 0;

  constructor(options: RecordStoreOptions) {
    this.#responses = options.responses;
    this.#redirects = options.redirects;
    this.#rawResponses = options.rawResponses;
    this.#rawRedirects = options.rawRedirects;
    this.#reporter = options.reporter;
    this.#background = options.background;
    this.#ignoredHeaders = options.ignoredHeaders;
    this.#credentials = options.credentials;
    this.#maxBacklogBytes = options.maxBacklogBytes;
    this.#maxEntrySize = options.maxEntrySize;
    this.#mayHaveEvicted = options.mayHaveEvicted;
    this.#announce = options.announce ?? (() => Promise.resolve());
    this.#compression = options.compression;
    this.#tagIndex = options.tagIndex;
    this.#tiered = options.tiered;
    // A storage of bytes: the codec is loaded now, while the first request is on its way.
    if (!this.#responses.holds) void loadCodec();
    this.#writes = new WriteQueue({
      onError: (operation, error) => this.#reporter.storageError({ operation, partition: this.#responses.name, error }),
      deadlineMs: options.writeDeadlineMs,
      redelete: (keys) => invalidateKeys(this.#responses, this.#redirects, keys),
      clock: options.clock,
    });
  }

  /** The responses partition's name (for reports). */
  get name(): string {
    return this.#responses.name;
  }

  /** The storage answers reads at once: `findSync` can answer without waiting. */
  get readsSync(): boolean {
    return this.#responses.readsSync;
  }

  // ── Finding ────────────────────────────────────────────────────────────

  /** The stored response for a request: the record at its key, or the variant of its Vary index that matches. */
  async find(request: FindRequest): Promise<Lookup> {
    const step = this.#atKey(request, await this.#read(request.key));
    return 'found' in step ? step : this.#inVariant(request, step, await this.#read(step.key));
  }

  /** The same, without waiting, when the storage can answer at once; undefined when it cannot. */
  findSync(request: FindRequest): Lookup | undefined {
    if (!this.#responses.readsSync) return undefined;
    const record = this.#readSync(request.key);
    if (record === null) return undefined;
    const step = this.#atKey(request, record);
    if ('found' in step) return step;
    const variant = this.#readSync(step.key);
    return variant === null ? undefined : this.#inVariant(request, step, variant);
  }

  #atKey(request: FindRequest, record: StoredRecord | undefined): Lookup | VariantStep {
    if (record === undefined) return URI_MISS;
    if (record.kind === 'response') {
      if (record.vary !== null || !this.#belongs(request, request.key, record)) return URI_MISS;
      return { found: true, entry: record, key: request.key, variants: undefined };
    }
    if (record.kind !== 'variants') return URI_MISS;
    // RFC 9111 §4.1: select the variant whose nominated request headers match this request's.
    const pairs = this.varyPairs(record.names, request.headers);
    return { key: variantKey(request.key, record.generation, pairs), index: record, pairs };
  }

  #inVariant(request: FindRequest, step: VariantStep, variant: StoredRecord | undefined): Lookup {
    // Only a variant its index lists: one it no longer does (past MAX_TRACKED_VARIANTS, or lost to another write of
    // the index) is out of reach of the URL's purges and invalidations, and so is never served.
    if (
      variant?.kind === 'response' &&
      variant.vary !== null &&
      sameVaryPairs(variant.vary, step.pairs) &&
      step.index.keys.includes(step.key) &&
      this.#belongs(request, step.key, variant)
    ) {
      return { found: true, entry: variant, key: step.key, variants: step.index };
    }
    return { found: false, fwd: 'vary-miss', variants: step.index };
  }

  /**
   * Whether a response found under a request's key was stored for that
   * request (the record says which key it answers): a record filed under
   * another's key (a storage damaged or written by hand, an export edited) is
   * a miss, reported, and deleted — never another request's body.
   */
  #belongs(request: FindRequest, key: string, record: StoredResponse): boolean {
    if (record.key === request.key) return true;
    this.#reporter.storageError({
      operation: 'mismatch',
      partition: this.#responses.name,
      error: new Error(`the entry under key ${key} was stored for another request: deleted`),
    });
    this.#background.track(this.#responses.delete(key));
    return false;
  }

  async #read(key: string): Promise<StoredRecord | undefined> {
    // A write (or deletion) of this key in flight: what it is about to store is what the storage holds.
    const inFlight = this.#writes.inFlight(key);
    if (inFlight !== undefined) return isDeletion(inFlight) ? undefined : inFlight;
    if (this.#responses.holds) return this.#heldRecord(key);
    const bytes = await this.#responses.get(key);
    if (!codecLoaded()) await loadCodec();
    return this.#decodeOrDrop(key, bytes);
  }

  /** The record, undefined when there is none, null when the storage cannot tell synchronously. */
  #readSync(key: string): StoredRecord | undefined | null {
    const inFlight = this.#writes.inFlight(key);
    if (inFlight !== undefined) return isDeletion(inFlight) ? undefined : inFlight;
    if (this.#responses.holds) return this.#heldRecord(key);
    // The codec still loading (the cache was made a moment ago): the answer comes from the asynchronous read.
    if (!codecLoaded()) return null;
    const bytes = this.#responses.getSync(key);
    return bytes === null ? null : this.#decodeOrDrop(key, bytes);
  }

  /** The record a holding storage keeps under the key: as it was saved, or decoded from the bytes that replaced it. */
  #heldRecord(key: string): StoredRecord | undefined {
    const held = this.#responses.getHeld(key);
    return held instanceof HeldRecord ? held.record : this.#decodeOrDrop(key, held instanceof Uint8Array ? held : undefined);
  }

  #decodeOrDrop(key: string, bytes: Uint8Array | undefined): StoredRecord | undefined {
    if (bytes === undefined) return undefined;
    const record = this.#decoded.decode(key, bytes);
    // Compressed with a codec this runtime lacks: a miss here, but other processes read it.
    if (record === undefined && unreadableHere(bytes)) return undefined;
    if (record === undefined) {
      // Corrupt, foreign or from an unknown format version: a miss, and out of the way.
      this.#reporter.storageError({ operation: 'decode', partition: this.#responses.name, error: new Error(`unreadable entry under key ${key} deleted`) });
      this.#background.track(this.#responses.delete(key));
    }
    return record;
  }

  /** A request's values for Vary names, as stored and compared (credentials and ignored fields digested: see variants.ts). */
  varyPairs(names: readonly string[], headers: RequestFields): Array<string | null> {
    return varyPairs(names, headers, this.#ignoredHeaders, this.#credentials);
  }

  // ── Saving ─────────────────────────────────────────────────────────────

  /**
   * Queues a response's records — itself under its key, or, when it varies, a
   * variant and the index — and, for a redirect, its alias. Lookups see them
   * at once; resolves when they have landed (or given up).
   */
  save(entry: NewEntry): Promise<void> {
    const { record } = entry;
    const bytes = record.body.byteLength;
    if (this.#backlogBytes + bytes > this.#maxBacklogBytes) {
      this.#reporter.store({ method: record.method, url: record.url, key: entry.key, stored: false, reason: 'write-backlog', bytes });
      return Promise.resolve();
    }
    this.#backlogBytes += bytes;
    const records = this.#recordsOf(entry);
    const landed = (stored: boolean): Promise<void> | undefined => {
      this.#backlogBytes -= bytes;
      this.#reporter.store({ method: record.method, url: record.url, key: entry.key, stored, reason: stored ? entry.freshness : 'storage', bytes });
      return stored && entry.redirectTarget !== undefined ? this.#recordAlias(entry.redirectTarget, entry.key, record.expiresAt) : undefined;
    };
    const failed = (error: unknown): never => {
      this.#backlogBytes -= bytes;
      throw error;
    };
    return this.#writes.enqueue(
      records,
      (late) => {
        let stored: boolean | Promise<boolean>;
        try {
          stored = this.#store(records, late);
        } catch (error) {
          return failed(error);
        }
        // A storage that holds values stores at once: no promise to wait for.
        return typeof stored === 'boolean' ? landed(stored) : stored.then(landed, failed);
      },
      'save',
      // Dropped before it started (written again since, or queued past its deadline).
      () => {
        this.#backlogBytes -= bytes;
      },
    );
  }

  /** The records a response becomes: itself under its key, or, when it varies, a variant and the index. */
  #recordsOf(entry: NewEntry): Array<[string, StoredRecord]> {
    const { record, varyNames } = entry;
    if (varyNames.length === 0) return [[entry.key, record]];
    const existing = entry.variants !== undefined && sameNames(entry.variants.names, varyNames) ? entry.variants : undefined;
    const index: StoredVariants = existing ?? { kind: 'variants', expiresAt: record.expiresAt, names: varyNames, generation: newGeneration(), keys: [] };
    const vary = this.varyPairs(varyNames, entry.requestHeaders);
    const variant: StoredResponse = { ...record, vary };
    const key = variantKey(entry.key, index.generation, vary);
    const keys = index.keys.includes(key) ? index.keys : [...index.keys, key].slice(-MAX_TRACKED_VARIANTS);
    // The index lives as long as its longest-lived variant.
    return [
      [key, variant],
      [entry.key, { ...index, expiresAt: later(index.expiresAt, record.expiresAt), keys }],
    ];
  }

  /**
   * Writes the records in order — a variant before its index, so no reader
   * finds an index whose variant is not there. A tagged response goes in its
   * tags' indexes first: a purge by tag never misses a stored response.
   */
  #store(records: Array<[string, StoredRecord]>, late: LateWatch): boolean | Promise<boolean> {
    const [key, response] = records[0] as [string, StoredResponse];
    if (response.tags.length === 0) return this.#write(records, late);
    const options = { expiresAt: response.expiresAt ?? undefined };
    return Promise.all(response.tags.map((tag) => this.#tagIndex(tag).guarded.trySet(key, INDEX_VALUE, options))).then((indexed) =>
      indexed.includes(false) ? false : this.#write(records, late),
    );
  }

  /** The records themselves to a storage that holds values (done at once), their bytes to any other. */
  #write(records: Array<[string, StoredRecord]>, late: LateWatch): boolean | Promise<boolean> {
    return this.#responses.holds ? this.#hold(records) : this.#setEncoded(records, late);
  }

  async #setEncoded(records: Array<[string, StoredRecord]>, late: LateWatch): Promise<boolean> {
    if (!codecLoaded()) await loadCodec();
    for (const [key, record] of records) {
      const bytes = encodeRecord(record, this.#compression);
      if (!(await this.#responses.trySet(key, bytes, { expiresAt: record.expiresAt ?? undefined, transfer: true }, late))) return false;
    }
    return true;
  }

  /** A storage that keeps values in this process keeps the records themselves: no encoding now, no decoding on a hit, done at once. */
  #hold(records: Array<[string, StoredRecord]>): boolean {
    for (const [key, record] of records) {
      if (!this.#responses.tryHold(key, new HeldRecord(record), { expiresAt: record.expiresAt ?? undefined })) return false;
    }
    return true;
  }

  /** Remembers that the redirect stored under `source` points at `target`, so deleting the target deletes it too. */
  async #recordAlias(target: string, source: string, expiresAt: number | null): Promise<void> {
    // Two redirects to one target, stored at once, must not each overwrite the other's addition.
    await this.#aliasUpdates.run(target, () => this.#addAlias(target, source, expiresAt));
  }

  async #addAlias(target: string, source: string, sourceExpiry: number | null): Promise<void> {
    await loadCodec();
    const existing = await this.#redirects.get(target);
    const record = existing === undefined ? undefined : decodeRecord(existing);
    const keys = record?.kind === 'aliases' ? record.keys : [];
    if (keys.includes(source)) return;
    const updated = [...keys, source].slice(-MAX_TRACKED_ALIASES);
    // Aliases of several lifetimes share one record: keep it past the longest of them.
    const own = sourceExpiry === null ? null : sourceExpiry + ALIAS_RETENTION_MS;
    const expiresAt = record?.kind === 'aliases' ? later(record.expiresAt, own) : own;
    await this.#redirects.set(target, encodeRecord({ kind: 'aliases', expiresAt, keys: updated }), { expiresAt: expiresAt ?? undefined });
  }

  /** Resolves when every write in flight has landed or given up. */
  async flush(): Promise<void> {
    await this.#writes.flush();
  }

  /** The keys with writes still in flight (what close() reports when it gives up on them). */
  pendingKeys(): string[] {
    return this.#writes.pendingKeys();
  }

  // ── Removing ───────────────────────────────────────────────────────────

  /**
   * Invalidates what is stored under these keys (RFC 9111 §4.4), with their
   * variants and the redirects that lead to them: lookups miss them at once,
   * whatever the storage is doing; the deletion runs off the request path.
   */
  invalidate(keys: string[]): void {
    void this.#deleteQueued(keys, 'invalidate');
  }

  /** Deletes these keys with their variants and aliases behind the writes queued for them; lookups miss them at once. */
  #deleteQueued(keys: string[], name: string): Promise<void> {
    const deletion: Deletion = { kind: 'deleted' };
    return this.#writes.enqueue(
      keys.map((key) => [key, deletion] as const),
      () => invalidateKeys(this.#responses, this.#redirects, keys),
      name,
    );
  }

  /**
   * Deletes these keys with their variants and aliases (management: errors
   * are thrown); returns how many records went. On a storage that may have
   * evicted an alias, the redirects leading to these keys are found by
   * reading the responses (each names its redirect's target).
   */
  async deleteKeys(keys: string[], soft?: SoftPurge): Promise<number> {
    await loadCodec();
    await this.flush();
    this.#writes.deletedOutside(keys);
    if (keys.length === 0) return 0;
    // A soft purge leaves the redirects to them: they lead to a stale entry, which is revalidated.
    if (soft !== undefined) return this.#purge(keys, soft);
    let deleted = await invalidateKeys(this.#rawResponses, this.#rawRedirects, keys);
    if (await this.#mayHaveEvicted()) {
      const leading = new Map<string, string[]>();
      for await (const [key, record] of this.#responseRecords()) {
        if (record.redirect === null) continue;
        const sources = leading.get(record.redirect) ?? [];
        sources.push(key);
        leading.set(record.redirect, sources);
      }
      const doomed = new Set<string>();
      let level = keys;
      while (level.length > 0) {
        const next = level.flatMap((key) => leading.get(key) ?? []).filter((key) => !doomed.has(key));
        for (const key of next) doomed.add(key);
        level = next;
      }
      if (doomed.size > 0) {
        this.#writes.deletedOutside([...doomed]);
        deleted += await invalidateKeys(this.#rawResponses, this.#rawRedirects, [...doomed]);
      }
    }
    return deleted;
  }

  /**
   * Every response stored, with its key, read from the storage page by page
   * (held ones as they are: nothing encoded). What purges read when an index
   * may have lost entries to eviction.
   */
  async *#responseRecords(): AsyncIterable<[string, StoredResponse]> {
    await loadCodec();
    const raw = this.#rawResponses;
    if (declares(raw, 'heldValues')) {
      for await (const key of raw.keys()) {
        const held = raw.getHeld(key);
        const record = held instanceof HeldRecord ? held.record : held instanceof Uint8Array ? decodeRecord(held) : undefined;
        if (record?.kind === 'response') yield [key, record];
      }
      return;
    }
    for await (const [key, bytes] of raw.entries()) {
      const record = decodeRecord(bytes);
      if (record?.kind === 'response') yield [key, record];
    }
  }

  /**
   * Deletes the responses carrying any of these tags, with the redirects
   * that lead to them, page by page of each tag's index; returns how many
   * records went.
   */
  async deleteTagged(tags: readonly string[], soft?: SoftPurge): Promise<number> {
    await loadCodec();
    await this.flush();
    let deleted = 0;
    for (const tag of new Set(tags)) {
      const { raw: index, legacy } = this.#tagIndex(tag);
      let page: string[] = [];
      const purge = async (fromIndex: CompletePartition | undefined): Promise<void> => {
        const stored = await this.#rawResponses.getMany(page);
        // The index may name a key since rewritten without the tag: only what still carries it goes — what is
        // stored, or what is on its way there (its index entry lands first: deleted with it, the response would
        // land where no later purge of the tag finds it).
        const doomed: string[] = [];
        const onItsWay: string[] = [];
        for (const key of page) {
          const inFlight = this.#writes.inFlight(key);
          const bytes = stored.get(key);
          const record = inFlight !== undefined ? (isDeletion(inFlight) ? undefined : inFlight) : bytes === undefined ? undefined : decodeRecord(bytes);
          if (record?.kind !== 'response' || !record.tags.includes(tag)) continue;
          (inFlight === undefined ? doomed : onItsWay).push(key);
        }
        this.#writes.deletedOutside(doomed);
        if (doomed.length > 0) deleted += await this.#purge(doomed, soft);
        if (onItsWay.length > 0) {
          // Deleted once it has landed (made stale would need it landed first): queued behind its write.
          await this.#deleteQueued(onItsWay, 'purge by tag');
          deleted += onItsWay.length;
        }
        // A response made stale still carries its tags: its index entries stay.
        if (fromIndex !== undefined && soft === undefined) await fromIndex.bulkDelete(page);
        page = [];
      };
      for await (const key of index.keys()) {
        page.push(key);
        if (page.length >= PURGE_PAGE) await purge(index);
      }
      if (page.length > 0) await purge(index);
      // What an older version indexed: entries that are index entries (one byte), never deleted from there.
      if (legacy === undefined) continue;
      for await (const [key, value] of legacy.entries()) {
        if (!isIndexValue(value)) continue;
        page.push(key);
        if (page.length >= PURGE_PAGE) await purge(undefined);
      }
      if (page.length > 0) await purge(undefined);
    }
    // An index an eviction may have thinned: the responses themselves say which carry the tags.
    if (await this.#mayHaveEvicted()) {
      const wanted = new Set(tags);
      let page: string[] = [];
      const purge = async (): Promise<void> => {
        this.#writes.deletedOutside(page);
        deleted += await this.#purge(page, soft);
        page = [];
      };
      for await (const [key, record] of this.#responseRecords()) {
        if (!record.tags.some((tag) => wanted.has(tag))) continue;
        page.push(key);
        if (page.length >= PURGE_PAGE) await purge();
      }
      if (page.length > 0) await purge();
    }
    return deleted;
  }

  /** Deletes the records these keys name (found by a listing), page by page; returns how many went. */
  async deleteListed(keys: AsyncIterable<string>, soft?: SoftPurge): Promise<number> {
    await loadCodec();
    await this.flush();
    let deleted = 0;
    let page: string[] = [];
    for await (const key of keys) {
      page.push(key);
      if (page.length >= PURGE_PAGE) {
        this.#writes.deletedOutside(page);
        deleted += await this.#purge(page, soft);
        page = [];
      }
    }
    this.#writes.deletedOutside(page);
    if (page.length > 0) deleted += await this.#purge(page, soft);
    return deleted;
  }

  /**
   * Purges these keys: deletes them with their variants and the redirects
   * leading to them, or, for a soft purge, makes their responses stale now
   * (invalidate.ts) and tells the memory tiers of other processes, as a
   * deletion does. Returns how many records were deleted or made stale.
   */
  async #purge(keys: string[], soft: SoftPurge | undefined): Promise<number> {
    if (soft === undefined) return invalidateKeys(this.#rawResponses, this.#rawRedirects, keys);
    const made = await staleKeys(this.#rawResponses, keys, soft.now);
    if (made > 0) await this.#announce();
    return made;
  }

  /** Deletes what the cache can no longer use at all, in both partitions. */
  async deleteExpired(now: number): Promise<number> {
    await loadCodec();
    await this.flush();
    this.#writes.deletedOutside('all');
    let deleted = 0;
    for (const partition of [this.#rawResponses, this.#rawRedirects]) {
      deleted += declares(partition, 'sweeps')
        ? await partition.deleteExpired(now)
        : await deleteWhere(partition, (record) => record.expiresAt !== null && record.expiresAt <= now);
    }
    return deleted;
  }

  /** Deletes the responses received at or before `cutoff` (epoch ms). */
  async deleteReceivedBefore(cutoff: number): Promise<number> {
    await loadCodec();
    await this.flush();
    this.#writes.deletedOutside('all');
    const raw = this.#rawResponses;
    return declares(raw, 'deleteByAge')
      ? raw.deleteCreatedBefore(cutoff)
      : deleteWhere(raw, (record) => record.kind === 'response' && record.responseTime <= cutoff);
  }

  /** Empties both partitions (after the writes in flight have landed). */
  async clear(): Promise<void> {
    await this.flush();
    this.#writes.deletedOutside('all');
    await Promise.all([this.#rawResponses.clear(), this.#rawRedirects.clear()]);
  }

  /** Whether a record is stored under `key` (after the writes in flight have landed). */
  async has(key: string): Promise<boolean> {
    await this.flush();
    return this.#rawResponses.has(key);
  }

  /** Every stored response as metadata, page by page of the storage's listing (unreadable records are skipped). */
  async *list(now: number): AsyncIterable<EntryInfo> {
    await loadCodec();
    await this.flush();
    for await (const [key, bytes] of this.#rawResponses.entries()) {
      const record = decodeRecord(bytes);
      if (record?.kind === 'response') yield this.#describe(key, record, now);
    }
  }

  /** The response stored under a request's key — or, when it varies, every variant its index lists. */
  async inspect(key: string, now: number): Promise<EntryInfo[]> {
    await loadCodec();
    await this.flush();
    const bytes = await this.#rawResponses.get(key);
    const record = bytes === undefined ? undefined : decodeRecord(bytes);
    if (record?.kind === 'response') return [this.#describe(key, record, now)];
    if (record?.kind !== 'variants' || record.keys.length === 0) return [];
    const variants = await this.#rawResponses.getMany([...record.keys]);
    const found: EntryInfo[] = [];
    for (const variantKey of record.keys) {
      const stored = variants.get(variantKey);
      const variant = stored === undefined ? undefined : decodeRecord(stored);
      if (variant?.kind === 'response') found.push(this.#describe(variantKey, variant, now));
    }
    return found;
  }

  /** Every usable record of both partitions, with its expiry, for an export or a copy. */
  async *dump(now: number): AsyncIterable<Dumped | SkippedLine> {
    await loadCodec();
    await this.flush();
    for (const [partition, raw] of [
      ['responses', this.#rawResponses],
      ['redirects', this.#rawRedirects],
    ] as const) {
      for await (const [key, bytes] of raw.entries()) {
        const record = decodeRecord(bytes);
        if (record === undefined) yield { skipped: 'unreadable' };
        else if (record.expiresAt !== null && record.expiresAt <= now) yield { skipped: 'expired' };
        else yield { partition, key, expiresAt: record.expiresAt, bytes };
      }
    }
  }

  /**
   * Writes records from an export or another cache, with their expiries, and
   * indexes the tags of the responses. Writing the same records again changes
   * nothing (an interrupted load is simply run again). Records that do not
   * decode, do not belong in their partition, have expired or hold a body
   * larger than `maxEntrySize` are skipped.
   */
  async load(records: AsyncIterable<Dumped | SkippedLine>, now: number): Promise<{ records: number; skipped: number }> {
    await loadCodec();
    await this.flush();
    let loaded = 0;
    let skipped = 0;
    let batch: Promise<void>[] = [];
    for await (const item of records) {
      if ('skipped' in item) {
        skipped += 1;
        continue;
      }
      const record = decodeRecord(item.bytes);
      const fits = item.partition === 'redirects' ? record?.kind === 'aliases' : record !== undefined && record.kind !== 'aliases';
      const tooLarge = record?.kind === 'response' && record.body.byteLength > this.#maxEntrySize;
      if (record === undefined || !fits || tooLarge || (record.expiresAt !== null && record.expiresAt <= now)) {
        skipped += 1;
        continue;
      }
      const options = { expiresAt: record.expiresAt ?? undefined };
      const target = item.partition === 'redirects' ? this.#rawRedirects : this.#rawResponses;
      batch.push(
        (async () => {
          // The tags first, as when storing: a purge by tag never misses what was loaded.
          if (record.kind === 'response') for (const tag of record.tags) await this.#tagIndex(tag).raw.set(item.key, INDEX_VALUE, options);
          await target.set(item.key, item.bytes, options);
        })(),
      );
      loaded += 1;
      if (batch.length >= PURGE_PAGE) {
        await Promise.all(batch);
        batch = [];
      }
    }
    await Promise.all(batch);
    return { records: loaded, skipped };
  }

  #describe(key: string, record: StoredResponse, now: number): EntryInfo {
    const info = describeEntry(key, record, now, (name) => isHiddenVaryName(name, this.#ignoredHeaders));
    // In front of a storage, a memory tier answers getSync for what it holds (null otherwise).
    const raw = this.#rawResponses;
    if (this.#tiered) info.tier = declares(raw, 'syncReads') && raw.getSync(key) != null ? 'memory' : 'storage';
    return info;
  }

  // ── Leases (collapsing misses across processes) ────────────────────────

  get offersLeases(): boolean {
    return this.#responses.offersLeases;
  }

  acquireLease(key: string, ttlMs: number): Promise<LeaseAttempt | undefined> {
    return this.#responses.acquireLease(key, ttlMs);
  }

  /** Releases a lease once `landed` (the write it guarded) has settled; flush() waits for it too. */
  releaseLeaseAfter(landed: Promise<void> | undefined, key: string, token: string): void {
    const release = (landed ?? Promise.resolve()).then(
      () => this.#responses.releaseLease(key, token),
      () => this.#responses.releaseLease(key, token),
    );
    this.#background.track(release);
  }
}

/** When a stored record is of no more use (for a memory tier in front of a storage): its own expiry. */
export function recordExpiry(bytes: Uint8Array): number | undefined {
  return decodeRecord(bytes)?.expiresAt ?? undefined;
}

/** The slow path for backends without a fast one: read every record, delete those that match (and the unreadable). */
async function deleteWhere(partition: CompletePartition, matches: (record: StoredRecord) => boolean): Promise<number> {
  const doomed: string[] = [];
  for await (const [key, bytes] of partition.entries()) {
    const record = decodeRecord(bytes);
    if (record === undefined || matches(record)) doomed.push(key);
  }
  return doomed.length === 0 ? 0 : partition.bulkDelete(doomed);
}

/** The later of two expiries, null meaning never. */
function later(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : Math.max(a, b);
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}
