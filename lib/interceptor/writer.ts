/**
 * Stores responses off the response path. A write is registered the moment
 * its response ends, so a lookup of the same key waits for it (a caller who
 * fetches twice in a row gets a hit), and `close()` waits for all of them.
 */
import type { CacheContext } from './context.js';
import type { CacheRequest } from '../policy/request.js';
import type { StorePlan } from '../policy/storable.js';
import { storableHeaderPairs, headerValue, type ResponseHeaders } from '../policy/headers.js';
import { encodeRecord, decodeRecord, type StoredResponse, type StoredVariants } from '../serialize.js';
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

/** Most variant keys an index remembers (for deleting them with their URL). */
const MAX_TRACKED_VARIANTS = 64;
/** Most redirect keys remembered per target URL. */
const MAX_TRACKED_ALIASES = 64;
const ALIAS_RETENTION_MS = 30 * 24 * 3600 * 1000;

export class EntryWriter {
  readonly #ctx: CacheContext;
  readonly #pending = new Map<string, Promise<void>>();

  constructor(ctx: CacheContext) {
    this.#ctx = ctx;
  }

  /** Resolves when no write for `key` is in flight. */
  settled(key: string): Promise<void> | undefined {
    return this.#pending.get(key);
  }

  /** Resolves when every write in flight has finished. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending.values()]);
  }

  /** Queues a write; the caller's response has already ended. */
  save(job: SaveJob): void {
    const key = job.request.key;
    const previous = this.#pending.get(key);
    const write = new Promise<void>((resolve) => {
      // Off the response path: encoding and I/O start after the caller's callbacks ran.
      setImmediate(() => {
        (previous ?? Promise.resolve())
          .then(() => this.#write(job))
          .catch((error: unknown) => this.#ctx.reporter.storageError({ operation: 'save', partition: this.#ctx.responses.name, error }))
          .finally(resolve);
      });
    });
    this.track([key], write);
  }

  /** Makes lookups of these keys wait for `operation` (an invalidation, say). */
  track(keys: string[], operation: Promise<void>): void {
    const settled = operation.catch(() => undefined);
    for (const key of keys) {
      const previous = this.#pending.get(key);
      const after = previous === undefined ? settled : Promise.all([previous, settled]).then(() => undefined);
      this.#pending.set(key, after);
      void after.then(() => {
        if (this.#pending.get(key) === after) this.#pending.delete(key);
      });
    }
  }

  async #write(job: SaveJob): Promise<void> {
    const { request, plan } = job;
    const ctx = this.#ctx;
    const record: StoredResponse = {
      kind: 'response',
      expiresAt: toRecordExpiry(plan.expiresAt),
      status: job.status,
      statusText: job.statusText,
      headers: withContentLength(storableHeaderPairs(job.headers, plan.omit), job.status, job.body.byteLength),
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
    const setOptions = { expiresAt: plan.expiresAt };

    let stored: boolean;
    if (plan.vary.length === 0) {
      stored = await ctx.responses.set(request.key, encodeRecord(record), setOptions);
    } else {
      const existing = job.variants !== undefined && sameNames(job.variants.names, plan.vary) ? job.variants : undefined;
      const index: StoredVariants = existing
        ?? { kind: 'variants', expiresAt: toRecordExpiry(plan.expiresAt), names: plan.vary, generation: newGeneration(), keys: [] };
      record.vary = varyPairs(plan.vary, request.headers, ctx.options.ignoredParameters);
      const key = variantKey(request.key, index.generation, record.vary);
      // The variant first, then the index: a reader never finds an index whose new variant is not there yet.
      stored = await ctx.responses.set(key, encodeRecord(record), setOptions);
      if (stored) {
        const keys = index.keys.includes(key) ? index.keys : [...index.keys, key].slice(-MAX_TRACKED_VARIANTS);
        // The index lives as long as its longest-lived variant.
        const expiresAt = later(index.expiresAt, record.expiresAt);
        stored = await ctx.responses.set(request.key, encodeRecord({ ...index, expiresAt, keys }), { expiresAt: expiresAt ?? undefined });
      }
    }
    ctx.reporter.store({ method: request.method, url: request.url.storedUrl, key: request.key, stored, reason: stored ? plan.freshness : 'storage', bytes: job.body.byteLength });

    if (stored && job.status >= 300 && job.status < 400) await this.#recordAlias(job);
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
    const existing = await ctx.redirects.get(targetKey);
    const record = existing === undefined ? undefined : decodeRecord(existing);
    const keys = record?.kind === 'aliases' ? record.keys : [];
    if (keys.includes(job.request.key)) return;
    const updated = [...keys, job.request.key].slice(-MAX_TRACKED_ALIASES);
    // Aliases of several lifetimes share one record: keep it past the longest of them.
    const own = job.plan.expiresAt === undefined ? null : job.plan.expiresAt + ALIAS_RETENTION_MS;
    const expiresAt = record?.kind === 'aliases' ? later(record.expiresAt, own) : own;
    await ctx.redirects.set(targetKey, encodeRecord({ kind: 'aliases', expiresAt, keys: updated }), { expiresAt: expiresAt ?? undefined });
  }
}

/** A replayed body always has a true Content-Length, also when the origin sent it chunked. */
function withContentLength(pairs: string[], status: number, length: number): string[] {
  if (status === 204 || status === 304 || pairs.includes('content-length')) return pairs;
  pairs.push('content-length', String(length));
  return pairs;
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
