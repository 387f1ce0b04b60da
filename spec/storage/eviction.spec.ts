/**
 * A storage that evicts (an LRU in memory, Redis under allkeys-lru) drops
 * what is least used first: the indexes beside the responses — a tag's
 * index, a redirect's alias — which nothing reads on the request path. A
 * purge by tag, and the deletion of a URL with the redirects leading to it,
 * must still reach every response stored: on such a storage they read the
 * responses themselves.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { type RedisServer, startRedis } from '../../fixtures/redis-server.js';
import type { HttpCache } from '../../lib/cache.js';
import { partitionNames } from '../../lib/records/partitions.js';
import type { Storage } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { RedisStorage } from '../../lib/storage/redis.js';
import { fetchText, useOrigin } from '../support.js';

describe('purges on a storage that evicts', function () {
  this.timeout(60_000);
  const env = useOrigin();

  beforeEach(() => {
    env.origin.route('/tagged', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'cache-tag': 't3' });
      res.end(`tagged ${req.url}`);
    });
    env.origin.route('/target', respond(200, { 'cache-control': 'max-age=600' }, 'target'));
    env.origin.route('/hop', (_req, res) => {
      res.writeHead(301, { 'cache-control': 'max-age=600', location: '/target' });
      res.end();
    });
    env.origin.route('/filler', respond(200, { 'cache-control': 'max-age=600' }, 'f'.repeat(2000)));
  });

  /** Tagged responses, redirects to /target, then enough of everything else read often to push the indexes out (uncompressed: the fillers are one letter repeated). */
  async function fill(cache: HttpCache, evicted: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 15; i++) await fetchText(cache, `${env.origin.url}/tagged?n=${i}`);
    for (let i = 0; i < 20; i++) await fetchText(cache, `${env.origin.url}/hop?n=${i}`, { redirect: 'manual' });
    await fetchText(cache, `${env.origin.url}/target`);
    await cache.settled();
    // Until the storage evicts an index: Redis's LRU is approximate, and what the server already holds varies, so
    // the rounds go on well past the ~40 KB × 100 that its 4 MB bound takes (each stops as soon as it evicts).
    for (let round = 0; round < 250 && !(await evicted()); round++) {
      for (let i = 0; i < 20; i++) await fetchText(cache, `${env.origin.url}/filler?r=${round}&n=${i}`);
      // The responses are read (recently used); the indexes never are.
      for (let i = 0; i < 15; i++) await fetchText(cache, `${env.origin.url}/tagged?n=${i}`);
      for (let i = 0; i < 20; i++) await fetchText(cache, `${env.origin.url}/hop?n=${i}`, { redirect: 'manual' });
      await cache.settled();
    }
    expect(await evicted(), 'an index was evicted while its responses stayed').to.equal(true);
  }

  async function expectPurged(cache: HttpCache): Promise<void> {
    await cache.delete({ tags: ['t3'] });
    for (let i = 0; i < 15; i++) expect((await fetchText(cache, `${env.origin.url}/tagged?n=${i}`)).cacheStatus, `tagged ${i}`).to.not.match(/; hit/);
    await cache.delete({ entries: [`${env.origin.url}/target`] });
    for (let i = 0; i < 20; i++) {
      expect((await fetchText(cache, `${env.origin.url}/hop?n=${i}`, { redirect: 'manual' })).cacheStatus, `redirect ${i}`).to.not.match(/; hit/);
    }
  }

  it('a bounded MemoryStorage', async () => {
    const storage = new MemoryStorage({ maxBytes: 256 * 1024 });
    const cache = env.cache({ storage, cacheTagsHeader: 'cache-tag', compression: false });
    const names = partitionNames(undefined);
    const indexed = async () => {
      let entries = 0;
      for await (const _ of storage.partition(names.tag('t3')).keys()) entries += 1;
      return entries;
    };
    await fill(cache, async () => (await indexed()) < 15);
    await expectPurged(cache);
  });

  describe('redis-server with maxmemory and allkeys-lru', () => {
    let server: RedisServer;
    let storage: Storage;
    before(async () => {
      server = await startRedis();
    });
    after(async () => {
      await storage?.close();
      await server.stop();
    });

    it('purges by tag and by URL reach every response', async () => {
      const prefix = `evict-${randomUUID()}:`;
      const admin = createClient({ url: server.url });
      await admin.connect();
      try {
        await admin.sendCommand(['CONFIG', 'SET', 'maxmemory', String(4 * 1024 * 1024)]);
        await admin.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru']);
        storage = new RedisStorage({ url: server.url, keyPrefix: prefix });
        const cache = env.cache({ storage, cacheTagsHeader: 'cache-tag', compression: false });
        const tagIndex = `${prefix}{${partitionNames(undefined).tag('t3')}}:*`;
        const indexed = async () => {
          let count = 0;
          let cursor = '0';
          do {
            const [next, keys] = (await admin.sendCommand(['SCAN', cursor, 'MATCH', tagIndex, 'COUNT', '1000'])) as [string, string[]];
            cursor = next;
            count += keys.length;
          } while (cursor !== '0');
          return count;
        };
        await fill(cache, async () => (await indexed()) < 15);
        await expectPurged(cache);
      } finally {
        await admin.sendCommand(['CONFIG', 'SET', 'maxmemory', '0']).catch(() => undefined);
        await admin.close();
      }
    });
  });
});
