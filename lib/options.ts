/**
 * The options of `createCache`, validated once: a bad value throws a
 * TypeError naming the option and the value, at construction time.
 */
import { type Clock, isClock, systemClock } from './clock.js';
import { describe } from './describe.js';
import type { Logger } from './diagnostics.js';
import type { BodyKeyMode } from './policy/body.js';
import { compileGlob, type UrlMatcher } from './policy/glob.js';
import type { ResponseHeaders } from './policy/headers.js';
import type { KeyFunction } from './policy/key.js';
import type { UrlPolicy } from './policy/url.js';
import { RECORDED_METHODS, type RecordingMode, type RecordingOptions, type ResolvedRecording, resolveRecording } from './recording.js';
import { type Compression, type CompressionCodec, codecAvailable } from './records/compression.js';
import { assertStorage, type Storage } from './storage/contract.js';
import { MemoryStorage, type MemoryStorageOptions } from './storage/memory.js';
import { timeoutsInMs } from './timeouts.js';

/** Seconds, `'never'`, or an absolute `Date`. */
export type Expiration = number | 'never' | Date;
/** An expiration, or `'no-store'`: do not cache matching URLs at all. */
export type UrlExpiration = Expiration | 'no-store';

export interface FilterInput {
  method: string;
  /** The request URL (normalized, ignored parameters redacted). */
  url: string;
  status: number;
  headers: Readonly<ResponseHeaders>;
}

export interface CacheOptions {
  /** Where entries live. Default: a new `MemoryStorage()` (on the cache's clock). */
  storage?: Storage;
  /** Prefix for the partitions, so that several caches can share one storage. */
  namespace?: string;
  /** Lifetime for responses without explicit freshness (or for all, with `cacheControl: false`). */
  expireAfter?: Expiration;
  /** URL glob → expiration; the first match wins; `'no-store'` disables caching for matches. */
  urlsExpireAfter?: Record<string, UrlExpiration> | Map<string, UrlExpiration>;
  /** Honour response caching headers (RFC 9111). Default: true. */
  cacheControl?: boolean;
  /** RFC 9111 cache type. Default: `'shared'`, safe for a server handling many users. */
  type?: 'private' | 'shared';
  /** Methods whose responses are cached. Default: `['GET', 'HEAD']`. */
  methods?: string[];
  /** Status codes whose responses are stored. Default: any the RFC allows (see docs/options.md). */
  statuses?: number[];
  /** Request headers that become part of the key. */
  matchHeaders?: string[];
  /**
   * Query parameters, headers and body fields left out of the key (exact names), and never shown:
   * their values are redacted (whatever their case) in stored data, events, logs, listings and exports.
   */
  ignoredParameters?: string[];
  /**
   * How request bodies of methods cached on purpose are keyed: `'exact'` (default), their bytes;
   * `'canonical'`, JSON by its canonical text (members sorted, whitespace out, numbers and strings
   * as written) and forms by their fields sorted. Both leave `ignoredParameters` out.
   */
  bodyKey?: BodyKeyMode;
  /** Custom key function. */
  key?: KeyFunction;
  /** Decide per response whether to store it. */
  filter?: (response: FilterInput) => boolean;
  /** Serve stale entries when the origin fails: true (any age), false, or seconds past staleness. */
  staleIfError?: boolean | number;
  /** Serve stale entries at once and refresh them in the background: true, false, or seconds. */
  staleWhileRevalidate?: boolean | number;
  /**
   * Refresh an entry in the background when a request finds it in the last part of its freshness
   * lifetime, this fraction of it (0.1: the last tenth), so that its users never see it expire. Default: off.
   */
  refreshAhead?: number;
  /** Bodies larger than this many bytes stream through unstored. Default: 10 MiB. */
  maxEntrySize?: number;
  /** Requests with Authorization or Cookie: `'bypass'` (default) or `'per-credential'` keys. */
  credentialed?: 'bypass' | 'per-credential';
  /** Receives warnings and debug messages; nothing is printed by default. */
  logger?: Logger;
  /** A response header listing tags to store each response with (`'cache-tag'`, `'surrogate-key'`...), for `cache.delete({ tags })`. */
  cacheTagsHeader?: string;
  /**
   * Targeted cache-control fields this cache obeys (RFC 9213), first present wins over Cache-Control
   * and Expires. Default: `['CDN-Cache-Control']` for a shared cache, none for a private one.
   */
  targetedCacheControl?: string[];
  /** Skip the storage after this many consecutive failures, for `cooldown` seconds (then one call probes it). Default: 5 failures, 5 s. */
  circuitBreaker?: { failures?: number; cooldown?: number };
  /**
   * Deadlines of the cache's storage calls, in seconds, whatever the storage: `read` for calls on the
   * request path (a call past it is a miss), `write` for writes (dropped past it), `close` for `close()`
   * and `settled()` as a whole. Default: `{ read: 0.5, write: 5, close: 10 }`.
   */
  timeouts?: { read?: number; write?: number; close?: number };
  /**
   * The moment by which the work a request leaves behind must end (a Date, or epoch ms), asked as each
   * request takes a lease: a lease taken to collapse misses across instances never outlives it, nor
   * does a wait for another instance's lease. In AWS Lambda, the invocation's end (see docs/lambda.md).
   */
  deadline?: () => Date | number | undefined;
  /**
   * A memory tier in front of `storage` (a MemoryStorage, or its options). Default: none. `syncEvery`
   * (seconds, default 2): most time memory answers before checking for purges made by other processes.
   */
  memoryTier?: MemoryStorage | (MemoryStorageOptions & { syncEvery?: number }) | false;
  /**
   * Collapse misses across processes (AWS Lambda instances) that share a storage offering leases
   * (DynamoDB): one fetches, the others wait up to `wait` seconds for its result; a crashed holder
   * blocks no one longer than `lease` seconds. Default: off.
   */
  coalesceAcrossInstances?: boolean | { lease?: number; wait?: number };
  /** A pass-through: no lookup, no storage I/O (also when the environment has CACHETTE_DISABLED=1). */
  disabled?: boolean;
  /** The time the cache reads: ages, expiries, deadlines, cool-downs, waits. Default: the system's. Tests inject `FakeClock` (cachette/testing). */
  clock?: Clock;
  /**
   * Compress what is stored in a storage that keeps bytes (SQLite, Redis, DynamoDB; a MemoryStorage keeps
   * records as they are): `{ codec, threshold }` or `false`. Default: deflate for records of 1 KiB and more,
   * kept compressed only when that saves at least a tenth (see docs/storages.md, "Compressed values").
   */
  compression?: false | { codec?: CompressionCodec; threshold?: number };
  /**
   * Records traffic for tests and replays it (see docs/testing.md): a mode, or `{ mode, exclude }`.
   * `CACHETTE_RECORDING` in the environment chooses the mode of a cache that has this option.
   */
  recording?: RecordingMode | RecordingOptions;
}

