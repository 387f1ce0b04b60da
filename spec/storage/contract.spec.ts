/**
 * The 1.0 storage contract: a core of four methods, defaults for the rest
 * from BasePartition, and capabilities declared rather than looked for by
 * name. The smallest backend a user writes passes the conformance suite and
 * serves a cache end to end; a storage of 0.1 that offered an optional part
 * undeclared is refused when the cache is made, with what to change.
 */
import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { createCache } from '../../lib/cache.js';
import { BasePartition, completePartition, declares, type Partition, type SetOptions, type Storage } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { fetchText, useOrigin } from '../support.js';
import { storageConformance } from './conformance.js';

/** The smallest backend: a Map per partition, the four core methods, nothing else. */
class MapPartition extends BasePartition {
  readonly #values = new Map<string, { value: Uint8Array; expiresAt: number | undefined }>();
  /** Core calls made, by name (the defaults are built on them). */
  readonly calls: Record<string, number> = { get: 0, set: 0, delete: 0, keys: 0 };

  async get(key: string): Promise<Uint8Array | undefined> {
    this.calls['get'] = (this.calls['get'] ?? 0) + 1;
    const found = this.#values.get(key);
    if (found === undefined) return undefined;
    if (found.expiresAt !== undefined && found.expiresAt <= Date.now()) return undefined;
    return found.value;
  }

  async set(key: string, value: Uint8Array, opts?: SetOptions): Promise<void> {
    this.calls['set'] = (this.calls['set'] ?? 0) + 1;
    if (!(value instanceof Uint8Array)) throw new TypeError('MapPartition stores bytes');
    this.#values.set(key, { value: Uint8Array.from(value), expiresAt: opts?.expiresAt });
  }

  async delete(key: string): Promise<boolean> {
    this.calls['delete'] = (this.calls['delete'] ?? 0) + 1;
    return this.#values.delete(key);
  }

  async *keys(): AsyncIterable<string> {
    this.calls['keys'] = (this.calls['keys'] ?? 0) + 1;
    const now = Date.now();
    yield* [...this.#values].filter(([, { expiresAt }]) => expiresAt === undefined || expiresAt > now).map(([key]) => key);
  }
}

class MapStorage implements Storage {
  readonly partitions = new Map<string, MapPartition>();

  partition(name: string): MapPartition {
    let partition = this.partitions.get(name);
    if (partition === undefined) {
      partition = new MapPartition();
      this.partitions.set(name, partition);
    }
    return partition;
  }

  async close(): Promise<void> {}
}

describe('the storage contract', () => {
  describe('a backend of the four core methods (BasePartition gives the rest)', () => {
    storageConformance({ create: () => new MapStorage() });
  });

  describe('a cache over it', () => {
    const env = useOrigin();

    it('stores, hits, lists, purges by tag and by URL, and clears', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600', 'cache-tag': 'one' }, 'a'));
      env.origin.route('/b', respond(200, { 'cache-control': 'max-age=600', 'cache-tag': 'two' }, 'b'));
      const storage = new MapStorage();
      const cache = env.cache({ storage, cacheTagsHeader: 'cache-tag' });
      const url = (path: string) => `${env.origin.url}${path}`;
      for (const path of ['/a', '/b']) await fetchText(cache, url(path));
      await cache.settled();
      expect((await fetchText(cache, url('/a'))).cacheStatus).to.match(/^cachette; hit/);
      const listed: string[] = [];
      for await (const entry of cache.entries()) listed.push(entry.url);
      expect(listed.sort()).to.deep.equal([url('/a'), url('/b')]);
      expect(await cache.delete({ tags: ['one'] })).to.equal(1);
      expect(await cache.contains(url('/a'))).to.equal(false);
      expect(await cache.delete({ entries: [url('/b')] })).to.equal(1);
      await fetchText(cache, url('/a'));
      await cache.settled();
      await cache.clear();
      expect(await cache.contains(url('/a'))).to.equal(false);
      expect(env.origin.hits('/a')).to.equal(2);
      // Every one of those went through the core: the defaults called it.
      const responses = [...storage.partitions.entries()].find(([name]) => name.endsWith('responses'))?.[1] as MapPartition;
      expect(responses.calls['keys']).to.be.greaterThan(0);
    });
  });

  describe('capabilities are declared, and checked once when the cache is made', () => {
    /** A partition of 0.1's shape: every Map-like method, and `getSync` found by name. */
    const version01 = (extra: Record<string, unknown>): Storage => {
      const inner = new MemoryStorage();
      return {
        partition: (name: string) => {
          const memory = completePartition(inner.partition(name), name);
          return {
            get: (key: string) => memory.get(key),
            getMany: (keys: string[]) => memory.getMany(keys),
            set: (key: string, value: Uint8Array, opts?: SetOptions) => memory.set(key, value, opts),
            delete: (key: string) => memory.delete(key),
            has: (key: string) => memory.has(key),
            bulkDelete: (keys: Iterable<string>) => memory.bulkDelete(keys),
            clear: () => memory.clear(),
            keys: () => memory.keys(),
            entries: () => memory.entries(),
            size: () => memory.size(),
            ...extra,
          } as Partition;
        },
        close: () => inner.close(),
      };
    };

    it('a storage of 0.1 without optional parts keeps working', () => {
      expect(() => createCache({ storage: version01({}) })).to.not.throw();
    });

    it('a method of a capability, undeclared, is refused with what to write', () => {
      expect(() => createCache({ storage: version01({ getSync: () => null }) })).to.throw(
        TypeError,
        "storage.partition('responses') has getSync() but does not declare capabilities.syncReads: in 1.0 a partition declares what it offers (readonly capabilities = { syncReads: true }), or drops the method",
      );
      expect(() => createCache({ storage: version01({ acquireLease: async () => ({ token: 't' }), releaseLease: async () => {} }) })).to.throw(
        TypeError,
        /has acquireLease\(\) and releaseLease\(\) but does not declare capabilities\.leases/,
      );
    });

    it('a capability declared without its methods is refused', () => {
      expect(() => createCache({ storage: version01({ capabilities: { leases: true }, acquireLease: async () => ({ token: 't' }) }) })).to.throw(
        TypeError,
        "storage.partition('responses') declares capabilities.leases but has no releaseLease()",
      );
      expect(() => createCache({ storage: version01({ capabilities: { heldValues: true }, hold() {}, getHeld() {} }) })).to.throw(
        TypeError,
        /declares capabilities\.heldValues without syncReads/,
      );
    });

    it('a storage that says whether it evicted declares it', () => {
      const storage = { ...version01({}), mayHaveEvicted: () => false };
      expect(() => createCache({ storage })).to.throw(TypeError, /has mayHaveEvicted\(\) but does not declare capabilities\.evicts/);
      expect(() => createCache({ storage: { ...storage, capabilities: { evicts: true } } })).to.not.throw();
    });

    it('the six storages declare what they offer', async () => {
      const memory = new MemoryStorage().partition('p');
      expect((['syncReads', 'heldValues', 'leases', 'sweeps', 'deleteByAge'] as const).filter((name) => declares(memory, name))).to.deep.equal([
        'syncReads',
        'heldValues',
        'sweeps',
        'deleteByAge',
      ]);
      // The others are checked by their conformance runs (spec/storage/<backend>.spec.ts: "declares exactly the capabilities…").
    });
  });
});
