/**
 * Stored responses as an operator sees them: what was asked, what came back,
 * when it stops being fresh and when it stops being usable, what it varies
 * on, its tags — read from the record, never from the origin.
 */

import { freshUntil as freshUntilOf } from '../policy/freshness.js';
import { compileGlob } from '../policy/glob.js';
import { fieldMap } from '../policy/headers.js';
import type { StoredResponse } from './model.js';

/** What a listing shows for the value of a credential or an ignored field a response varies on (its digest is stored, never shown: a guess could be tested against it). */
const HIDDEN_VALUE = '(redacted)';

/** One stored response (`cache.entries()`, `cache.inspect()`). */
export interface EntryInfo {
  /** The storage key it lives under. */
  key: string;
  /** The request URL (ignored parameters redacted) and method. */
  url: string;
  method: string;
  status: number;
  /** Body bytes. */
  size: number;
  /** When its response arrived. */
  storedAt: Date;
  /** When it stops being fresh (then it is revalidated or served stale where allowed); null: never. */
  freshUntil: Date | null;
  /** When the cache has no use for it at all; null: never. */
  usableUntil: Date | null;
  /** `fresh`, `stale` (kept to revalidate or to serve stale), or `unusable` (past `usableUntil`, not yet removed). */
  state: EntryState;
  /** The request header values it was stored for, when its response varies (credentials and ignored fields shown as "(redacted)"); null otherwise. */
  varies: Record<string, string | null> | null;
  tags: string[];
  /** With a memory tier: whether the memory tier holds it too (`memory`) or only the storage behind it (`storage`). */
  tier?: 'memory' | 'storage';
}

export type EntryState = 'fresh' | 'stale' | 'unusable';

const STATES: ReadonlySet<string> = new Set(['fresh', 'stale', 'unusable']);

/** Which entries a listing or a purge takes. */
export interface EntryFilter {
  /** A URL prefix or glob (`*` any run of characters, `?` one; the scheme is ignored): `api.example.com/v1/*`. */
  url?: string;
  /** One state or several. */
  state?: EntryState | EntryState[];
  /** Any test of the metadata. */
  where?: (entry: EntryInfo) => boolean;
}

/** @param hidden whether a Vary name's stored value is a digest not to show. */
export function describeEntry(key: string, record: StoredResponse, now: number, hidden: (name: string) => boolean): EntryInfo {
  const freshUntil = Number.isFinite(record.lifetime) ? freshUntilOf(record) : null;
  const usableUntil = record.expiresAt;
  const state: EntryState = freshUntil === null || now < freshUntil ? 'fresh' : usableUntil === null || now < usableUntil ? 'stale' : 'unusable';
  let varies: Record<string, string | null> | null = null;
  if (record.vary !== null) {
    // No prototype: a Vary name is the origin's to choose (`__proto__` included).
    varies = fieldMap<string | null>();
    for (let i = 0; i < record.vary.length; i += 2) {
      const name = record.vary[i] as string;
      const value = record.vary[i + 1] ?? null;
      varies[name] = value !== null && hidden(name) ? HIDDEN_VALUE : value;
    }
  }
  return {
    key,
    url: record.url,
    method: record.method,
    status: record.status,
    size: record.body.byteLength,
    storedAt: new Date(record.responseTime),
    freshUntil: freshUntil === null ? null : new Date(freshUntil),
    usableUntil: usableUntil === null ? null : new Date(usableUntil),
    state,
    varies,
    tags: [...record.tags],
  };
}

/** The filter as one test; a TypeError names what is wrong with it. */
export function compileFilter(filter: EntryFilter | undefined, name: string): (entry: EntryInfo) => boolean {
  if (filter === undefined) return () => true;
  if (filter === null || typeof filter !== 'object') throw new TypeError(`${name} must be an object { url, state, where }`);
  const { url, state, where } = filter;
  if (url !== undefined && (typeof url !== 'string' || url === '')) throw new TypeError(`${name}.url must be a URL prefix or glob`);
  const states = state === undefined ? undefined : Array.isArray(state) ? state : [state];
  if (states?.some((one) => !STATES.has(one))) throw new TypeError(`${name}.state must be fresh, stale or unusable (or an array of them)`);
  if (where !== undefined && typeof where !== 'function') throw new TypeError(`${name}.where must be a function`);
  const matches = url === undefined ? undefined : compileGlob(url);
  return (entry) =>
    (matches === undefined || matches(entry.url)) && (states === undefined || states.includes(entry.state)) && (where === undefined || where(entry));
}
