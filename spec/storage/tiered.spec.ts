import { expect } from 'chai';
import { CommandCounter, dropTables, dynamoStorage, uniqueTableName } from '../../fixtures/dynamodb.js';
import { dynamoEndpoint, localClient } from '../../fixtures/dynamodb-local.js';
import { respond } from '../../fixtures/origin.js';
import { withLatency } from '../../fixtures/storage-views.js';
import type { Offering, Storage } from '../../lib/storage/contract.js';
import { DynamoDBStorage } from '../../lib/storage/dynamodb/storage.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { SqliteStorage } from '../../lib/storage/sqlite.js';
import { TieredStorage } from '../../lib/storage/tiered.js';
import { FakeClock } from '../../lib/testing.js';
import { fetchText, useOrigin } from '../support.js';
import { storageConformance } from './conformance.js';

describe('TieredStorage: a memory tier in front of a storage', () => {
  describe('conformance (in front of SQLite)', () => {
    storageConformance({
      create: () => new TieredStorage({ back: new SqliteStorage({ path: ':memory:' }) }),
      capabilities: { sweeps: true, syncReads: true, deleteByAge: true },
    });
  });

  it('reads from memory first, then the back, and keeps what it read', async () => {
    const back = new MemoryStorage();
    const tiered = new TieredStorage({ back });
    await back.partition('p').set('k', new Uint8Array([1]));
    const partition = tiered.partition('p') as Offering<'syncReads'>;
    expect(partition.getSync('k'), 'not in memory yet: ask get()').to.equal(null);
    expect([...((await partition.get('k')) ?? [])]).to.deep.equal([1]);
    await back.partition('p').delete('k');
    expect([...(partition.getSync('k') ?? [])], 'now from memory alone').to.deep.equal([1]);
  });

  it('keeps a value in memory no longer than the expiry it is given', async () => {
    const back = new MemoryStorage();
    const clock = new FakeClock();
    const tiered = new TieredStorage({ back, clock, expiryOf: () => clock.now() + 100 });
    await back.partition('p').set('k', new Uint8Array([1]));
    await tiered.partition('p').get('k');
    await back.partition('p').delete('k');
    expect([...((await tiered.partition('p').get('k')) ?? [])], 'still in memory').to.deep.equal([1]);
    await clock.advance(0.1);
    expect(await tiered.partition('p').get('k')).to.equal(undefined);
  });

  it('hears deletions made through another memory tier on the same storage (the purge stamp)', async () => {
    const back = new MemoryStorage();
    const one = new TieredStorage({ back, syncEvery: 0 }).partition('p') as Offering<'syncReads'>;
    const other = new TieredStorage({ back, syncEvery: 0 }).partition('p') as Offering<'syncReads'>;
    await one.set('k', new Uint8Array([1]));
    expect([...((await other.get('k')) ?? [])]).to.deep.equal([1]);
    // In other's memory now; one deletes it (and clear() likewise stamps).
    expect(await one.delete('k')).to.equal(true);
    expect(other.getSync('k'), 'memory must first hear of deletions').to.equal(null);
    expect(await other.get('k')).to.equal(undefined);
    await one.set('j', new Uint8Array([2]));
    await other.get('j');
    await one.clear();
    expect(await other.get('j')).to.equal(undefined);
  });

  describe('the purge stamp is read ahead: under steady traffic no answer waits for it', () => {
    /** A MemoryStorage whose reads of the stamp are counted, and can be held until released. */
    function stampReads(back: MemoryStorage) {
      let reads = 0;
      let held: Promise<void> | undefined;
      let open = () => {};
      const storage: Storage = {
        partition(name) {
          const inner = back.partition(name);
          if (name !== 'tiers') return inner;
          return {
            capabilities: inner.capabilities,
            get: async (key) => {
              reads += 1;
              await held;
              return inner.get(key);
            },
            keys: () => inner.keys(),
            set: (key, value, options) => inner.set(key, value, options),
            delete: (key) => inner.delete(key),
            clear: () => inner.clear(),
          };
        },
        close: () => back.close(),
      };
      return {
        storage,
        reads: () => reads,
        hold: () => {
          held = new Promise((resolve) => {
            open = resolve;
          });
        },
        release: async () => {
          held = undefined;
          open();
          // The read's own continuations.
          for (let i = 0; i < 5; i++) await new Promise(setImmediate);
        },
      };
    }
    const one = new Uint8Array([1]);

    it('past ¾ of syncEvery, memory answers while the read goes on; a deletion elsewhere is heard once it lands', async () => {
      const back = new MemoryStorage();
      const stamp = stampReads(back);
      const clock = new FakeClock();
      const tier = new TieredStorage({ back: stamp.storage, syncEvery: 1000, readTimeout: 60_000, clock }).partition('p') as Offering<'syncReads'>;
      const elsewhere = new TieredStorage({ back: stamp.storage, syncEvery: 1000, clock }).partition('p');
      await tier.set('k', one);
      await clock.advance(0.7);
      expect(tier.getSync('k'), 'before ¾ of syncEvery').to.deep.equal(one);
      expect(stamp.reads(), 'no read before ¾ of syncEvery').to.equal(0);
      expect(await elsewhere.delete('k')).to.equal(true);
      stamp.hold();
      await clock.advance(0.1);
      expect(tier.getSync('k'), 'answered at once, the read under way').to.deep.equal(one);
      expect(await tier.get('k'), 'get() does not wait either').to.deep.equal(one);
      expect(stamp.reads(), 'one read, started by the first to ask').to.equal(1);
      await clock.advance(0.1);
      expect(tier.getSync('k')).to.deep.equal(one);
      expect(stamp.reads(), 'one read under way at a time').to.equal(1);
      await stamp.release();
      expect(tier.getSync('k'), 'the stamp changed: memory forgot').to.equal(null);
      expect(await tier.get('k')).to.equal(undefined);
    });

    it('past syncEvery without a read, the answer from memory waits for one', async () => {
      const back = new MemoryStorage();
      const stamp = stampReads(back);
      const clock = new FakeClock();
      const tier = new TieredStorage({ back: stamp.storage, syncEvery: 1000, clock }).partition('p') as Offering<'syncReads'>;
      await tier.set('k', one);
      await clock.advance(1);
      expect(tier.getSync('k'), 'syncEvery has passed: ask get()').to.equal(null);
      stamp.hold();
      let answered: Uint8Array | undefined;
      const reading = tier.get('k').then((value) => {
        answered = value;
      });
      await new Promise(setImmediate);
      expect(answered, 'waits for the stamp').to.equal(undefined);
      expect(stamp.reads()).to.equal(1);
      await stamp.release();
      await reading;
      expect(answered).to.deep.equal(one);
      expect(tier.getSync('k'), 'heard: memory answers at once again').to.deep.equal(one);
    });

    it('syncEvery counts from the start of the read that heard, not its end', async () => {
      const back = new MemoryStorage();
      const stamp = stampReads(back);
      const clock = new FakeClock();
      const tier = new TieredStorage({ back: stamp.storage, syncEvery: 1000, readTimeout: 60_000, clock }).partition('p') as Offering<'syncReads'>;
      await tier.set('k', one);
      await clock.advance(0.8);
      stamp.hold();
      expect(tier.getSync('k')).to.deep.equal(one);
      await clock.advance(0.9);
      await stamp.release();
      stamp.hold();
      expect(tier.getSync('k'), '0.9 s after the read began, the next one under way').to.deep.equal(one);
      expect(stamp.reads()).to.equal(2);
      await clock.advance(0.1);
      expect(tier.getSync('k'), 'syncEvery after the read that heard began').to.equal(null);
      await stamp.release();
      expect(tier.getSync('k'), 'the next one heard').to.deep.equal(one);
    });

    it('a memory miss starts no read of the stamp', async () => {
      const back = new MemoryStorage();
      const stamp = stampReads(back);
      const clock = new FakeClock();
      const tier = new TieredStorage({ back: stamp.storage, syncEvery: 1000, clock }).partition('p') as Offering<'syncReads'>;
      await clock.advance(0.9);
      expect(tier.getSync('absent')).to.equal(null);
      expect(await tier.get('absent')).to.equal(undefined);
      await clock.advance(0.2);
      expect(await tier.get('absent')).to.equal(undefined);
      expect(stamp.reads()).to.equal(0);
    });
  });

  it('writes, deletes and clears reach both tiers', async () => {
    const back = new MemoryStorage();
    const front = new MemoryStorage();
    const partition = new TieredStorage({ back, front }).partition('p');
    await partition.set('a', new Uint8Array([1]));
    await partition.set('b', new Uint8Array([2]));
    expect(await front.partition('p').has('a')).to.equal(true);
    expect(await back.partition('p').has('a')).to.equal(true);
    await partition.delete('a');
    expect(await front.partition('p').has('a')).to.equal(false);
    expect(await back.partition('p').has('a')).to.equal(false);
    await partition.clear();
    expect(await front.partition('p').size()).to.equal(0);
    expect(await back.partition('p').size()).to.equal(0);
  });

  describe('a read under way does not bring back what a write replaced meanwhile', () => {
    const slowReads = (back: MemoryStorage) => withLatency(back, 50);
    const writes: Array<[string, (partition: Offering<'sweeps'>) => Promise<unknown>]> = [
      ['delete', (partition) => partition.delete('k')],
      ['bulkDelete', (partition) => partition.bulkDelete(['k'])],
      ['clear', (partition) => partition.clear()],
      ['deleteCreatedBefore', (partition) => partition.deleteCreatedBefore?.(Date.now() + 1) ?? Promise.resolve()],
      ['set', (partition) => partition.set('k', new Uint8Array([2]))],
    ];
    for (const [name, write] of writes) {
      it(`${name}`, async () => {
        const back = new MemoryStorage();
        await back.partition('p').set('k', new Uint8Array([1]));
        const partition = new TieredStorage({ back: slowReads(back) }).partition('p') as Offering<'sweeps' | 'syncReads'>;
        const reading = partition.get('k');
        // The read is under way (its storage answers 50 ms later).
        await new Promise((resolve) => setImmediate(resolve));
        await write(partition);
        expect([...((await reading) ?? [])], 'the read answers with what it found').to.deep.equal([1]);
        const now = name === 'set' ? [2] : undefined;
        const inMemory = partition.getSync('k');
        expect(inMemory === null ? null : [...(inMemory ?? [])], 'memory holds no old value').to.deep.equal(now === undefined ? null : now);
        const after = await partition.get('k');
        expect(after === undefined ? undefined : [...after]).to.deep.equal(now);
      });
    }

    it('getMany likewise', async () => {
      const back = new MemoryStorage();
      await back.partition('p').set('k', new Uint8Array([1]));
      const partition = new TieredStorage({ back: slowReads(back) }).partition('p') as Offering<'syncReads'>;
      const reading = partition.getMany(['k']);
      await new Promise((resolve) => setImmediate(resolve));
      await partition.delete('k');
      await reading;
      expect(partition.getSync('k')).to.equal(null);
    });

    it('a read that began after the write fills memory as usual', async () => {
      const back = new MemoryStorage();
      await back.partition('p').set('k', new Uint8Array([1]));
      const partition = new TieredStorage({ back: slowReads(back) }).partition('p') as Offering<'syncReads'>;
      await partition.delete('j');
      await partition.get('k');
      expect([...(partition.getSync('k') ?? [])]).to.deep.equal([1]);
    });
  });

  describe('in front of DynamoDB, through the cache (a warm Lambda)', function () {
    this.timeout(60_000);
    const env = useOrigin();

    before(async function () {
      this.timeout(180_000);
      await dynamoEndpoint();
    });

    afterEach(async () => {
      await dropTables();
    });

    it('a repeated request costs zero DynamoDB calls; a new instance pays one GetItem, then none (within syncEvery)', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600' }, 'body'));
      const counter = new CommandCounter();
      const tableName = uniqueTableName();
      // An hour between checks for purges made elsewhere: the counts below do not depend on how fast the test runs.
      const memoryTier = { maxBytes: 1024 * 1024, syncEvery: 3600 };
      const warm = env.cache({ storage: await dynamoStorage(counter, { tableName }), memoryTier });
      await fetchText(warm, `${env.origin.url}/a`);
      await warm.settled();
      counter.reset();
      for (let i = 0; i < 5; i++) expect((await fetchText(warm, `${env.origin.url}/a`)).cacheStatus).to.match(/^cachette; hit/);
      expect([...counter.counts]).to.deep.equal([]);

      const coldCounter = new CommandCounter();
      const cold = env.cache({ storage: new DynamoDBStorage({ tableName, client: coldCounter.attach(await localClient()) }), memoryTier });
      expect((await fetchText(cold, `${env.origin.url}/a`)).cacheStatus).to.match(/^cachette; hit/);
      expect([...coldCounter.counts]).to.deep.equal([['GetItemCommand', 1]]);
      for (let i = 0; i < 5; i++) await fetchText(cold, `${env.origin.url}/a`);
      expect([...coldCounter.counts]).to.deep.equal([['GetItemCommand', 1]]);
      expect(env.origin.hits('/a')).to.equal(1);
    });

    it('delete({ entries }) clears the URL from memory and from DynamoDB', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600' }, 'body'));
      const cache = env.cache({ storage: await dynamoStorage(), memoryTier: {} });
      await fetchText(cache, `${env.origin.url}/a`);
      await cache.settled();
      await cache.delete({ entries: [`${env.origin.url}/a`] });
      expect((await fetchText(cache, `${env.origin.url}/a`)).cacheStatus).to.match(/fwd=uri-miss/);
    });
  });
});