export interface ResolvedOptions {
  storage: Storage;
  namespace: string | undefined;
  expireAfter: Expiration | undefined;
  urlRules: Array<{ pattern: string; matches: UrlMatcher; expiration: UrlExpiration }>;
  cacheControl: boolean;
  shared: boolean;
  methods: ReadonlySet<string>;
  statuses: ReadonlySet<number> | undefined;
  matchHeaders: readonly string[];
  /** Query and body field names, exact (they are case-sensitive). */
  ignoredParameters: ReadonlySet<string>;
  /** The same names, lower-cased, for request header fields (case-insensitive). */
  ignoredHeaders: ReadonlySet<string>;
  /** What the key ignores of a URL, and what is redacted from every URL that leaves the cache. */
  urls: UrlPolicy;
  bodyKey: BodyKeyMode;
  key: KeyFunction | undefined;
  filter: ((response: FilterInput) => boolean) | undefined;
  /** Windows in ms past staleness: 0 = only what the response allows, Infinity = any. */
  staleIfError: number;
  staleWhileRevalidate: number;
  /** The fraction of a freshness lifetime, at its end, in which a hit refreshes the entry in the background; 0: never. */
  refreshAhead: number;
  maxEntrySize: number;
  perCredential: boolean;
  logger: Logger | undefined;
  /** Lower-case; undefined when responses are not tagged by a header. */
  cacheTagsHeader: string | undefined;
  breakerFailures: number;
  breakerCooldownMs: number;
  /** Storage call deadlines, ms. */
  timeouts: { readMs: number; writeMs: number; closeMs: number };
  deadline: (() => Date | number | undefined) | undefined;
  /** Lower-case field names. */
  targetedCacheControl: readonly string[];
  memoryTier: MemoryStorage | MemoryStorageOptions | undefined;
  /** How often a memory tier checks for purges made elsewhere, ms. */
  memoryTierSyncMs: number;
  /** Cross-instance coalescing, in ms; undefined when off. */
  crossInstance: { leaseMs: number; waitMs: number } | undefined;
  disabled: boolean;
  clock: Clock;
  /** How records are compressed for a storage that keeps bytes; undefined: never. */
  compression: Compression | undefined;
  /** The recording mode in force, undefined when the cache is an ordinary HTTP cache. */
  recording: ResolvedRecording | undefined;
}

