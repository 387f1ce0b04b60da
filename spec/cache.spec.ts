import { expect } from 'chai';
import { respond } from '../fixtures/origin.js';
import { plainView, withLatency } from '../fixtures/storage-views.js';
import { createCache, HttpCache, rawPartitions } from '../lib/cache.js';
import type { CacheOptions } from '../lib/options.js';
import { decodeRecord } from '../lib/records/codec.js';
import type { Partition } from '../lib/storage/contract.js';
import { MemoryStorage } from '../lib/storage/memory.js';
import { FakeClock } from '../lib/testing.js';
import { useOrigin } from './support.js';

describe('HttpCache', () => {
  describe('options are validated at createCache time', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['expireAfter', 'soon', /expireAfter must be seconds, "never" or a Date, got "soon"/],
      ['expireAfter', -5, /expireAfter must be .*got -5/],
      ['expireAfter', new Date('nope'), /expireAfter must be .*got Date\(invalid\)/],
      ['urlsExpireAfter', ['*'], /urlsExpireAfter must be an object/],
      ['urlsExpireAfter', { '*.example.com': 'later' }, /urlsExpireAfter\["\*\.example\.com"\] must be seconds, "never", "no-store" or a Date, got "later"/],
      ['cacheControl', 'yes', /cacheControl must be a boolean, got "yes"/],
      ['type', 'public', /type must be "private" or "shared", got "public"/],
      ['methods', 'GET', /methods must be an array of strings, got "GET"/],
      ['methods', ['GET', 'BAD METHOD'], /methods must hold valid names, got "BAD METHOD"/],
      ['statuses', [200, 99], /statuses must hold final status codes \(200 to 599\), got 99/],
      ['matchHeaders', ['bad header'], /matchHeaders must hold valid names/],
      ['ignoredParameters', 'token', /ignoredParameters must be an array of strings/],
      ['key', 'url', /key must be a function, got "url"/],
      ['filter', true, /filter must be a function, got true/],
      ['staleIfError', 'always', /staleIfError must be a boolean or seconds, got "always"/],
      ['staleWhileRevalidate', -1, /staleWhileRevalidate must be a boolean or seconds, got -1/],
      ['maxEntrySize', 1.5, /maxEntrySize must be a whole number of bytes, got 1.5/],
      ['credentialed', 'share', /credentialed must be "bypass" or "per-credential", got "share"/],
      ['namespace', 'has spaces', /namespace must be 1 to 100 letters/],
      ['storage', { get() {} }, /storage needs to have a partition\(\) function/],
      ['storage', 'memory', /storage must be a Storage/],
      ['logger', 'console', /logger must be an object/],
    ];
    for (const [name, value, message] of cases) {
      it(`${name}: ${JSON.stringify(value) ?? String(value)}`, () => {
        expect(() => createCache({ [name]: value } as CacheOptions)).to.throw(TypeError, message);
      });
    }

    it('an unknown option name', () => {
      expect(() => createCache({ expireAfer: 60 } as unknown as CacheOptions)).to.throw(TypeError, /unknown option "expireAfer"/);
    });

    it('cacheControl: false without an expiration', () => {
      expect(() => createCache({ cacheControl: false })).to.throw(TypeError, /needs expireAfter or urlsExpireAfter/);
    });

    it('a storage whose partitions miss methods', () => {
      const storage = { partition: () => ({ get() {} }), close: async () => {} };
      expect(() => createCache({ storage } as unknown as CacheOptions)).to.throw(TypeError, /partition\('responses'\) needs to have a set\(\) function/);
    });

    it('accepts the defaults and returns an HttpCache', () => {
      expect(createCache()).to.be.instanceOf(HttpCache);
    });
  });

  describe('management', () => {
    const env = useOrigin();
    const cached = respond(200, { 'cache-control': 'max-age=60' }, 'body');

    async function warm(cache: HttpCache, ...paths: string[]): Promise<void> {
      for (const path of paths) await (await cache.fetch(env.origin.url + path)).arrayBuffer();
      await cache.settled();
    }

    it('contains() tells whether a URL is cached', async () => {
      env.origin.route('/a', cached);
      const cache = env.cache();
      expect(await cache.contains({ url: `${env.origin.url}/a` })).to.equal(false);
      await warm(cache, '/a');
      expect(await cache.contains({ url: `${env.origin.url}/a` })).to.equal(true);
      expect(await cache.contains({ url: `${env.origin.url}/a`, method: 'HEAD' })).to.equal(true);
      expect(await cache.contains({ url: `${env.origin.url}/a`, method: 'POST' })).to.equal(false);
      const [key] = await collectKeys(cache);
      expect(await cache.contains({ key: key as string })).to.equal(true);
    });

    it('clear() empties the cache: the next request goes to the origin', async () => {
      env.origin.route('/a', cached);
      env.origin.route('/b', cached);
      const cache = env.cache();
      await warm(cache, '/a', '/b');
      await cache.clear();
      expect(await rawPartitions(cache).responses.size()).to.equal(0);
      expect(await rawPartitions(cache).redirects.size()).to.equal(0);
      await warm(cache, '/a');
      expect(env.origin.hits('/a')).to.equal(2);
    });

    it('clear() leaves another namespace on the same storage alone', async () => {
      env.origin.route('/a', cached);
      const storage = new MemoryStorage();
      const one = createCache({ storage, namespace: 'one' });
      const two = createCache({ storage, namespace: 'two' });
      await warm(one, '/a');
      await warm(two, '/a');
      await one.clear();
      expect(await one.contains({ url: `${env.origin.url}/a` })).to.equal(false);
      expect(await two.contains({ url: `${env.origin.url}/a` })).to.equal(true);
      await storage.close();
    });

    it('delete({ entries: [urls] }) removes those URLs only', async () => {
      env.origin.route('/a', cached);
      env.origin.route('/b', cached);
      const cache = env.cache();
      await warm(cache, '/a', '/b');
      expect(await cache.delete({ entries: [`${env.origin.url}/a`, new URL(`${env.origin.url}/missing`)] })).to.equal(1);
      expect(await cache.contains({ url: `${env.origin.url}/a` })).to.equal(false);
      expect(await cache.contains({ url: `${env.origin.url}/b` })).to.equal(true);
    });

    it('delete({ entries: [{ key }] }) removes raw keys', async () => {
      env.origin.route('/a', cached);
      const cache = env.cache();
      await warm(cache, '/a');
      const keys = await collectKeys(cache);
      expect(await cache.delete({ entries: keys.map((key) => ({ key })) })).to.equal(1);
      expect(await rawPartitions(cache).responses.size()).to.equal(0);
    });

    it('delete({ expired: true }) removes what can no longer be used and keeps the rest', async () => {
      env.origin.route('/short', respond(200, { 'cache-control': 'max-age=1' }, 'x'));
      env.origin.route('/validated', respond(200, { 'cache-control': 'max-age=1', etag: '"v1"' }, 'x'));
      env.origin.route('/long', cached);
      const storage = new MemoryStorage();
      // A plain backend: no fast path, and it keeps everything it is given, expired or not.
      const naive = { partition: (name: string) => naivePartition(storage.partition(name)), close: () => storage.close() };
      for (const backend of [new MemoryStorage(), naive]) {
        const clock = new FakeClock();
        const cache = env.cache({ storage: backend, clock });
        await warm(cache, '/short', '/validated', '/long');
        await clock.advance(1.1);
        expect(await cache.delete({ expired: true })).to.equal(1);
        expect(await cache.contains({ url: `${env.origin.url}/short` })).to.equal(false);
        // Stale, but kept: it can still be revalidated.
        expect(await cache.contains({ url: `${env.origin.url}/validated` })).to.equal(true);
        expect(await cache.contains({ url: `${env.origin.url}/long` })).to.equal(true);
      }
    });

    it('delete({ olderThan }) removes responses received before the cutoff', async () => {
      env.origin.route('/old', cached);
      env.origin.route('/new', cached);
      const clock = new FakeClock();
      // The storage dates what it holds by the same clock.
      const cache = env.cache({ clock, storage: new MemoryStorage({ clock }) });
      await warm(cache, '/old');
      await clock.advance(0.05);
      const cutoff = new Date(clock.now());
      await clock.advance(0.01);
      await warm(cache, '/new');
      expect(await cache.delete({ olderThan: cutoff })).to.equal(1);
      expect(await cache.contains({ url: `${env.origin.url}/old` })).to.equal(false);
      expect(await cache.contains({ url: `${env.origin.url}/new` })).to.equal(true);
      expect(await cache.delete({ olderThan: 3600 })).to.equal(0);
      expect(await cache.delete({ olderThan: 0 })).to.equal(1);
    });

    it('delete() rejects bad arguments', async () => {
      const cache = env.cache();
      await expectReject(cache.delete({ olderThan: 'yesterday' as unknown as number }), /olderThan must be seconds or a Date/);
      await expectReject(cache.delete({ entries: ['not a url'] }), /not an absolute URL/);
      await expectReject(cache.contains({} as never), /takes \{ url, method, headers \} or \{ key \}/);
      await expectReject(cache.delete({ urls: [] } as never), /delete\(\{ urls \}\) became delete\(\{ entries \}\) in 1\.0/);
      await expectReject(cache.delete({ keys: [] } as never), /delete\(\{ keys \}\) became delete\(\{ entries \}\) in 1\.0/);
      await expectReject(cache.delete({ soon: true } as never), /unknown option delete\(\{ soon \}\)/);
      await expectReject(cache.delete({ entries: [{ key: '' }] }), /takes \{ key \} with a key/);
      await expectReject(
        (cache.inspect as (...args: unknown[]) => Promise<unknown>)('https://x.example/', { headers: {} }),
        /became inspect\(\{ url, method, headers \}\)/,
      );
    });

    it('close() waits for writes in flight before closing the storage', async () => {
      env.origin.route('/a', cached);
      let entriesAtClose = -1;
      const storage = new (class extends MemoryStorage {
        override async close(): Promise<void> {
          entriesAtClose = this.usage.entries;
          await super.close();
        }
      })();
      const cache = createCache({ storage });
      await (await cache.fetch(`${env.origin.url}/a`)).arrayBuffer();
      await cache.close();
      expect(entriesAtClose).to.equal(1);
    });
  });

  describe('redirects', () => {
    const env = useOrigin();

    beforeEach(() => {
      env.origin.route('/old', respond(301, { location: '/new', 'cache-control': 'max-age=3600' }));
      env.origin.route('/new', respond(200, { 'cache-control': 'max-age=3600' }, 'destination'));
      env.origin.route('/older', respond(301, { location: '/old', 'cache-control': 'max-age=3600' }));
    });

    it('a 301 → 200 chain fetched once is served later with zero origin requests', async () => {
      const cache = env.cache();
      const first = await cache.fetch(`${env.origin.url}/old`);
      expect(await first.text()).to.equal('destination');
      expect(first.redirected).to.equal(true);
      const requestsAfterFirst = env.origin.hits();
      expect(requestsAfterFirst).to.equal(2);

      const second = await cache.fetch(`${env.origin.url}/old`);
      expect(await second.text()).to.equal('destination');
      expect(second.url).to.equal(`${env.origin.url}/new`);
      expect(second.headers.get('cache-status')).to.match(/hit/);
      expect(env.origin.hits()).to.equal(requestsAfterFirst);
    });

    it('the redirects partition records, for a URL, the cached redirects pointing at it', async () => {
      const cache = env.cache();
      await (await cache.fetch(`${env.origin.url}/older`)).text();
      await cache.settled();
      expect(await rawPartitions(cache).redirects.size()).to.equal(2);
      const records = [];
      for await (const [, bytes] of rawPartitions(cache).redirects.entries()) records.push(decodeRecord(bytes));
      expect(records.every((record) => record?.kind === 'aliases' && record.keys.length === 1)).to.equal(true);
    });

    it('delete({ entries: [target] }) removes the target and the redirects that lead to it', async () => {
      const cache = env.cache();
      await (await cache.fetch(`${env.origin.url}/older`)).text();
      await cache.settled();
      expect(await rawPartitions(cache).responses.size()).to.equal(3);
      expect(await cache.delete({ entries: [`${env.origin.url}/new`] })).to.equal(3);
      expect(await rawPartitions(cache).responses.size()).to.equal(0);
      expect(await rawPartitions(cache).redirects.size()).to.equal(0);

      const before = env.origin.hits();
      await (await cache.fetch(`${env.origin.url}/older`)).text();
      expect(env.origin.hits() - before).to.equal(3);
    });

    it('redirects to one target stored at the same moment are all recorded, and all deleted with it', async () => {
      const sources = Array.from({ length: 8 }, (_, i) => `/source-${i}`);
      for (const path of sources) env.origin.route(path, respond(301, { location: '/new', 'cache-control': 'max-age=3600' }));
      // A storage with latency: the updates of the target's alias record overlap.
      const cache = env.cache({ storage: withLatency(new MemoryStorage(), 20) });
      await Promise.all(sources.map(async (path) => (await cache.fetch(`${env.origin.url}${path}`)).text()));
      await cache.settled();
      const records = [];
      for await (const [, bytes] of rawPartitions(cache).redirects.entries()) records.push(decodeRecord(bytes));
      expect(records).to.have.length(1);
      expect(records[0]?.kind === 'aliases' ? records[0].keys.length : 0).to.equal(sources.length);
      expect(await cache.delete({ entries: [`${env.origin.url}/new`] })).to.equal(sources.length + 1);
      for (const path of sources) expect(await cache.contains({ url: `${env.origin.url}${path}` })).to.equal(false);
    });

    it('deleting the first hop leaves the target cached', async () => {
      const cache = env.cache();
      await (await cache.fetch(`${env.origin.url}/old`)).text();
      await cache.settled();
      await cache.delete({ entries: [`${env.origin.url}/old`] });
      expect(await cache.contains({ url: `${env.origin.url}/new` })).to.equal(true);
      expect(await cache.contains({ url: `${env.origin.url}/old` })).to.equal(false);
    });

    it('clear() empties both partitions', async () => {
      const cache = env.cache();
      await (await cache.fetch(`${env.origin.url}/older`)).text();
      await cache.clear();
      expect(await rawPartitions(cache).responses.size()).to.equal(0);
      expect(await rawPartitions(cache).redirects.size()).to.equal(0);
    });
  });
});

async function collectKeys(cache: HttpCache): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of rawPartitions(cache).responses.keys()) keys.push(key);
  return keys;
}

async function expectReject(promise: Promise<unknown>, message: RegExp): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  expect(error).to.be.instanceOf(TypeError);
  expect((error as Error).message).to.match(message);
}

/** A partition without the optional fast path that ignores expiresAt, as a simple custom backend might. */
function naivePartition(partition: Partition): Partition {
  return { ...plainView(partition), set: (key, value) => partition.set(key, value) };
}
