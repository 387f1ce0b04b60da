/**
 * The headers a hit is served with, prepared once per stored response: a
 * hit then copies one small object and adds Age and Cache-Status, instead of
 * rebuilding the headers (and, for undici 8, their raw form) every time.
 */
import { pairsToHeaders, type ResponseHeaders } from '../policy/headers.js';
import type { StoredResponse } from '../serialize.js';
import { consumersReadRawHeaders, toRawHeaders } from './undici-compat.js';

interface Prepared {
  /** Stored headers without Age, Cache-Status and fields hidden by no-cache="…". */
  base: ResponseHeaders;
  /** Cache-Status members from caches nearer the origin, to put before ours. */
  upstream: string | undefined;
  raw: Buffer[] | undefined;
}

const prepared = new WeakMap<StoredResponse, Prepared>();
const AGE = Buffer.from('age', 'latin1');
const CACHE_STATUS = Buffer.from('cache-status', 'latin1');

function prepare(entry: StoredResponse): Prepared {
  let ready = prepared.get(entry);
  if (ready === undefined) {
    const all = storedHeaders(entry);
    const upstreamValue = all['cache-status'];
    delete all['cache-status'];
    ready = {
      base: all,
      upstream: upstreamValue === undefined ? undefined : Array.isArray(upstreamValue) ? upstreamValue.join(', ') : upstreamValue,
      raw: consumersReadRawHeaders ? toRawHeaders(all) : undefined,
    };
    prepared.set(entry, ready);
  }
  return ready;
}

/**
 * The stored headers a response made from `entry` may carry: without Age
 * (the cache sets its own), without the fields no-cache="…" named (RFC 9111
 * §5.2.2.4: not sent without revalidation), and without those `skip` names.
 */
export function storedHeaders(entry: StoredResponse, skip?: (name: string) => boolean): ResponseHeaders {
  const hidden = entry.hiddenFields;
  return pairsToHeaders(entry.headers, (name) => name === 'age' || (hidden !== null && hidden.includes(name)) || (skip !== undefined && skip(name)));
}

export interface ServedHeaders {
  headers: ResponseHeaders;
  /** The raw form, built only if a consumer asks for it. */
  rawHeaders: (() => Buffer[]) | undefined;
}

/** The headers of a hit: the stored ones, its Age (RFC 9111 §5.1) and our Cache-Status member. */
export function servedHeaders(entry: StoredResponse, ageSeconds: number, member: string): ServedHeaders {
  const ready = prepare(entry);
  const age = String(ageSeconds);
  const cacheStatus = ready.upstream === undefined ? member : `${ready.upstream}, ${member}`;
  // Object.assign, not spread: spreading objects with field names like these is many times slower in V8.
  const headers: ResponseHeaders = Object.assign({}, ready.base);
  headers['age'] = age;
  headers['cache-status'] = cacheStatus;
  const raw = ready.raw;
  const rawHeaders = raw === undefined
    ? undefined
    : () => [...raw, AGE, Buffer.from(age, 'latin1'), CACHE_STATUS, Buffer.from(cacheStatus, 'latin1')];
  return { headers, rawHeaders };
}