const DEFAULT_MAX_ENTRY_SIZE = 10 * 1024 * 1024;

const KNOWN_OPTIONS = new Set<string>([
  'storage',
  'recording',
  'compression',
  'namespace',
  'expireAfter',
  'urlsExpireAfter',
  'cacheControl',
  'type',
  'methods',
  'statuses',
  'matchHeaders',
  'cacheTagsHeader',
  'ignoredParameters',
  'bodyKey',
  'key',
  'filter',
  'staleIfError',
  'staleWhileRevalidate',
  'refreshAhead',
  'maxEntrySize',
  'credentialed',
  'logger',
  'circuitBreaker',
  'timeouts',
  'deadline',
  'targetedCacheControl',
  'memoryTier',
  'coalesceAcrossInstances',
  'disabled',
  'clock',
]);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function resolveOptions(options: CacheOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`createCache options must be an object, got ${describe(options)}`);
  }
  for (const name of Object.keys(options)) {
    const renamed = RENAMED_OPTIONS[name];
    if (renamed !== undefined) throw new TypeError(renamed);
    if (!KNOWN_OPTIONS.has(name)) throw new TypeError(`unknown option ${JSON.stringify(name)}`);
  }
  const deadline = options.deadline;
  if (deadline !== undefined && typeof deadline !== 'function') {
    throw new TypeError(`deadline must be a function returning a Date or epoch ms, got ${describe(deadline)}`);
  }

  const clock = options.clock ?? systemClock;
  if (!isClock(clock)) throw new TypeError(`clock must be a Clock ({ now, monotonic, setTimer }), got ${describe(clock)}`);

  // The default storage dates what it holds by the cache's clock.
  const storage = options.storage ?? new MemoryStorage({ clock });
  assertStorage(storage);

  const namespace = options.namespace;
  if (namespace !== undefined && (typeof namespace !== 'string' || !/^[\w.:/-]{1,100}$/.test(namespace))) {
    throw new TypeError(`namespace must be 1 to 100 letters, digits or "_.:/-", got ${describe(namespace)}`);
  }

  const expireAfter = options.expireAfter === undefined ? undefined : checkExpiration(options.expireAfter, 'expireAfter', false);
  const urlRules = resolveUrlRules(options.urlsExpireAfter);

  const cacheControl = options.cacheControl ?? true;
  if (typeof cacheControl !== 'boolean') throw new TypeError(`cacheControl must be a boolean, got ${describe(cacheControl)}`);
  if (!cacheControl && expireAfter === undefined && urlRules.length === 0) {
    throw new TypeError('cacheControl: false ignores response headers, so it needs expireAfter or urlsExpireAfter to know how long to keep responses');
  }

  const type = options.type ?? 'shared';
  if (type !== 'shared' && type !== 'private') throw new TypeError(`type must be "private" or "shared", got ${describe(type)}`);

  const recording = resolveRecording(options.recording, process.env['CACHETTE_RECORDING']);

  const methods = checkStringList(options.methods ?? (recording === undefined ? ['GET', 'HEAD'] : RECORDED_METHODS), 'methods', (method) =>
    TOKEN.test(method),
  ).map((m) => m.toUpperCase());
  if (methods.length === 0) throw new TypeError('methods must name at least one method (to disable the cache, do not install it)');

  let statuses: Set<number> | undefined;
  if (options.statuses !== undefined) {
    if (!Array.isArray(options.statuses)) throw new TypeError(`statuses must be an array of status codes, got ${describe(options.statuses)}`);
    for (const status of options.statuses) {
      if (!Number.isInteger(status) || status < 200 || status > 599) {
        throw new TypeError(`statuses must hold final status codes (200 to 599), got ${describe(status)}`);
      }
    }
    statuses = new Set(options.statuses);
  }

  const matchHeaders = checkStringList(options.matchHeaders ?? [], 'matchHeaders', (name) => TOKEN.test(name)).map((h) => h.toLowerCase());
  const cacheTagsHeader = options.cacheTagsHeader;
  if (cacheTagsHeader !== undefined && (typeof cacheTagsHeader !== 'string' || !TOKEN.test(cacheTagsHeader))) {
    throw new TypeError(`cacheTagsHeader must be a header name, got ${describe(cacheTagsHeader)}`);
  }
  const ignoredParameters = checkStringList(options.ignoredParameters ?? [], 'ignoredParameters', (name) => name !== '');
  const bodyKey = options.bodyKey ?? 'exact';
  if (bodyKey !== 'exact' && bodyKey !== 'canonical') throw new TypeError(`bodyKey must be "exact" or "canonical", got ${describe(bodyKey)}`);

  if (options.key !== undefined && typeof options.key !== 'function') throw new TypeError(`key must be a function, got ${describe(options.key)}`);
  if (options.filter !== undefined && typeof options.filter !== 'function') throw new TypeError(`filter must be a function, got ${describe(options.filter)}`);

  const maxEntrySize = options.maxEntrySize ?? DEFAULT_MAX_ENTRY_SIZE;
  if (!Number.isInteger(maxEntrySize) || maxEntrySize < 0) {
    throw new TypeError(`maxEntrySize must be a whole number of bytes, got ${describe(maxEntrySize)}`);
  }

  // A recording keeps credentialed traffic too, each credential's apart (see KeyPolicy for the fields it ignores).
  const credentialed = options.credentialed ?? (recording === undefined ? 'bypass' : 'per-credential');
  if (credentialed !== 'bypass' && credentialed !== 'per-credential') {
    throw new TypeError(`credentialed must be "bypass" or "per-credential", got ${describe(credentialed)}`);
  }

  const logger = options.logger;
  if (logger !== undefined && (logger === null || typeof logger !== 'object')) {
    throw new TypeError(`logger must be an object with debug/info/warn/error methods, got ${describe(logger)}`);
  }

  const breaker = options.circuitBreaker ?? {};
  if (breaker === null || typeof breaker !== 'object') {
    throw new TypeError(`circuitBreaker must be an object { failures, cooldown }, got ${describe(breaker)}`);
  }
  const breakerFailures = breaker.failures ?? 5;
  if (!Number.isInteger(breakerFailures) || breakerFailures < 1) {
    throw new TypeError(`circuitBreaker.failures must be a positive integer, got ${describe(breakerFailures)}`);
  }
  const breakerCooldown = breaker.cooldown ?? 5;
  if (typeof breakerCooldown !== 'number' || !Number.isFinite(breakerCooldown) || breakerCooldown < 0) {
    throw new TypeError(`circuitBreaker.cooldown must be seconds, got ${describe(breakerCooldown)}`);
  }

  const targetedCacheControl = checkStringList(
    options.targetedCacheControl ?? (type === 'shared' ? ['CDN-Cache-Control'] : []),
    'targetedCacheControl',
    (name) => TOKEN.test(name),
  ).map((name) => name.toLowerCase());

  const memoryTier = options.memoryTier === undefined || options.memoryTier === false ? undefined : options.memoryTier;
  if (memoryTier !== undefined && (memoryTier === null || typeof memoryTier !== 'object')) {
    throw new TypeError(`memoryTier must be a MemoryStorage, its options ({ maxBytes, maxEntries }) or false, got ${describe(memoryTier)}`);
  }
  let memoryTierSyncMs = 2000;
  let memoryTierFront: MemoryStorage | MemoryStorageOptions | undefined = memoryTier;
  if (memoryTier !== undefined && !(memoryTier instanceof MemoryStorage)) {
    const { syncEvery, ...front } = memoryTier as MemoryStorageOptions & { syncEvery?: unknown };
    if (syncEvery !== undefined) {
      if (typeof syncEvery !== 'number' || Number.isNaN(syncEvery) || syncEvery < 0) {
        throw new TypeError(`memoryTier.syncEvery must be seconds (0 or more, or Infinity), got ${describe(syncEvery)}`);
      }
      memoryTierSyncMs = syncEvery * 1000;
    }
    new MemoryStorage(front); // validates the options now
    memoryTierFront = front;
  }

  const disabled = options.disabled ?? false;
  if (typeof disabled !== 'boolean') throw new TypeError(`disabled must be a boolean, got ${describe(disabled)}`);

  return {
    clock,
    recording,
    compression: resolveCompression(options.compression),
    storage,
    namespace,
    targetedCacheControl,
    memoryTier: memoryTierFront,
    memoryTierSyncMs,
    crossInstance: resolveCrossInstance(options.coalesceAcrossInstances),
    disabled: disabled || process.env['CACHETTE_DISABLED'] === '1' || process.env['CACHETTE_DISABLED'] === 'true',
    expireAfter,
    urlRules,
    cacheControl,
    shared: type === 'shared',
    methods: new Set(methods),
    statuses,
    matchHeaders,
    ignoredParameters: new Set(ignoredParameters),
    ignoredHeaders: new Set(ignoredParameters.map((name) => name.toLowerCase())),
    urls: { ignored: new Set(ignoredParameters), redacted: new Set(ignoredParameters.map((name) => name.toLowerCase())) },
    bodyKey,
    key: options.key,
    filter: options.filter,
    staleIfError: checkWindow(options.staleIfError, 'staleIfError'),
    staleWhileRevalidate: checkWindow(options.staleWhileRevalidate, 'staleWhileRevalidate'),
    refreshAhead: checkFraction(options.refreshAhead, 'refreshAhead'),
    maxEntrySize,
    perCredential: credentialed === 'per-credential',
    logger,
    cacheTagsHeader: cacheTagsHeader?.toLowerCase(),
    breakerFailures,
    breakerCooldownMs: breakerCooldown * 1000,
    timeouts: resolveTimeouts(options.timeouts),
    deadline,
  };
}

