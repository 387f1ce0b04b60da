/**
 * HttpCache: one cache (options, storage partitions, interceptor) and the
 * ways to use it — `fetch`, `dispatcher`, `interceptor()`, `install()` — and
 * to manage it — `clear`, `delete`, `contains`, `close`.
 */
import type { Readable, Writable } from 'node:stream';
import { Agent, Dispatcher, getGlobalDispatcher, setGlobalDispatcher, Request as UndiciRequest } from 'undici';
import { Background } from './background.js';
import type { Clock, Timer } from './clock.js';
import { describe } from './describe.js';
import { type DecisionEvent, Reporter } from './diagnostics.js';
import { CredentialDigests } from './digest.js';
import { FetchHits, type FetchRequest } from './fetch-hits.js';
import { FetchThrough } from './fetch-through.js';
import type { CacheContext } from './interceptor/context.js';
import { createInterceptor } from './interceptor/index.js';
import { answerAtOnce } from './interceptor/respond.js';
import { HitHeaders } from './interceptor/served.js';
import { Flights } from './interceptor/single-flight.js';
import { undiciAdapter } from './interceptor/undici/index.js';
import { type CacheOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { type FetchCacheMode, NO_CONTROL, type RequestCacheOptions, type RequestControl, resolveControl } from './policy/control.js';
import { HOP_BY_HOP, normalizeRequestHeaders, type RequestHeadersInput } from './policy/headers.js';
import { hasCredentials, KeyPolicy } from './policy/key.js';
import { normalizeAbsoluteUrl } from './policy/url.js';
import { uncompressFrame } from './records/compression.js';
import { compileFilter, type EntryFilter, type EntryInfo } from './records/inspect.js';
import { partitionNames } from './records/partitions.js';
import { RecordStore, recordExpiry } from './records/store.js';
import { isTag } from './records/tags.js';
import { type CacheStats, StatsCounter } from './stats.js';
import { CircuitBreaker } from './storage/breaker.js';
import { type CompletePartition, completePartition, mayHaveEvicted, type Storage } from './storage/contract.js';
import { Deadlines } from './storage/deadline.js';
import { withDeadlines } from './storage/deadlined.js';
import { FailOpenPartition } from './storage/fail-open.js';
import { TieredStorage } from './storage/tiered.js';
import { PACKAGE_VERSION } from './version.js';

/**
 * One stored entry, however it is named: its URL (a GET's entry; HEAD
 * shares it), the URL with the request's method and headers (when the key
 * depends on them: `matchHeaders`, per-credential entries, a `Host`), or its
 * key (as `entries()` lists it).
 */
export type EntryRef = string | URL | { url: string | URL; method?: string; headers?: RequestHeadersInput } | { key: string };

export interface DeleteOptions {
  /** Delete these entries, their variants and the cached redirects leading to them. */
  entries?: EntryRef[];
  /** Delete the responses carrying any of these tags (see `cacheTagsHeader`, `cachette.tags`), through the tag index. */
  tags?: string[];
  /** Delete the responses that match: a URL prefix or glob, a state, a test of the metadata (reads every entry). */
  matching?: EntryFilter;
  /** Delete entries the cache can no longer use at all (past freshness, stale windows and revalidation). */
  expired?: boolean;
  /** Delete responses received longer ago than this many seconds, or before this Date. */
  olderThan?: number | Date;
  /**
   * Soft purge: the entries named by `entries`, `tags` or `matching` become stale at once instead of
   * being deleted (their validators kept), so the next request revalidates them — or, within
   * stale-while-revalidate, is served one while a single refresh runs. Returns how many were made stale.
   */
  soft?: boolean;
}

export interface TransferOptions {
  /** Called with the number of records read so far, every 100 records and at the end. */
  onProgress?: (records: number) => void;
}

export interface ExportOptions extends TransferOptions {
  /**
   * `'cachette'` (default): each record's bytes, streamed. `'text'`: a recording to commit and review —
   * JSON Lines sorted by URL, fields spelled out, bodies as text when they are text. `'har'`: HAR 1.2.
   * `import()` reads all three.
   */
  format?: 'cachette' | 'text' | 'har';
}

/** What `export()`, `import()` and `copyTo()` did: records written, and records left out (expired, unreadable, too large). */
export interface TransferResult {
  records: number;
  skipped: number;
}

/** `cache.fetch`'s init: fetch's own, a `dispatcher` to compose the cache onto, and the per-request options. */
export type CacheFetchInit = Omit<RequestInit, 'dispatcher'> & {
  /** Fetch's cache mode (see the table in docs/options.md). */
  cache?: FetchCacheMode;
  /** A dispatcher to compose the cache onto (undici's, or the one the runtime's types name). */
  dispatcher?: Dispatcher | RequestInit['dispatcher'];
  /** Per-request control of the cache (never sent to the origin). */
  cachette?: RequestCacheOptions;
};

/** The runtime's own `fetch`, through this cache. */
export type CacheFetch = (input: string | URL | Request, init?: CacheFetchInit) => Promise<Response>;

/** The partitions behind a cache, raw (no deadline, no record validation): for cachette's own specs and tools, not exported. */
export interface RawPartitions {
  responses: CompletePartition;
  redirects: CompletePartition;
  storage: Storage;
}

let rawPartitionsOf: (cache: HttpCache) => RawPartitions;

/** A cache's partitions, raw (see RawPartitions). */
export function rawPartitions(cache: HttpCache): RawPartitions {
  return rawPartitionsOf(cache);
}

export class HttpCache {
  static {
    rawPartitionsOf = (cache) => ({ responses: cache.#responses, redirects: cache.#redirects, storage: cache.#storage });
  }
  readonly #responses: CompletePartition;
  readonly #redirects: CompletePartition;
  readonly #storage: Storage;
  readonly #options: ResolvedOptions;
  readonly #ctx: CacheContext;
  readonly #keys: KeyPolicy;
  readonly #stats = new StatsCounter();
  #dispatcher: Dispatcher | undefined;
  /** What `fetch` passes the runtime's fetch when its caller passed no init (see #fetch). */
  #plainInit: RequestInit | undefined;
  #agent: Agent | undefined;
  /** cache.fetch's fresh hits made at once; none for a disabled cache or a recording (fetch-hits.ts). */
  readonly #fetchHits: FetchHits | undefined;
  /** cache.fetch's other calls made without the runtime's fetch, where it would pass the answer on (fetch-through.ts). */
  #through: FetchThrough | undefined;
  #previousGlobal: Dispatcher | undefined;
  #installed = false;
  #closing: Promise<void> | undefined;

  /**
   * The runtime's own `fetch` (Node's global one) with this cache as its
   * dispatcher: same arguments, same Response and Headers classes. A function
   * of its own (`const { fetch } = cache` works), to hand to any SDK. Fetch's
   * `cache` mode is honoured, and `init.cachette` holds per-request options.
   * A `dispatcher` in `init` gets the cache composed onto it.
   */
  readonly fetch: CacheFetch = (input, init) => this.#fetch(input, init);

  constructor(options: CacheOptions = {}) {
    const resolved = resolveOptions(options);
    this.#options = resolved;
    this.#fetchHits = resolved.disabled || resolved.recording !== undefined ? undefined : new FetchHits();
    const names = partitionNames(resolved.namespace);
    this.#storage =
      resolved.memoryTier === undefined
        ? resolved.storage
        : new TieredStorage({
            back: resolved.storage,
            front: resolved.memoryTier,
            expiryOf: recordExpiry,
            // A compressed record opened once, when it enters memory: a hit from memory pays no decompression.
            frontValue: uncompressFrame,
            syncEvery: resolved.memoryTierSyncMs,
            syncPartition: names.tiers,
            readTimeout: resolved.timeouts.readMs,
            clock: resolved.clock,
          });
    this.#responses = completePartition(this.#storage.partition(names.responses), names.responses);
    this.#redirects = completePartition(this.#storage.partition(names.redirects), names.redirects);
    const tier = this.#storage instanceof TieredStorage ? this.#storage : undefined;

    const reporter = new Reporter(resolved.logger, this.#stats, resolved.urls.redacted);
    const clock = resolved.clock;
    const breaker = new CircuitBreaker({
      failureThreshold: resolved.breakerFailures,
      cooldownMs: resolved.breakerCooldownMs,
      now: () => clock.monotonic(),
      onStateChange: (state, failures) => reporter.breaker({ state, failures }),
    });
    const deadlines = new Deadlines(clock);
    const guards = { breaker, reporter, timeouts: resolved.timeouts, deadlines };
    const background = new Background();
    const credentials = new CredentialDigests();
    this.#keys = new KeyPolicy({
      credentials,
      matchHeaders: resolved.matchHeaders,
      perCredential: resolved.perCredential,
      custom: resolved.key,
      ignoredFields: resolved.ignoredParameters,
      bodyKey: resolved.bodyKey,
      unkeyedCredentials: resolved.recording === undefined ? undefined : resolved.ignoredHeaders,
    });
    this.#ctx = {
      options: resolved,
      clock,
      background,
      keys: this.#keys,
      records: new RecordStore({
        responses: new FailOpenPartition(names.responses, this.#responses, { ...guards, local: tier?.localReader(names.responses) }),
        redirects: new FailOpenPartition(names.redirects, this.#redirects, { ...guards, local: tier?.localReader(names.redirects) }),
        rawResponses: withDeadlines(this.#responses, deadlines, resolved.timeouts.writeMs),
        rawRedirects: withDeadlines(this.#redirects, deadlines, resolved.timeouts.writeMs),
        reporter,
        ignoredHeaders: resolved.ignoredHeaders,
        credentials,
        maxBacklogBytes: Math.max(MIN_WRITE_BACKLOG_BYTES, 4 * Math.min(resolved.maxEntrySize, Number.MAX_SAFE_INTEGER)),
        maxEntrySize: resolved.maxEntrySize,
        writeDeadlineMs: resolved.timeouts.writeMs,
        clock,
        background,
        mayHaveEvicted: () => mayHaveEvicted(this.#storage),
        compression: resolved.compression,
        tiered: resolved.memoryTier !== undefined,
        announce: tier === undefined ? undefined : () => tier.announceChange(),
        tagIndex: (tag) => {
          const name = names.tag(tag);
          const raw = completePartition(this.#storage.partition(name), name);
          const legacy = names.legacyTag(tag);
          const storage = this.#storage;
          return {
            guarded: new FailOpenPartition(name, raw, guards),
            // Made when management asks for them: a tagged response stored on a miss uses the guarded view only.
            get raw() {
              return withDeadlines(raw, deadlines, resolved.timeouts.writeMs);
            },
            get legacy() {
              return legacy === undefined
                ? undefined
                : withDeadlines(completePartition(storage.partition(legacy), legacy), deadlines, resolved.timeouts.writeMs);
            },
          };
        },
      }),
      reporter,
      flights: new Flights({ clock }),
      hitHeaders: new HitHeaders(),
    };
  }

  /** The undici interceptor, for `new Agent().compose(cache.interceptor())`. */
  interceptor(): Dispatcher.DispatcherComposeInterceptor {
    return createInterceptor(this.#ctx);
  }

  /** A dispatcher (an undici Agent with the interceptor) for `fetch(url, { dispatcher })`, undici's or Node's global one. */
  get dispatcher(): Dispatcher {
    if (this.#dispatcher === undefined) {
      this.#agent = new Agent();
      this.#dispatcher = undiciAdapter.forEveryConsumer(this.#agent.compose(createInterceptor(this.#ctx, true)));
    }
    return this.#dispatcher;
  }

  #fetch(input: string | URL | Request, init: CacheFetchInit | undefined): Promise<Response> {
    // Not an object: fetch's own error.
    if (init !== undefined && init !== null && typeof init !== 'object') return globalThis.fetch(input, init);
    try {
      const request = runtimeRequest(input);
      const fetchMode = init?.cache ?? (request instanceof Request ? request.cache : undefined);
      const control = resolveControl(init?.cachette, fetchMode);
      if (control === NO_CONTROL && this.#fetchHits !== undefined) {
        const answered = this.#answerWithoutFetch(this.#fetchHits, request, init);
        if (answered !== undefined) return answered;
      }
      // The common call, a URL or a Request and no init: one init per cache, made once.
      if (init == null && control === NO_CONTROL) {
        // A RequestInit whose dispatcher is the undici package's (the DOM type names undici-types' Dispatcher, another declaration of it).
        this.#plainInit ??= Object.freeze({ dispatcher: this.dispatcher }) as unknown as RequestInit;
        return globalThis.fetch(request, this.#plainInit);
      }
      const composed = init?.dispatcher == null ? this.dispatcher : undiciAdapter.forEveryConsumer((init.dispatcher as Dispatcher).compose(this.interceptor()));
      // init itself stays as given (its prototype's getters and non-enumerable members included), with ours in front.
      const members: PropertyDescriptorMap = {
        dispatcher: { value: control === NO_CONTROL ? composed : new ControlledDispatcher(composed, control), enumerable: true },
      };
      // Fetch's only-if-cached needs a same-origin request, a browser notion: the cache answers it, fetch sees a plain request.
      if (control.mode === 'only-if-cached') members['cache'] = { value: 'default', enumerable: true };
      if (init?.cachette !== undefined) members['cachette'] = { value: undefined, enumerable: true };
      return globalThis.fetch(request, Object.create(init ?? null, members) as RequestInit);
    } catch (error) {
      return Promise.reject(error); // an init that cannot be read, a bad per-request option: a rejection, as fetch gives
    }
  }

  /**
   * This fetch call's Response, made without the runtime's fetch where fetch
   * would pass the answer on as it is: a fresh hit at once (fetch-hits.ts),
   * anything else through the cache's dispatcher (fetch-through.ts).
   * Undefined: fetch carries the call.
   */
  #answerWithoutFetch(hits: FetchHits, input: string | URL | Request, init: CacheFetchInit | undefined): Promise<Response> | undefined {
    let request: FetchRequest | undefined;
    try {
      request = hits.prepare(input, init as Record<string, unknown> | undefined);
    } catch {
      return undefined; // an init whose members throw when read: fetch reads them too, and rejects
    }
    if (request === undefined || input instanceof Request) return undefined;
    // A storage that answers later (Redis, DynamoDB with no memory tier) has no hit at once: the dispatcher waits for its lookup.
    if (this.#ctx.records.readsSync) {
      let hit: Response | undefined;
      try {
        hit = hits.answer(request, (opts, make) => answerAtOnce(this.#ctx, opts, make));
      } catch {
        hit = undefined; // the lookup failed: the dispatcher tries it again, and answers its failure as it answers any
      }
      if (hit !== undefined) return Promise.resolve(hit);
    }
    this.#through ??= new FetchThrough();
    return this.#through.fetch(this.dispatcher, request, input, init ?? undefined);
  }

  /** Makes this cache the process-wide dispatcher (Node's fetch and undici's). */
  install(): void {
    if (this.#installed) return;
    this.#previousGlobal = getGlobalDispatcher();
    setGlobalDispatcher(this.dispatcher);
    this.#installed = true;
  }

  /** Restores the global dispatcher that was there before `install()`. */
  uninstall(): void {
    if (!this.#installed) return;
    if (this.#previousGlobal !== undefined) setGlobalDispatcher(this.#previousGlobal);
    this.#previousGlobal = undefined;
    this.#installed = false;
  }

  /** Empties both partitions (after the writes in flight have landed). */
  clear(): Promise<void> {
    return this.#ctx.records.clear();
  }

  /** Deletes entries (by reference, tag, match, expiry or age); returns how many stored records were deleted. */
  async delete(options: DeleteOptions): Promise<number> {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`delete() takes { entries, tags, matching, expired, olderThan, soft }, got ${describe(options)}`);
    }
    for (const name of Object.keys(options)) {
      if (name === 'urls' || name === 'keys') {
        throw new TypeError(`delete({ ${name} }) became delete({ entries }) in 1.0: entries: [url, { url, headers }, { key }, …]`);
      }
      if (!DELETE_OPTIONS.has(name)) throw new TypeError(`unknown option delete({ ${name} }) (known: ${[...DELETE_OPTIONS].join(', ')})`);
    }
    const cutoff = olderThanCutoff(options.olderThan, this.#ctx.clock.now());
    const records = this.#ctx.records;
    const entries = options.entries ?? [];
    if (!Array.isArray(entries)) throw new TypeError(`delete() takes entries as an array, got ${describe(entries)}`);
    const keys = entries.map((ref) => this.#keyOf(ref, 'delete()'));
    const tags = options.tags;
    if (tags !== undefined && (!Array.isArray(tags) || !tags.every(isTag)))
      throw new TypeError(`delete() takes tags as an array of tags, got ${describe(tags)}`);
    const matches = options.matching === undefined ? undefined : compileFilter(options.matching, 'delete() matching');
    if (options.soft !== undefined && typeof options.soft !== 'boolean') throw new TypeError(`delete() takes soft as a boolean, got ${describe(options.soft)}`);
    const soft = options.soft === true ? { now: this.#ctx.clock.now() } : undefined;
    if (soft !== undefined && (options.expired !== undefined || options.olderThan !== undefined)) {
      throw new TypeError('delete({ soft: true }) makes entries named by entries, tags or matching stale: expired and olderThan delete');
    }
    // Requests made from now on are answered anew, and a response to one sent before is not stored: by key, or, for
    // a purge by tag or match (which names no key of a response on its way), every one.
    if ((tags !== undefined && tags.length > 0) || matches !== undefined) this.#ctx.flights.invalidateAll();
    else this.#ctx.flights.invalidate(keys);
    let deleted = await records.deleteKeys(keys, soft);
    if (tags !== undefined && tags.length > 0) deleted += await records.deleteTagged(tags, soft);
    if (matches !== undefined) deleted += await records.deleteListed(this.#matchingKeys(matches), soft);
    if (options.expired === true) deleted += await records.deleteExpired(this.#ctx.clock.now());
    if (cutoff !== undefined) deleted += await records.deleteReceivedBefore(cutoff);
    return deleted;
  }

  /**
   * The stored responses, as metadata (URL, status, size, freshness, tags...),
   * page by page of the storage's listing: nothing is loaded all at once and
   * the origin is never asked. Filter by URL prefix or glob, state, or a test.
   */
  async *entries(filter?: EntryFilter): AsyncIterable<EntryInfo> {
    const matches = compileFilter(filter, 'entries()');
    for await (const entry of this.#ctx.records.list(this.#ctx.clock.now())) if (matches(entry)) yield this.#shown(entry);
  }

  /** What is stored for one entry: the entry, or its variants when the response varies; empty when nothing is. */
  async inspect(entry: EntryRef): Promise<EntryInfo[]> {
    // biome-ignore lint/complexity/noArguments: the 0.1 two-argument form is caught without widening the 1.0 signature
    if (arguments.length > 1) throw new TypeError('inspect(url, { method, headers }) became inspect({ url, method, headers }) in 1.0');
    const found = await this.#ctx.records.inspect(this.#keyOf(entry, 'inspect()'), this.#ctx.clock.now());
    return found.map((info) => this.#shown(info));
  }

  /** An entry as it may leave the cache: its URL through the one redaction every URL passes. */
  #shown(entry: EntryInfo): EntryInfo {
    entry.url = this.#ctx.reporter.shown(entry.url);
    return entry;
  }

  /**
   * Writes every usable entry (and the redirect records beside them) to
   * `out`, in the format asked (see ExportOptions), with each entry's
   * expiry; returns how many records were written. `out` is left open.
   */
  async export(out: Writable, options: ExportOptions = {}): Promise<TransferResult> {
    if (out === null || typeof out !== 'object' || typeof (out as Writable).write !== 'function') {
      throw new TypeError(`export() takes a writable stream, got ${describe(out)}`);
    }
    const format = options?.format ?? 'cachette';
    if (format !== 'cachette' && format !== 'text' && format !== 'har')
      throw new TypeError(`export() format must be "cachette", "text" or "har", got ${describe(format)}`);
    // Loaded when an export or an import asks for it: a request never needs it (a cold start does not pay for it).
    const { writeExport, write } = await import('./records/transfer.js');
    const now = this.#ctx.clock.now();
    const records = counted(this.#ctx.records.dump(now), options);
    if (format === 'cachette') return writeExport(records, out, this.#options.namespace, now);
    const { decodeRecord } = await import('./records/codec.js');
    const writeTo = (text: string) => write(out, text);
    if (format === 'text') return (await import('./records/text-form.js')).writeTextForm(records, decodeRecord, writeTo, this.#options.namespace);
    return (await import('./records/har.js')).writeHar(records, decodeRecord, writeTo, PACKAGE_VERSION);
  }

  /**
   * Loads what `export()` wrote, in any of its formats, or a HAR another tool
   * wrote (a readable stream): entries keep their expiries, expired ones are
   * skipped. A foreign HAR's entries are stored under the keys this cache
   * gives their requests: kept for ever by a cache that records, and
   * otherwise stale (revalidated on first use) and kept a day.
   */
  async import(input: Readable, options: TransferOptions = {}): Promise<TransferResult> {
    if (input === null || typeof input !== 'object' || typeof (input as Readable)[Symbol.asyncIterator] !== 'function') {
      throw new TypeError(`import() takes a readable stream, got ${describe(input)}`);
    }
    const { maxLineLength, readExport } = await import('./records/transfer.js');
    const maxLine = maxLineLength(this.#options.maxEntrySize + MAX_RECORD_OVERHEAD);
    const recording = this.#options.recording !== undefined;
    const har = {
      keyOf: (request: { method: string; url: string; headers: RequestHeadersInput; body: Uint8Array | undefined }) => this.#harKey(request),
      keep: (responseTime: number) =>
        recording ? { lifetime: Number.POSITIVE_INFINITY, expiresAt: null } : { lifetime: 0, expiresAt: responseTime + FOREIGN_HAR_RETENTION_MS },
      dropped: HAR_DROPPED,
    };
    return this.#ctx.records.load(counted(readExport(input, maxLine, har), options), this.#ctx.clock.now());
  }

  /** The key and stored URL this cache gives a request read from a HAR; undefined for one it would not store. */
  #harKey(request: { method: string; url: string; headers: RequestHeadersInput; body: Uint8Array | undefined }): { key: string; url: string } | undefined {
    if (!this.#options.methods.has(request.method)) return undefined;
    try {
      const url = normalizeAbsoluteUrl(request.url, this.#options.urls);
      const headers = normalizeRequestHeaders(request.headers);
      // A credentialed request is keyed by its credentials only where they are (per-credential): a bypassing cache never stores one.
      if (!this.#options.perCredential && hasCredentials(headers)) return undefined;
      return { key: this.#keys.keyFor({ method: request.method, url: url.keyUrl, headers, body: request.body }), url: url.storedUrl };
    } catch {
      return undefined;
    }
  }

  /**
   * Copies every usable entry into another cache's storage (memory, SQLite,
   * DynamoDB...), expiries and tags kept, in batches. Copying again
   * overwrites with the same records: an interrupted copy is simply run again.
   */
  async copyTo(target: HttpCache, options: TransferOptions = {}): Promise<TransferResult> {
    if (!(target instanceof HttpCache)) throw new TypeError(`copyTo() takes another cache (createCache({ storage })), got ${describe(target)}`);
    if (target === this) throw new TypeError('copyTo() needs another cache than this one');
    return target.#ctx.records.load(counted(this.#ctx.records.dump(this.#ctx.clock.now()), options), this.#ctx.clock.now());
  }

  async *#matchingKeys(matches: (entry: EntryInfo) => boolean): AsyncIterable<string> {
    for await (const entry of this.#ctx.records.list(this.#ctx.clock.now())) if (matches(entry)) yield entry.key;
  }

  /** Whether an entry is stored. */
  async contains(entry: EntryRef): Promise<boolean> {
    return this.#ctx.records.has(this.#keyOf(entry, 'contains()'));
  }

  /** Waits for writes in flight, closes the dispatcher this cache created, and closes the storage. Closing again waits for the same. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * Within `timeouts.close`: the requests under way on this cache's own
   * dispatcher finish (past the bound, they are aborted), the writes in flight
   * land (past it, they are abandoned), the storage closes. What is
   * abandoned is reported (`cachette:storage-error`, operation `close`).
   */
  async #close(): Promise<void> {
    this.uninstall();
    const { closeMs } = this.#options.timeouts;
    const deadline = this.#ctx.clock.monotonic() + closeMs;
    const left = (): number => Math.max(0, deadline - this.#ctx.clock.monotonic());
    const abandoned = (what: string): void => {
      this.#ctx.reporter.storageError({
        operation: 'close',
        partition: this.#ctx.records.name,
        error: new Error(`close() gave up after ${closeMs} ms: ${what}`),
      });
    };
    // The agent finishes the requests under way (background refreshes included) before it closes.
    if (this.#agent !== undefined && !(await settlesWithin(this.#ctx.clock, this.#agent.close(), left()))) {
      abandoned('requests still under way were aborted');
      await this.#agent.destroy().catch(() => undefined);
    }
    // Then what the cache does for no caller: refreshes (on any dispatcher), lease releases, writes.
    if (!(await settlesWithin(this.#ctx.clock, this.#backgroundDone(), left()))) {
      const writes = this.#ctx.records.pendingKeys().length;
      const tasks = this.#ctx.background.size;
      const parts = [writes > 0 ? `${writes} write(s) still in flight` : '', tasks > 0 ? `${tasks} background task(s) still under way` : ''];
      abandoned(`${parts.filter((part) => part !== '').join(' and ')} were abandoned`);
    }
    // The storage gets a moment of its own even when the rest used up the bound.
    if (!(await settlesWithin(this.#ctx.clock, Promise.resolve(this.#storage.close()), Math.max(left(), Math.min(1000, closeMs))))) {
      abandoned('the storage did not finish closing');
    }
  }

  /** What this cache has done since it was made or since `resetStats()`: hits, misses, stores, errors... and the hit ratio. */
  stats(): CacheStats {
    return this.#stats.snapshot();
  }

  /**
   * Calls `observer` with every lookup outcome of this cache (hit, miss,
   * revalidate, stale, bypass...) as it is decided, until the returned
   * function is called. What the `cachette/otel` spans are made from.
   */
  observe(observer: (event: DecisionEvent) => void): () => void {
    if (typeof observer !== 'function') throw new TypeError(`observe() takes a function, got ${describe(observer)}`);
    return this.#ctx.reporter.observe(observer);
  }

  /** Starts the counters of `stats()` over. */
  resetStats(): void {
    this.#stats.reset();
  }

  /**
   * Resolves when the work this cache does for no caller is over: writes in
   * flight (each lands or gives up at its deadline), stale-while-revalidate
   * refreshes on their way to the origin, leases being released, damaged
   * records being deleted. What outlives `timeouts.close` is left to
   * itself and reported (`cachette:storage-error`, operation `settled`).
   */
  async settled(): Promise<void> {
    const { closeMs } = this.#options.timeouts;
    if (!(await settlesWithin(this.#ctx.clock, this.#backgroundDone(), closeMs))) {
      this.#ctx.reporter.storageError({
        operation: 'settled',
        partition: this.#ctx.records.name,
        error: new Error(`settled() stopped waiting after ${closeMs} ms: work still under way was left to itself`),
      });
    }
  }

  /** Background work and writes, until neither starts more of the other. */
  async #backgroundDone(): Promise<void> {
    const { background, records } = this.#ctx;
    do {
      await background.drain();
      await records.flush();
    } while (!background.idle);
  }

  /** The key an EntryRef names (see EntryRef). */
  #keyOf(entry: EntryRef, caller: string): string {
    if (typeof entry === 'string' || entry instanceof URL) return this.#keyForUrl(entry, 'GET', undefined);
    if (entry === null || typeof entry !== 'object') {
      throw new TypeError(`${caller} takes an entry: a URL, { url, method, headers } or { key }, got ${describe(entry)}`);
    }
    if ('key' in entry) {
      if (typeof entry.key !== 'string' || entry.key === '') throw new TypeError(`${caller} takes { key } with a key, got ${describe(entry.key)}`);
      return entry.key;
    }
    if (!('url' in entry) || entry.url === undefined) throw new TypeError(`${caller} takes { url, method, headers } or { key }, got ${describe(entry)}`);
    const method = entry.method ?? 'GET';
    if (typeof method !== 'string') throw new TypeError(`${caller} takes a method name, got ${describe(method)}`);
    const upper = method.toUpperCase();
    // HEAD shares GET's entries.
    return this.#keyForUrl(entry.url, upper === 'HEAD' ? 'GET' : upper, entry.headers);
  }

  #keyForUrl(url: string | URL, method: string, headers: RequestHeadersInput): string {
    let normalized: ReturnType<typeof normalizeAbsoluteUrl>;
    try {
      normalized = normalizeAbsoluteUrl(url, this.#options.urls);
    } catch {
      throw new TypeError(`not an absolute URL: ${describe(this.#ctx.reporter.shown(String(url)))}`);
    }
    return this.#keys.keyFor({ method, url: normalized.keyUrl, headers: normalizeRequestHeaders(headers) });
  }
}

export function createCache(options?: CacheOptions): HttpCache {
  return new HttpCache(options);
}

const DELETE_OPTIONS = new Set(['entries', 'tags', 'matching', 'expired', 'olderThan', 'soft']);

/** How long a cache that does not record keeps what a foreign HAR held: a day, as a stale entry with a validator. */
const FOREIGN_HAR_RETENTION_MS = 24 * 3600 * 1000;

/** Response fields a HAR's entries never store: hop-by-hop fields, and a session (as a recording keeps none). */
const HAR_DROPPED: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'set-cookie']);

/** What a record holds besides its body (URL, header fields, Vary values, tags), at most, for an export line worth reading. */
const MAX_RECORD_OVERHEAD = 1024 * 1024;

/**
 * Most bytes of responses waiting to be written. Past it (a storage far slower
 * than the traffic), new responses are not stored rather than held in memory.
 */
const MIN_WRITE_BACKLOG_BYTES = 64 * 1024 * 1024;

/** The records as they pass, counted for `onProgress`. */
async function* counted<T>(records: AsyncIterable<T>, options: TransferOptions): AsyncIterable<T> {
  const report = options?.onProgress;
  if (report !== undefined && typeof report !== 'function') throw new TypeError(`onProgress must be a function, got ${describe(report)}`);
  let count = 0;
  for await (const record of records) {
    yield record;
    count += 1;
    if (count % 100 === 0) report?.(count);
  }
  report?.(count);
}

function olderThanCutoff(olderThan: unknown, now: number): number | undefined {
  if (olderThan === undefined) return undefined;
  if (olderThan instanceof Date && !Number.isNaN(olderThan.getTime())) return olderThan.getTime();
  if (typeof olderThan === 'number' && Number.isFinite(olderThan) && olderThan >= 0) return now - olderThan * 1000;
  throw new TypeError(`olderThan must be seconds or a Date, got ${describe(olderThan)}`);
}

/**
 * Dispatches with the per-request options in the dispatch options, where the
 * interceptor reads them (fetch passes a dispatcher nothing of its init).
 */
class ControlledDispatcher extends Dispatcher {
  readonly #dispatcher: Dispatcher;
  readonly #control: RequestControl;

  constructor(dispatcher: Dispatcher, control: RequestControl) {
    super();
    this.#dispatcher = dispatcher;
    this.#control = control;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const controlled: Dispatcher.DispatchOptions = Object.assign({}, options);
    controlled.cachette = this.#control;
    return this.#dispatcher.dispatch(controlled, handler);
  }

  // One request's view of the cache's dispatcher: closing it closes nothing.
  override close(): Promise<void> {
    return Promise.resolve();
  }

  override destroy(): Promise<void> {
    return Promise.resolve();
  }
}

/** The input as the runtime's fetch takes it: a Request of the undici package becomes the runtime's own. */
function runtimeRequest(input: string | URL | Request): string | URL | Request {
  if (!(input instanceof UndiciRequest) || input instanceof Request) return input;
  return new Request(input.url, {
    method: input.method,
    headers: [...input.headers],
    body: input.body,
    signal: input.signal,
    redirect: input.redirect,
    cache: input.cache,
    credentials: input.credentials,
    integrity: input.integrity,
    keepalive: input.keepalive,
    referrerPolicy: input.referrerPolicy,
    ...(input.body === null ? {} : { duplex: 'half' }),
  } as RequestInit);
}

/**
 * Whether `promise` settles within `ms`: true when it does (a rejection is
 * thrown), false when the time is up first (it is then left to itself).
 */
async function settlesWithin(clock: Clock, promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: Timer | undefined;
  const timeUp = new Promise<false>((resolve) => {
    timer = clock.setTimer(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeUp]);
  } finally {
    timer?.cancel();
  }
}
