/** Helpers shared by the specs. */
import { createCache, type HttpCache } from '../lib/cache.js';
import type { CacheOptions } from '../lib/options.js';
import { Origin } from '../fixtures/origin.js';

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
      const cache = createCache(options);
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