/** Options of 0.1 whose name changed with their meaning in 1.0: naming the old one is an error that says what to write. */
const RENAMED_OPTIONS: Record<string, string> = {
  storageTimeout: 'storageTimeout (milliseconds) became timeouts (seconds) in 1.0: { read: 0.5, write: 5, close: 10 }',
};

const DEFAULT_TIMEOUTS = { read: 0.5, write: 5, close: 10 };

/** The default, from `npm run bench`'s compression figures (docs/storages.md). */
export const DEFAULT_COMPRESSION: Compression = Object.freeze({ codec: 'deflate', threshold: 1024, minSaving: 0.1 });

function resolveCompression(value: CacheOptions['compression']): Compression | undefined {
  if (value === false) return undefined;
  if (value === undefined) return DEFAULT_COMPRESSION;
  if (value === null || typeof value !== 'object') throw new TypeError(`compression must be false or { codec, threshold }, got ${describe(value)}`);
  for (const name of Object.keys(value)) {
    if (name !== 'codec' && name !== 'threshold') throw new TypeError(`unknown option compression.${name} (known: codec, threshold)`);
  }
  const codec = value.codec ?? DEFAULT_COMPRESSION.codec;
  if (codec !== 'brotli' && codec !== 'deflate' && codec !== 'zstd') {
    throw new TypeError(`compression.codec must be "brotli", "deflate" or "zstd", got ${describe(codec)}`);
  }
  if (!codecAvailable(codec)) throw new TypeError(`compression.codec "${codec}" needs a Node that has it (zstd: 22.15 or later; this is ${process.version})`);
  const threshold = value.threshold ?? DEFAULT_COMPRESSION.threshold;
  if (!Number.isInteger(threshold) || threshold < 0) throw new TypeError(`compression.threshold must be a whole number of bytes, got ${describe(threshold)}`);
  return Object.freeze({ codec, threshold, minSaving: DEFAULT_COMPRESSION.minSaving });
}

