/**
 * Stores responses off the response path. The records of a write are known
 * the moment its response ends, and lookups see them at once (a caller who
 * fetches twice in a row gets a hit) without waiting for the storage — which
 * may be slow, or failing. Writes of one key land in order; `flush()` (and so
 * `close()`) waits for all of them.
 */
import type { CacheContext } from './context.js';
import type { CacheRequest } from '../policy/request.js';
import type { StorePlan } from '../policy/storable.js';
import { storableHeaderPairs, headerValue, pairValue, type ResponseHeaders } from '../policy/headers.js';
import { encodeRecord, decodeRecord, type StoredRecord, type StoredResponse, type StoredVariants } from '../serialize.js';
import { newGeneration, varyPairs, variantKey } from '../policy/vary.js';
import { normalizeAbsoluteUrl } from '../policy/url.js';

export interface SaveJob {
  request: CacheRequest;
  plan: StorePlan;
  status: number;
  statusText: string;
  headers: ResponseHeaders;
  body: Uint8Array;
  requestTime: number;
  responseTime: number;
  /** The variants index found at lookup, if any. */
  variants: StoredVariants | undefined;
}

/** What a lookup finds for a key whose deletion is in flight: one object per deletion, so each ends only its own. */
export interface Deletion {
  kind: 'deleted';
}
type InFlight = StoredRecord | Deletion;

export function isDeletion(record: InFlight): record is Deletion {
  return record.kind === 'deleted';
}

/**
 * Most bytes of responses waiting to be written. Past it (a storage far slower
 * than the traffic), new responses are not stored rather than held in memory.
 */
const MIN_WRITE_BACKLOG_BYTES = 64 * 1024 * 1024;

/** Most variant keys an index remembers (for deleting them with their URL). */
const MAX_TRACKED_VARIANTS = 64;
/** Most redirect keys remembered per target URL. */
const MAX_TRACKED_ALIASES = 64;
const ALIAS_RETENTION_MS = 30 * 24 * 3600 * 1000;

