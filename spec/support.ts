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