function resolveTimeouts(value: CacheOptions['timeouts']): ResolvedOptions['timeouts'] {
  const ms = timeoutsInMs('', value, DEFAULT_TIMEOUTS);
  return { readMs: ms.read, writeMs: ms.write, closeMs: ms.close };
}

const DEFAULT_LEASE_S = 10;
const DEFAULT_WAIT_S = 5;

function resolveCrossInstance(value: CacheOptions['coalesceAcrossInstances']): ResolvedOptions['crossInstance'] {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { leaseMs: DEFAULT_LEASE_S * 1000, waitMs: DEFAULT_WAIT_S * 1000 };
  if (value === null || typeof value !== 'object') {
    throw new TypeError(`coalesceAcrossInstances must be a boolean or { lease, wait } in seconds, got ${describe(value)}`);
  }
  const lease = value.lease ?? DEFAULT_LEASE_S;
  const wait = value.wait ?? DEFAULT_WAIT_S;
  for (const [name, seconds] of [
    ['lease', lease],
    ['wait', wait],
  ] as const) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
      throw new TypeError(`coalesceAcrossInstances.${name} must be a positive number of seconds, got ${describe(seconds)}`);
    }
  }
  return { leaseMs: lease * 1000, waitMs: wait * 1000 };
}

export function checkExpiration(value: unknown, name: string, allowNoStore: true): UrlExpiration;
export function checkExpiration(value: unknown, name: string, allowNoStore: false): Expiration;
export function checkExpiration(value: unknown, name: string, allowNoStore: boolean): UrlExpiration {
  if (value === 'never') return value;
  if (allowNoStore && value === 'no-store') return value;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value;
  const choices = allowNoStore ? 'seconds, "never", "no-store" or a Date' : 'seconds, "never" or a Date';
  throw new TypeError(`${name} must be ${choices}, got ${describe(value)}`);
}

