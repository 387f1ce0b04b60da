/**
 * Per-request control of the cache, without request headers (which would
 * also reach the origin): the `cachette` member of `cache.fetch`'s init or of
 * undici's dispatch options, and fetch's own `cache` mode. Validated once,
 * before any I/O: a bad value is a TypeError naming the member.
 */
import { describe } from '../describe.js';
import { checkExpiration, checkWindow, type UrlExpiration } from '../options.js';
import { isTag, MAX_TAGS } from '../records/tags.js';

/**
 * The Fetch standard's cache modes (https://fetch.spec.whatwg.org/#concept-request-cache-mode),
 * with this cache as fetch's HTTP cache.
 */
export type FetchCacheMode = 'default' | 'no-store' | 'reload' | 'no-cache' | 'force-cache' | 'only-if-cached';

/** What a caller may ask of the cache for one request. */
export interface RequestCacheOptions {
  /** A fetch cache mode; `cache.fetch` also reads fetch's own `init.cache`. */
  mode?: FetchCacheMode;
  /** Neither read nor write the cache for this request (the `no-store` mode). */
  bypass?: boolean;
  /** Fetch anew, unconditionally, and store the response (the `reload` mode). */
  refresh?: boolean;
  /** The lifetime for this response, in place of `expireAfter`/`urlsExpireAfter`; `'no-store'`: do not store it. */
  expireAfter?: UrlExpiration;
  /** The key to store and find this request under, in place of the computed one. */
  key?: string;
  /** Serve a stale entry if the origin fails: true (any staleness), false, or seconds; overrides the cache's option. */
  staleIfError?: boolean | number;
  /** Tags to store the response with (beside those of `cacheTagsHeader`), for `cache.delete({ tags })`. */
  tags?: readonly string[];
}

/** The validated form the interceptor works with (read-only; recognized by its class when it comes back). */
export class RequestControl {
  readonly mode: FetchCacheMode;
  readonly expireAfter: UrlExpiration | undefined;
  readonly key: string | undefined;
  /** Milliseconds past staleness, Infinity for any; undefined: the cache's option. */
  readonly staleIfError: number | undefined;
  readonly tags: readonly string[];

  constructor(mode: FetchCacheMode, expireAfter?: UrlExpiration, key?: string, staleIfError?: number, tags: readonly string[] = []) {
    this.mode = mode;
    this.expireAfter = expireAfter;
    this.key = key;
    this.staleIfError = staleIfError;
    this.tags = tags;
    Object.freeze(this);
  }
}

/** Most requests ask nothing: they share this object. */
export const NO_CONTROL = new RequestControl('default');

/**
 * The mode a recording gives the requests that ask for none (recording.ts):
 * the ones that answer from it take any stored response however old
 * (`force-cache`), the ones that record fetch anew (`reload`). A request's
 * own mode wins.
 */
export function recordingControl(mode: 'record' | 'replay' | 'replay-or-record' | 'update'): (control: RequestControl) => RequestControl {
  const fetchMode: FetchCacheMode = mode === 'record' || mode === 'update' ? 'reload' : 'force-cache';
  const plain = new RequestControl(fetchMode);
  return (control) => {
    if (control === NO_CONTROL) return plain;
    if (control.mode !== 'default') return control;
    return new RequestControl(fetchMode, control.expireAfter, control.key, control.staleIfError, control.tags);
  };
}

const MODES: ReadonlySet<string> = new Set(['default', 'no-store', 'reload', 'no-cache', 'force-cache', 'only-if-cached']);
const MEMBERS: ReadonlySet<string> = new Set(['mode', 'bypass', 'refresh', 'expireAfter', 'key', 'staleIfError', 'tags']);
const MAX_KEY_LENGTH = 1024;

/**
 * Validates the per-request options, with fetch's cache mode when the request
 * came through fetch. Several ways of naming a mode (`mode`, `bypass`,
 * `refresh`, fetch's `cache`) must agree.
 */
export function resolveControl(input: unknown, fetchMode?: unknown): RequestControl {
  if (input instanceof RequestControl && fetchMode === undefined) return input;
  // Most requests: nothing asked (no closure made for it: a hit's allocations are most of its cost, `npm run bench`).
  if ((input === undefined || input === null) && (fetchMode === undefined || fetchMode === 'default')) return NO_CONTROL;
  let mode: FetchCacheMode = 'default';
  let modeFrom = '';
  const ask = (wanted: FetchCacheMode, from: string): void => {
    if (wanted === 'default' || wanted === mode) return;
    if (mode !== 'default') throw new TypeError(`${from} conflicts with ${modeFrom}`);
    mode = wanted;
    modeFrom = from;
  };
  if (fetchMode !== undefined) {
    if (typeof fetchMode !== 'string' || !MODES.has(fetchMode))
      throw new TypeError(`cache must be a fetch cache mode (${[...MODES].join(', ')}), got ${describe(fetchMode)}`);
    ask(fetchMode as FetchCacheMode, `cache: "${fetchMode}"`);
  }
  if (input === undefined || input === null) return mode === 'default' ? NO_CONTROL : new RequestControl(mode);
  if (typeof input !== 'object' || Array.isArray(input)) throw new TypeError(`cachette must be an object of per-request options, got ${describe(input)}`);

  const options = input as Record<string, unknown>;
  for (const name of Object.keys(options)) {
    if (!MEMBERS.has(name)) throw new TypeError(`unknown per-request option cachette.${name} (known: ${[...MEMBERS].join(', ')})`);
  }
  if (options['mode'] !== undefined) {
    const value = options['mode'];
    if (typeof value !== 'string' || !MODES.has(value)) throw new TypeError(`cachette.mode must be one of ${[...MODES].join(', ')}, got ${describe(value)}`);
    ask(value as FetchCacheMode, `cachette.mode: "${value}"`);
  }
  for (const [name, wanted] of [
    ['bypass', 'no-store'],
    ['refresh', 'reload'],
  ] as const) {
    const value = options[name];
    if (value === undefined || value === false) continue;
    if (value !== true) throw new TypeError(`cachette.${name} must be a boolean, got ${describe(value)}`);
    ask(wanted, `cachette.${name}`);
  }

  const key = options['key'];
  if (key !== undefined && (typeof key !== 'string' || key === '' || key.length > MAX_KEY_LENGTH)) {
    throw new TypeError(`cachette.key must be a non-empty string of at most ${MAX_KEY_LENGTH} characters, got ${describe(key)}`);
  }
  const expireAfter = options['expireAfter'] === undefined ? undefined : checkExpiration(options['expireAfter'], 'cachette.expireAfter', true);
  const staleIfError = options['staleIfError'] === undefined ? undefined : checkWindow(options['staleIfError'], 'cachette.staleIfError');
  const tags = options['tags'];
  if (tags !== undefined && (!Array.isArray(tags) || tags.length > MAX_TAGS || !tags.every(isTag))) {
    throw new TypeError(`cachette.tags must be an array of at most ${MAX_TAGS} tags (1 to 128 printable characters, no space or comma), got ${describe(tags)}`);
  }
  return new RequestControl(mode, expireAfter, key, staleIfError, tags === undefined ? [] : Object.freeze([...(tags as readonly string[])]));
}

// undici's dispatch options (request, stream, pipeline, fetch's dispatcher) carry the per-request options too.
declare module 'undici' {
  namespace Dispatcher {
    interface DispatchOptions {
      /** cachette's per-request options (see docs/options.md, "Per request"); never sent to the origin. */
      cachette?: RequestCacheOptions;
    }
  }
}
