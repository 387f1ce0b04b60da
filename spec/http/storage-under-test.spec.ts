/**
 * The HTTP specs run twice: on the default storage and, with
 * CACHETTE_TEST_STORAGE=redis (scripts/test.mjs), with every cache on a real
 * redis-server. This checks that the second run is what it says.
 */
import { expect } from 'chai';
import { rawPartitions } from '../../lib/cache.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { RedisStorage } from '../../lib/storage/redis.js';
import { useOrigin } from '../support.js';

describe('the storage under the HTTP specs', () => {
  const env = useOrigin();

  it(`is ${process.env['CACHETTE_TEST_STORAGE'] === 'redis' ? 'a RedisStorage' : 'a MemoryStorage'}`, () => {
    const expected = process.env['CACHETTE_TEST_STORAGE'] === 'redis' ? RedisStorage : MemoryStorage;
    expect(rawPartitions(env.cache()).storage).to.be.instanceOf(expected);
  });
});