function resolveUrlRules(rules: CacheOptions['urlsExpireAfter']): ResolvedOptions['urlRules'] {
  if (rules === undefined) return [];
  if (rules === null || typeof rules !== 'object' || Array.isArray(rules)) {
    throw new TypeError(`urlsExpireAfter must be an object (or a Map) of URL glob → expiration, got ${describe(rules)}`);
  }
  const pairs = rules instanceof Map ? [...rules.entries()] : Object.entries(rules);
  return pairs.map(([pattern, expiration]) => {
    if (typeof pattern !== 'string' || pattern === '') throw new TypeError(`urlsExpireAfter keys must be URL globs, got ${describe(pattern)}`);
    return {
      pattern,
      matches: compileGlob(pattern),
      expiration: checkExpiration(expiration, `urlsExpireAfter[${JSON.stringify(pattern)}]`, true),
    };
  });
}

function checkStringList(value: unknown, name: string, valid: (item: string) => boolean): string[] {
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of strings, got ${describe(value)}`);
  for (const item of value) {
    if (typeof item !== 'string' || !valid(item)) throw new TypeError(`${name} must hold valid names, got ${describe(item)}`);
  }
  return value as string[];
}

function checkFraction(value: unknown, name: string): number {
  if (value === undefined || value === 0 || value === false) return 0;
  if (typeof value !== 'number' || !(value > 0 && value < 1)) {
    throw new TypeError(`${name} must be a fraction of the freshness lifetime, above 0 and below 1 (0.1: its last tenth), got ${describe(value)}`);
  }
  return value;
}

export function checkWindow(value: unknown, name: string): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return Number.POSITIVE_INFINITY;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value * 1000;
  throw new TypeError(`${name} must be a boolean or seconds, got ${describe(value)}`);
}

/**
 * The lifetime configured for a URL, in ms: the request's own `expireAfter`
 * if it has one, else the first matching urlsExpireAfter rule, else
 * expireAfter. `'no-store'` when a rule says not to cache.
 */
export function configuredLifetime(options: ResolvedOptions, url: string, now: number, requested?: UrlExpiration): number | 'no-store' | undefined {
  if (requested !== undefined) return toLifetime(requested, now);
  for (const rule of options.urlRules) {
    if (rule.matches(url)) return toLifetime(rule.expiration, now);
  }
  return options.expireAfter === undefined ? undefined : toLifetime(options.expireAfter, now);
}

function toLifetime(expiration: UrlExpiration, now: number): number | 'no-store' {
  if (expiration === 'no-store') return 'no-store';
  if (expiration === 'never') return Number.POSITIVE_INFINITY;
  if (expiration instanceof Date) return Math.max(0, expiration.getTime() - now);
  return expiration * 1000;
}
