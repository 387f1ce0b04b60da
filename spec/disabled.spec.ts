import { expect } from 'chai';
import { respond } from '../fixtures/origin.js';
import { createCache } from '../lib/cache.js';
import type { Storage } from '../lib/storage/contract.js';
import { fetchText, useOrigin } from './support.js';

const OPTIONAL = new Set(['capabilities', 'getSync', 'hold', 'getHeld', 'acquireLease', 'releaseLease', 'deleteExpired', 'deleteCreatedBefore']);

/** A storage that counts every call: a disabled cache must make none. */
function countingStorage(): { storage: Storage; calls: string[] } {
  const calls: string[] = [];
  const storage: Storage = {
    partition: (name) =>
      new Proxy(
        {},
        {
          // The core and the Map-like methods; it declares no capabilities, and offers none of their methods.
          get: (_target, property) =>
            OPTIONAL.has(String(property))
              ? undefined
              : (...args: unknown[]) => {
                  calls.push(`${name}.${String(property)}`);
                  void args;
                  return Promise.resolve(undefined);
                },
        },
      ) as never,
    close: async () => {},
  };
  return { storage, calls };
}

describe('disabled mode', () => {
  const env = useOrigin();

  beforeEach(() => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600' }, 'body'));
  });

  it('disabled: true is a pass-through: every request reaches the origin, no storage I/O, and the header says so', async () => {
    const { storage, calls } = countingStorage();
    const cache = env.cache({ storage, disabled: true });
    for (let i = 0; i < 3; i++) {
      const result = await fetchText(cache, `${env.origin.url}/a`);
      expect(result.body).to.equal('body');
      expect(result.cacheStatus).to.equal('cachette; fwd=bypass; detail=disabled');
    }
    await cache.settled();
    expect(env.origin.hits('/a')).to.equal(3);
    expect(calls.filter((call) => !call.endsWith('.then'))).to.deep.equal([]);
  });

  it('CACHETTE_DISABLED=1 in the environment disables it too', async () => {
    const previous = process.env['CACHETTE_DISABLED'];
    process.env['CACHETTE_DISABLED'] = '1';
    try {
      const cache = createCache();
      const result = await fetchText(cache, `${env.origin.url}/a`);
      await fetchText(cache, `${env.origin.url}/a`);
      expect(result.cacheStatus).to.equal('cachette; fwd=bypass; detail=disabled');
      expect(env.origin.hits('/a')).to.equal(2);
      await cache.close();
    } finally {
      if (previous === undefined) delete process.env['CACHETTE_DISABLED'];
      else process.env['CACHETTE_DISABLED'] = previous;
    }
  });
});
