/** Helpers shared by the specs. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import FakeTimers from '@sinonjs/fake-timers';
import { Origin } from '../fixtures/origin.js';
import { createCache, type HttpCache } from '../lib/cache.js';
import type { CacheOptions } from '../lib/options.js';
import { RedisStorage } from '../lib/storage/redis.js';

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

/** Starts an origin before each test and closes it (and the caches made) after. */
export function useOrigin(): { origin: Origin; cache: (options?: CacheOptions) => HttpCache } {
  const state = { origin: undefined as unknown as Origin, caches: [] as HttpCache[] };
  beforeEach(async () => {
    state.origin = await Origin.start();
  });
  afterEach(async () => {
    await Promise.all(state.caches.splice(0).map((cache) => cache.close()));
    await state.origin.close();
  });
  return {
    get origin() {
      return state.origin;
    },
    cache(options?: CacheOptions) {
      const cache = createCache(withTestStorage(options));
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

/** An HTTP-date `seconds` from now (negative: in the past). */
export function httpDate(seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toUTCString();
}

/**
 * The time the specs of a describe block see: Date is stopped at the start of
 * each test and moves only when told (`advance`); timers stay real. The origin
 * dates its responses by the same clock. Instead of sleeping for an entry to
 * go stale, a spec advances the clock past its freshness.
 */
export function useClock(): { advance: (seconds: number) => void } {
  let clock: ReturnType<typeof FakeTimers.install> | undefined;
  beforeEach(() => {
    // On a whole second: the origin's Date header (whole seconds) then says exactly when a response was made.
    clock = FakeTimers.install({ toFake: ['Date'], now: Math.floor(Date.now() / 1000) * 1000 });
  });
  afterEach(() => {
    clock?.uninstall();
    clock = undefined;
  });
  return {
    advance(seconds: number) {
      if (clock === undefined) throw new Error('useClock(): advance() outside a test');
      clock.setSystemTime(clock.now + seconds * 1000);
    },
  };
}
