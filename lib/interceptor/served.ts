/**
 * The headers a hit is served with, prepared once per stored response: a
 * hit then copies one small object and adds Age and Cache-Status, instead of
 * rebuilding the headers (and, for undici 8, their raw form) every time.
 */
import { copyFields, listFields, pairsToHeaders, type ResponseHeaders } from '../policy/headers.js';
import type { StoredResponse } from '../records/model.js';
import { formatCacheStatus } from './cache-status.js';
import { toRawHeaders } from './undici/index.js';

interface Prepared {
  /** Stored headers without Age, Cache-Status and fields hidden by no-cache="…". */
  base: ResponseHeaders;
  /** The names in `base` whose values are lists: each hit gets lists of its own. */
  lists: readonly string[];
  /** Cache-Status members from caches nearer the origin, to put before ours. */
  upstream: string | undefined;
  /** The base headers as raw Buffer pairs, built on first use. */
  raw: Buffer[] | undefined;
  /** The last Age and Cache-Status values served, as raw header values: most hits repeat them. */
  lastAge: RawValue;
  lastStatus: RawValue;
  /** The last hit's Cache-Status field value, by the whole seconds of freshness left it was made for. */
  lastHit: { ttl: number; detail: string | undefined; value: string } | undefined;
}

interface RawValue {
  text: string;
  bytes: Buffer;
}

const NO_VALUE: RawValue = { text: '', bytes: Buffer.alloc(0) };

const AGE = Buffer.from('age', 'latin1');
const CACHE_STATUS = Buffer.from('cache-status', 'latin1');

/**
 * The headers of each stored response a cache serves, prepared once (one
 * memo per cache, kept with the record for as long as it lives): rebuilding
 * them on every hit is measured in ARCHITECTURE.md, "Memos" (and `npm run bench`'s hits).
 */
export class HitHeaders {
  readonly #prepared = new WeakMap<StoredResponse, Prepared>();

  /**
   * The headers of a hit: the stored ones, its Age (RFC 9111 §5.1) and our
   * Cache-Status member (`hit`, the freshness left, and `detail` when it is not plainly fresh).
   */
  served(entry: StoredResponse, ageMs: number, ttl: number, detail: string | undefined): ServedHeaders {
    let ready = this.#prepared.get(entry);
    if (ready === undefined) {
      ready = prepare(entry);
      this.#prepared.set(entry, ready);
    }
    return servedFrom(ready, ageField(ageMs), ttl, detail);
  }
}

function prepare(entry: StoredResponse): Prepared {
  const all = storedHeaders(entry);
  const upstreamValue = all['cache-status'];
  delete all['cache-status'];
  return {
    base: all,
    lists: listFields(all),
    upstream: upstreamValue === undefined ? undefined : Array.isArray(upstreamValue) ? upstreamValue.join(', ') : upstreamValue,
    raw: undefined,
    lastAge: NO_VALUE,
    lastStatus: NO_VALUE,
    lastHit: undefined,
  };
}

/**
 * The stored headers a response made from `entry` may carry: without Age
 * (the cache sets its own), without the fields no-cache="…" named (RFC 9111
 * §5.2.2.4: not sent without revalidation), and without those `skip` names.
 */
export function storedHeaders(entry: StoredResponse, skip?: (name: string) => boolean): ResponseHeaders {
  const hidden = entry.hiddenFields;
  return pairsToHeaders(entry.headers, (name) => name === 'age' || hidden?.includes(name) === true || skip?.(name) === true);
}

export interface ServedHeaders {
  headers: ResponseHeaders;
  /** The raw form, built only if a consumer asks for it. */
  rawHeaders: () => Buffer[];
}

function servedFrom(ready: Prepared, age: string, ttl: number, detail: string | undefined): ServedHeaders {
  const wholeTtl = Number.isFinite(ttl) ? Math.round(ttl) || 0 : ttl;
  let last = ready.lastHit;
  if (last === undefined || last.ttl !== wholeTtl || last.detail !== detail) {
    const member = formatCacheStatus({ hit: true, ttl: wholeTtl, detail });
    last = ready.lastHit = { ttl: wholeTtl, detail, value: ready.upstream === undefined ? member : `${ready.upstream}, ${member}` };
  }
  const cacheStatus = last.value;
  // Object.assign (copyFields), not spread: spreading objects with field names like these is many times slower in V8.
  const headers = copyFields(ready.base, ready.lists);
  headers['age'] = age;
  headers['cache-status'] = cacheStatus;
  const rawHeaders = (): Buffer[] => {
    if (ready.raw === undefined) ready.raw = toRawHeaders(ready.base);
    const raw = ready.raw;
    // A new array every time (consumers such as undici's decompress interceptor edit it in place).
    if (ready.lastAge.text !== age) ready.lastAge = { text: age, bytes: Buffer.from(age, 'latin1') };
    if (ready.lastStatus.text !== cacheStatus) ready.lastStatus = { text: cacheStatus, bytes: Buffer.from(cacheStatus, 'latin1') };
    const count = raw.length;
    const all = new Array<Buffer>(count + 4);
    for (let i = 0; i < count; i++) all[i] = raw[i] as Buffer;
    all[count] = AGE;
    all[count + 1] = ready.lastAge.bytes;
    all[count + 2] = CACHE_STATUS;
    all[count + 3] = ready.lastStatus.bytes;
    return all;
  };
  return { headers, rawHeaders };
}

/** An Age field value (RFC 9111 §5.1): whole seconds. */
export function ageField(ageMs: number): string {
  return String(Math.floor(ageMs / 1000));
}