export class EntryWriter {
  readonly #ctx: CacheContext;
  /** The chain of writes of each key, for ordering and for flush(). */
  readonly #chains = new Map<string, Promise<void>>();
  /** What each key will hold once the writes in flight land. */
  readonly #inFlight = new Map<string, InFlight>();
  /** Updates of each redirect target's aliases, one at a time (each reads the record, then rewrites it). */
  readonly #aliasUpdates = new Map<string, Promise<void>>();
  readonly #maxBacklogBytes: number;
  #backlogBytes = 0;
  /** Writes waiting to start: one timer starts them all (see #enqueue). */
  #queued: Array<() => void> = [];
  readonly #runQueued = (): void => {
    const queued = this.#queued;
    this.#queued = [];
    for (const run of queued) run();
  };
  readonly #runQueuedNextTurn = (): void => {
    setImmediate(this.#runQueued);
  };

  constructor(ctx: CacheContext) {
    this.#ctx = ctx;
    this.#maxBacklogBytes = Math.max(MIN_WRITE_BACKLOG_BYTES, 4 * Math.min(ctx.options.maxEntrySize, Number.MAX_SAFE_INTEGER));
  }

  /** The record a write in flight is about to store under `key` (a Deletion for a deletion), if any. */
  inFlight(key: string): InFlight | undefined {
    return this.#inFlight.get(key);
  }

  /** The keys with writes (or deletions) still in flight. */
  pendingKeys(): string[] {
    return [...this.#chains.keys()];
  }

  /** Resolves when every write in flight has finished. */
  async flush(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }

  /** Queues a write; the caller's response has already ended. Resolves when it has landed (or failed). */
  save(job: SaveJob): Promise<void> {
    const bytes = job.body.byteLength;
    if (this.#backlogBytes + bytes > this.#maxBacklogBytes) {
      const { request } = job;
      this.#ctx.reporter.store({ method: request.method, url: request.url.storedUrl, key: request.key, stored: false, reason: 'write-backlog', bytes });
      return Promise.resolve();
    }
    this.#backlogBytes += bytes;
    const records = this.#records(job);
    return this.#enqueue(records, async () => {
      try {
        const stored = await this.#store(job, records);
        if (stored && job.status >= 300 && job.status < 400) await this.#recordAlias(job);
      } finally {
        this.#backlogBytes -= bytes;
      }
    }, 'save');
  }

  /** Deletes keys (an invalidation): lookups miss them at once, whatever the storage is doing. */
  forget(keys: string[], operation: () => Promise<unknown>): void {
    const deletion: Deletion = { kind: 'deleted' };
    void this.#enqueue(keys.map((key) => [key, deletion] as const), operation, 'invalidate');
  }

  /** Runs `operation` after the writes already queued for these keys, and shows `records` to lookups meanwhile. */
  #enqueue(records: ReadonlyArray<readonly [string, InFlight]>, operation: () => Promise<unknown>, name: string): Promise<void> {
    const previous: Array<Promise<void>> = [];
    for (const [key, record] of records) {
      this.#inFlight.set(key, record);
      const chain = this.#chains.get(key);
      if (chain !== undefined) previous.push(chain);
    }
    const done = new Promise<void>((resolve) => {
      const run = (): void => {
        (previous.length === 0 ? operation() : Promise.all(previous).then(operation))
          .catch((error: unknown) => this.#ctx.reporter.storageError({ operation: name, partition: this.#ctx.responses.name, error }))
          .finally(resolve);
      };
      // Off the response path: encoding and I/O start a turn of the event loop after the response
      // ended. undici writes the next request on a kept-alive connection in the check phase that
      // follows a response (a setImmediate it schedules after our handler ran): a write started in
      // that same phase would go first and hold that request back; one started in the next turn
      // runs while it is on its way.
      this.#queued.push(run);
      if (this.#queued.length === 1) setImmediate(this.#runQueuedNextTurn);
    });
    for (const [key, record] of records) {
      this.#chains.set(key, done);
      void done.then(() => {
        if (this.#chains.get(key) === done) this.#chains.delete(key);
        if (this.#inFlight.get(key) === record) this.#inFlight.delete(key);
      });
    }
    return done;
  }

  /** The records a response becomes: itself under its key, or, when it varies, a variant and the index. */
  #records(job: SaveJob): Array<[string, StoredRecord]> {
    const { request, plan } = job;
    const record: StoredResponse = {
      kind: 'response',
      expiresAt: toRecordExpiry(plan.expiresAt),
      status: job.status,
      statusText: job.statusText,
      headers: storableHeaderPairs(job.headers, plan.omit),
      body: job.body,
      method: request.lookupMethod,
      url: request.url.storedUrl,
      vary: null,
      requestTime: job.requestTime,
      responseTime: job.responseTime,
      initialAge: plan.initialAge,
      lifetime: plan.lifetime,
      flags: plan.flags,
      staleWhileRevalidate: plan.staleWhileRevalidate,
      staleIfError: plan.staleIfError,
      hiddenFields: plan.hiddenFields,
    };
    if (plan.vary.length === 0) return [[request.key, record]];

    const existing = job.variants !== undefined && sameNames(job.variants.names, plan.vary) ? job.variants : undefined;
    const index: StoredVariants = existing
      ?? { kind: 'variants', expiresAt: record.expiresAt, names: plan.vary, generation: newGeneration(), keys: [] };
    record.vary = varyPairs(plan.vary, request.headers, this.#ctx.options.ignoredHeaders);
    const key = variantKey(request.key, index.generation, record.vary);
    const keys = index.keys.includes(key) ? index.keys : [...index.keys, key].slice(-MAX_TRACKED_VARIANTS);
    // The index lives as long as its longest-lived variant.
    return [[key, record], [request.key, { ...index, expiresAt: later(index.expiresAt, record.expiresAt), keys }]];
  }

  /** Writes the records in order — a variant before its index, so no reader finds an index whose variant is not there. */
  async #store(job: SaveJob, records: Array<[string, StoredRecord]>): Promise<boolean> {
    let stored = true;
    for (const [key, record] of records) {
      if (!stored) break;
      stored = await this.#ctx.responses.set(key, encodeRecord(record), { expiresAt: record.expiresAt ?? undefined, transfer: true });
    }
    const { request, plan } = job;
    this.#ctx.reporter.store({ method: request.method, url: request.url.storedUrl, key: request.key, stored, reason: stored ? plan.freshness : 'storage', bytes: job.body.byteLength });
    return stored;
  }

  /** Remembers that the redirect stored under this key points at its Location, so deleting the target deletes it too. */
  async #recordAlias(job: SaveJob): Promise<void> {
    const location = headerValue(job.headers, 'location');
    if (location === undefined) return;
    const ctx = this.#ctx;
    let targetKey: string;
    try {
      const target = normalizeAbsoluteUrl(new URL(location, job.request.url.storedUrl), ctx.options.ignoredParameters);
      targetKey = ctx.keys.keyFor({ method: 'GET', url: target.keyUrl, headers: job.request.headers });
    } catch {
      return;
    }
    // Two redirects to one target, stored at once, must not each overwrite the other's addition.
    const previous = this.#aliasUpdates.get(targetKey);
    const update = (previous ?? Promise.resolve()).then(() => this.#addAlias(targetKey, job));
    const settled = update.then(() => undefined, () => undefined);
    this.#aliasUpdates.set(targetKey, settled);
    void settled.then(() => {
      if (this.#aliasUpdates.get(targetKey) === settled) this.#aliasUpdates.delete(targetKey);
    });
    await update;
  }

  async #addAlias(targetKey: string, job: SaveJob): Promise<void> {
    const { redirects } = this.#ctx;
    const existing = await redirects.get(targetKey);
    const record = existing === undefined ? undefined : decodeRecord(existing);
    const keys = record?.kind === 'aliases' ? record.keys : [];
    if (keys.includes(job.request.key)) return;
    const updated = [...keys, job.request.key].slice(-MAX_TRACKED_ALIASES);
    // Aliases of several lifetimes share one record: keep it past the longest of them.
    const own = job.plan.expiresAt === undefined ? null : job.plan.expiresAt + ALIAS_RETENTION_MS;
    const expiresAt = record?.kind === 'aliases' ? later(record.expiresAt, own) : own;
    await redirects.set(targetKey, encodeRecord({ kind: 'aliases', expiresAt, keys: updated }), { expiresAt: expiresAt ?? undefined });
  }
}

function toRecordExpiry(expiresAt: number | undefined): number | null {
  return expiresAt ?? null;
}

/** The later of two expiries, null meaning never. */
function later(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : Math.max(a, b);
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}
