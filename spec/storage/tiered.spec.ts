import { expect } from 'chai';
import { CommandCounter, dropTables, dynamoStorage, uniqueTableName } from '../../fixtures/dynamodb.js';
import { dynamoEndpoint, localClient } from '../../fixtures/dynamodb-local.js';
import { respond } from '../../fixtures/origin.js';
import { withLatency } from '../../fixtures/storage-views.js';
import type { Offering } from '../../lib/storage/contract.js';
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
