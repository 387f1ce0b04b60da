/** Helpers shared by the specs. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Origin } from '../fixtures/origin.js';
import { createCache, type HttpCache } from '../lib/cache.js';
import type { CacheOptions } from '../lib/options.js';
import { RedisStorage } from '../lib/storage/redis.js';
import { FakeClock } from '../lib/testing.js';

/**
 * Flags for every Node process a spec starts. Node 24 can deadlock while a
 * process exits, if V8 is compiling in the background
 * (nodejs/node#54918). The child never ends, and its spec times out: 2–4% of
 * runs of the docs' conformance block hung so on Node 24.21, none on Node 20.
 * With V8 on a single thread, nothing is left running to deadlock.
 */
export const NODE_CHILD_FLAGS: readonly string[] = ['--single-threaded'];

export const BIN = fileURLToPath(new URL('../lib/cli/bin.js', import.meta.url));

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `cachette` command as users run it: the real bin, in a process of its own. */
export function cachette(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...NODE_CHILD_FLAGS, BIN, ...args],
      { env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', ...options.env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number((error as { code?: number }).code), stdout, stderr }),
    );
    child.stdin?.end(options.input ?? '');
  });
}

/**
 * With CACHETTE_TEST_STORAGE=redis (scripts/test.mjs runs the HTTP specs so),
 * a cache made without a storage gets a RedisStorage on the suite's
 * redis-server (spec/hooks.ts starts it), under a prefix of its own.
 */
function withTestStorage(options: CacheOptions | undefined): CacheOptions | undefined {
  const url = process.env['CACHETTE_TEST_REDIS_URL'];
  if (process.env['CACHETTE_TEST_STORAGE'] !== 'redis' || options?.storage !== undefined) return options;
  if (url === undefined) throw new Error('CACHETTE_TEST_STORAGE=redis without a server: spec/hooks.ts starts one');
  return { ...options, storage: new RedisStorage({ url, keyPrefix: `spec-${randomUUID()}:` }) };
}

/**
 * Starts an origin before each test and closes it (and the caches made)
 * after. With `{ clock: true }`, each test has a FakeClock (`env.clock`),
 * stopped on a whole second (an HTTP date then says exactly when a response
 * was made), that the caches made and the origin's Date headers read: a spec
 * moves it (`await env.clock.advance(seconds)`) where it would have slept.
 */
export function useOrigin(options: { clock?: boolean } = {}): {
  origin: Origin;
  clock: FakeClock;
  cache: (options?: CacheOptions) => HttpCache;
} {
  const state = { origin: undefined as unknown as Origin, caches: [] as HttpCache[], clock: undefined as FakeClock | undefined };
  beforeEach(async () => {
    state.origin = await Origin.start();
    if (options.clock === true) {
      state.clock = new FakeClock(Math.floor(Date.now() / 1000) * 1000);
      state.origin.clock = state.clock;
    }
  });
  afterEach(async () => {
    await Promise.all(state.caches.splice(0).map((cache) => cache.close()));
    await state.origin.close();
  });
  return {
    get origin() {
      return state.origin;
    },
    get clock() {
      if (state.clock === undefined) throw new Error('useOrigin({ clock: true }) gives each test a clock');
      return state.clock;
    },
    cache(cacheOptions?: CacheOptions) {
      const withClock = state.clock === undefined ? cacheOptions : { clock: state.clock, ...cacheOptions };
      const cache = createCache(withTestStorage(withClock));
      state.caches.push(cache);
      return cache;
    },
  };
}

export interface Fetched {
  status: number;
  body: string;
  cacheStatus: string | null;
  headers: Headers;
}

/** Fetches through the cache and reads the whole body. */
export async function fetchText(cache: HttpCache, url: string, init?: Parameters<HttpCache['fetch']>[1]): Promise<Fetched> {
  const response = await cache.fetch(url, init);
  const body = await response.text();
  return { status: response.status, body, cacheStatus: response.headers.get('cache-status'), headers: response.headers as unknown as Headers };
}

/**
 * The lookups a cache decides, counted as they happen (`cache.observe`): a
 * request that follows another under way has registered as a follower by the
 * time its decision is counted, so `reached(n)` orders requests without a clock.
 */
export function decisions(cache: HttpCache): { readonly count: number; reached(n: number): Promise<void> } {
  let count = 0;
  cache.observe(() => {
    count += 1;
  });
  return {
    get count() {
      return count;
    },
    async reached(n: number) {
      while (count < n) await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

/**
 * Moves `clock` on, `step` seconds at a time, until `work` settles: for work
 * whose deadlines run on the clock (a storage that hangs, a wait for a lease).
 */
export async function drive<T>(clock: FakeClock, work: Promise<T>, step = 0.05): Promise<T> {
  let settled = false;
  void work.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  while (!settled) await clock.advance(step);
  return work;
}

/** An HTTP-date `seconds` from `now` (negative: in the past). */
export function httpDate(seconds: number, now = Date.now()): string {
  return new Date(now + seconds * 1000).toUTCString();
}
