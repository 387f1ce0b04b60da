import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import {
  DeleteItemCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { expect } from 'chai';
import { CommandCounter, dropTables, dynamoStorage, allCommands as everything, uniqueTableName } from '../../fixtures/dynamodb.js';
import { dynamoEndpoint, localClient } from '../../fixtures/dynamodb-local.js';
import { respond } from '../../fixtures/origin.js';
import { createCache, rawPartitions } from '../../lib/cache.js';
import { DynamoDBStorage } from '../../lib/storage/dynamodb/storage.js';
import { fetchText, useOrigin } from '../support.js';
import { storageConformance } from './conformance.js';

const encode = (text: string) => new TextEncoder().encode(text);

describe('DynamoDBStorage (DynamoDB Local)', function () {
  this.timeout(60_000);

  before(async function () {
    this.timeout(180_000);
    await dynamoEndpoint();
  });

  afterEach(async () => {
    await dropTables();
  });

  after(() => {
    expect(everything.get('ScanCommand'), 'no Scan, anywhere').to.equal(0);
    expect(everything.get('QueryCommand'), 'the counter saw the traffic').to.be.above(0);
  });

  describe('conformance', () => {
    // DynamoDB Local is slower than DynamoDB under 500 concurrent calls: a generous deadline here.
    storageConformance({
      create: () => dynamoStorage(undefined, { timeouts: { read: 20, write: 60 } }),
      capabilities: { sweeps: true, leases: true, deleteByAge: true },
    });
  });

  describe('options', () => {
    it('are validated with errors that name them', () => {
      expect(() => new DynamoDBStorage({ tableName: 'x' })).to.throw(TypeError, /tableName must be 3 to 255/);
      expect(() => new DynamoDBStorage({ tableName: 'table', shards: 0 })).to.throw(TypeError, /shards must be a positive integer, got 0/);
      expect(() => new DynamoDBStorage({ tableName: 'table', timeouts: { read: 0 } })).to.throw(
        TypeError,
        /timeouts\.read must be a positive number of seconds/,
      );
      expect(() => new DynamoDBStorage({ tableName: 'table', timeouts: { read: 500 } })).to.not.throw();
      expect(() => new DynamoDBStorage({ tableName: 'table', timeouts: { read: 5000 } })).to.throw(
        TypeError,
        /in seconds: 5000 s is more than an hour \(for 5000 ms, write 5\)/,
      );
      expect(() => new DynamoDBStorage({ tableName: 'table', readTimeout: 500 } as never)).to.throw(
        TypeError,
        'DynamoDBStorage readTimeout (milliseconds) became timeouts: { read, write } (seconds) in 1.0',
      );
      expect(() => new DynamoDBStorage({ tableName: 'table', attributes: { ttl: 'x' } as never })).to.throw(TypeError, /attributes has no "ttl"/);
      expect(() => new DynamoDBStorage({ tableName: 'table', client: {} as never })).to.throw(TypeError, /client must be a DynamoDBClient/);
    });
  });

  describe('layout', () => {
    it('items carry namespace = partition + shard, key, value, expires (epoch seconds) and created', async () => {
      const client = await localClient();
      const storage = await dynamoStorage(undefined, { client, shards: 4 });
      const partition = storage.partition('responses');
      const expiresAt = Date.now() + 3_600_000;
      for (let i = 0; i < 40; i++) await partition.set(`key-${i}`, encode(`value-${i}`), { expiresAt });
      const shardsUsed = new Set<string>();
      for (let shard = 0; shard < 4; shard++) {
        const { Items = [] } = await client.send(
          new QueryCommand({
            TableName: storage.tableName,
            KeyConditionExpression: 'namespace = :pk',
            ExpressionAttributeValues: { ':pk': { S: `responses#${shard}` } },
          }),
        );
        for (const item of Items) {
          shardsUsed.add(item['namespace']?.S as string);
          expect(item['key']?.S).to.match(/^key-\d+$/);
          expect(item['value']?.B).to.be.instanceOf(Uint8Array);
          expect(Number(item['expires']?.N)).to.equal(Math.ceil(expiresAt / 1000));
          expect(Number(item['created']?.N)).to.be.closeTo(Date.now(), 60_000);
        }
      }
      expect(shardsUsed.size, 'spread over the shards').to.equal(4);
    });

    it('a key prefix and attribute names of your own fit a single-table design', async () => {
      const client = await localClient();
      const attributes = { partitionKey: 'PK', sortKey: 'SK', value: 'payload', expires: 'ttl', created: 'at' };
      const storage = await dynamoStorage(undefined, { client, shards: 2, keyPrefix: 'CACHE#', attributes });
      await storage.partition('responses').set('k', encode('v'), { expiresAt: Date.now() + 60_000 });
      expect(new TextDecoder().decode(await storage.partition('responses').get('k'))).to.equal('v');
      const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName: storage.tableName }));
      expect(TimeToLiveDescription?.AttributeName).to.equal('ttl');
      const shard = ['CACHE#responses#0', 'CACHE#responses#1'];
      let found = 0;
      for (const pk of shard) {
        const { Items = [] } = await client.send(
          new QueryCommand({
            TableName: storage.tableName,
            KeyConditionExpression: 'PK = :pk',
            ExpressionAttributeValues: { ':pk': { S: pk } },
          }),
        );
        for (const item of Items) {
          found += 1;
          expect(Object.keys(item).sort()).to.deep.equal(['PK', 'SK', 'at', 'payload', 'ttl']);
        }
      }
      expect(found).to.equal(1);
    });
  });

  describe('table creation', () => {
    it('creates an on-demand table with TTL on "expires", and waits until it is ACTIVE', async () => {
      const client = await localClient();
      const storage = await dynamoStorage(undefined, { client });
      const { Table } = await client.send(new DescribeTableCommand({ TableName: storage.tableName }));
      expect(Table?.TableStatus).to.equal('ACTIVE');
      expect(Table?.BillingModeSummary?.BillingMode).to.equal('PAY_PER_REQUEST');
      expect(Table?.KeySchema).to.deep.equal([
        { AttributeName: 'namespace', KeyType: 'HASH' },
        { AttributeName: 'key', KeyType: 'RANGE' },
      ]);
      const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName: storage.tableName }));
      expect(TimeToLiveDescription).to.deep.include({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expires' });
      // Again, from another process's point of view: an existing table and TTL already on are fine.
      await storage.createTable();
    });

    it('createTable: true creates it on first use, once per process: later calls never DescribeTable', async () => {
      const counter = new CommandCounter();
      const tableName = uniqueTableName();
      const first = new DynamoDBStorage({ tableName, client: counter.attach(everything.attach(await localClient())), createTable: true });
      const second = new DynamoDBStorage({ tableName, client: counter.attach(await localClient()), createTable: true });
      await first.partition('p').set('k', encode('v'));
      const described = counter.get('DescribeTableCommand');
      expect(counter.get('CreateTableCommand')).to.equal(1);
      for (let i = 0; i < 5; i++) {
        await first.partition('p').get('k');
        await second.partition('p').get('k');
      }
      expect(counter.get('DescribeTableCommand')).to.equal(described);
      expect(counter.get('CreateTableCommand')).to.equal(1);
      await dropTable(tableName);
    });

    it('createTable: true makes sure of a table per place: one of the same name in another region is asked for on its own', async () => {
      const tableName = uniqueTableName();
      const here = new CommandCounter();
      const there = new CommandCounter();
      const first = new DynamoDBStorage({ tableName, client: here.attach(await localClient()), createTable: true });
      // DynamoDB Local runs with -sharedDb: its regions share tables, so the second finds the table there and says so.
      const elsewhere = new DynamoDBStorage({ tableName, client: there.attach(await localClient({ region: 'eu-west-1' })), createTable: true });
      await first.partition('p').set('k', encode('v'));
      await elsewhere.partition('p').set('k', encode('w'));
      expect(here.get('CreateTableCommand')).to.equal(1);
      expect(there.get('CreateTableCommand'), 'the other region is not taken on the first one’s word').to.equal(1);
      const described = there.get('DescribeTableCommand');
      for (let i = 0; i < 3; i++) await elsewhere.partition('p').get('k');
      expect(there.get('DescribeTableCommand'), 'and then once is enough there too').to.equal(described);
      await dropTable(tableName);
    });

    describe('createTable: false and no table', () => {
      const env = useOrigin();

      it('is a clear, logged error, and the cache runs fail-open', async () => {
        env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'from origin'));
        const warnings: string[] = [];
        const storage = new DynamoDBStorage({ tableName: uniqueTableName(), client: everything.attach(await localClient()) });
        const cache = env.cache({ storage, logger: { warn: (message) => warnings.push(message) } });
        for (let i = 0; i < 2; i++) expect((await fetchText(cache, `${env.origin.url}/a`)).body).to.equal('from origin');
        await cache.settled();
        expect(warnings.some((w) => /DynamoDB table "cachette-test-[^"]+" was not found: create it/.test(w))).to.equal(true);
        let error: unknown;
        try {
          await storage.partition('responses').get('k');
        } catch (caught) {
          error = caught;
        }
        expect((error as Error).message).to.match(/was not found: create it/);
      });
    });
  });

  describe('through the cache', () => {
    const env = useOrigin();

    it('a hit costs exactly one GetItem', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'body'));
      const counter = new CommandCounter();
      const storage = await dynamoStorage(counter);
      const cache = env.cache({ storage });
      await fetchText(cache, `${env.origin.url}/a`);
      await cache.settled();
      counter.reset();
      const hit = await fetchText(cache, `${env.origin.url}/a`);
      expect(hit.cacheStatus).to.match(/^cachette; hit/);
      expect([...counter.counts]).to.deep.equal([['GetItemCommand', 1]]);
    });

    it('clear() of 3,000 entries: ⌈3000/25⌉ BatchWriteItem calls plus Query pages, and nothing left', async function () {
      this.timeout(180_000);
      const counter = new CommandCounter();
      const storage = await dynamoStorage(counter);
      const cache = createCache({ storage });
      const partition = storage.partition('responses');
      const keys = Array.from({ length: 3000 }, (_, i) => `key-${i}`);
      for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((key) => partition.set(key, encode('v'))));
      expect(await partition.size()).to.equal(3000);
      counter.reset();
      await cache.clear();
      expect(counter.get('BatchWriteItemCommand')).to.equal(Math.ceil(3000 / 25));
      expect(counter.get('QueryCommand')).to.be.at.least(2 * 8);
      expect(counter.get('ScanCommand')).to.equal(0);
      expect([...counter.counts.keys()].sort()).to.deep.equal(['BatchWriteItemCommand', 'QueryCommand']);
      expect(await partition.size()).to.equal(0);
    });

    it('500 KB and 5 MB bodies round-trip byte-identical (split into chunks)', async function () {
      this.timeout(120_000);
      const bodies = { '/500k': randomBytes(500 * 1024), '/5m': randomBytes(5 * 1024 * 1024) };
      for (const [path, body] of Object.entries(bodies)) env.origin.route(path, respond(200, { 'cache-control': 'max-age=60' }, body));
      const counter = new CommandCounter();
      const storage = await dynamoStorage(counter);
      const cache = env.cache({ storage });
      for (const [path, body] of Object.entries(bodies)) {
        await fetchText(cache, env.origin.url + path);
        await cache.settled();
        counter.reset();
        const response = await cache.fetch(env.origin.url + path);
        expect(response.headers.get('cache-status'), path).to.match(/^cachette; hit/);
        expect(Buffer.from(await response.arrayBuffer()).equals(body), path).to.equal(true);
        expect(counter.get('GetItemCommand')).to.equal(1);
        expect(counter.get('BatchGetItemCommand'), 'the chunks, read in batches').to.be.within(1, 2);
      }
      expect(env.origin.hits()).to.equal(2);
    });

    it('a head whose chunks are missing is a miss', async () => {
      const body = randomBytes(900 * 1024);
      env.origin.route('/big', respond(200, { 'cache-control': 'max-age=60' }, body));
      const client = await localClient();
      const storage = await dynamoStorage(undefined, { client });
      const cache = env.cache({ storage });
      await fetchText(cache, `${env.origin.url}/big`);
      await cache.settled();
      // Remove one chunk behind the storage's back.
      let removed = 0;
      for (let shard = 0; shard < 8 && removed === 0; shard++) {
        const { Items = [] } = await client.send(
          new QueryCommand({
            TableName: storage.tableName,
            KeyConditionExpression: 'namespace = :pk',
            ExpressionAttributeValues: { ':pk': { S: `responses#${shard}~chunks` } },
          }),
        );
        const chunk = Items[1];
        if (chunk !== undefined) {
          await client.send(
            new DeleteItemCommand({ TableName: storage.tableName, Key: { namespace: chunk['namespace'] as never, key: chunk['key'] as never } }),
          );
          removed += 1;
        }
      }
      expect(removed).to.equal(1);
      const again = await cache.fetch(`${env.origin.url}/big`);
      expect(again.headers.get('cache-status')).to.match(/fwd=uri-miss/);
      expect(Buffer.from(await again.arrayBuffer()).equals(body)).to.equal(true);
    });

    for (const compression of [undefined, false] as const) {
      it(`compressible values are stored compressed, and come back whole (${compression === false ? "the storage's own deflate, the cache's compression off" : "the cache's compression"})`, async () => {
        const json = JSON.stringify(Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `name ${i}`, tags: ['a', 'b'] })));
        env.origin.route('/json', respond(200, { 'cache-control': 'max-age=60', 'content-type': 'application/json' }, json));
        const client = await localClient();
        const storage = await dynamoStorage(undefined, { client, shards: 1 });
        const cache = env.cache({ storage, ...(compression === undefined ? {} : { compression }) });
        await fetchText(cache, `${env.origin.url}/json`);
        await cache.settled();
        const { Items = [] } = await client.send(
          new QueryCommand({
            TableName: storage.tableName,
            KeyConditionExpression: 'namespace = :pk',
            ExpressionAttributeValues: { ':pk': { S: 'responses#0' } },
          }),
        );
        const value = Items[0]?.['value']?.B as Uint8Array | undefined;
        // The record arrives compressed (an envelope: 0xC1, then the codec), and too small for the storage's own threshold.
        if (compression === undefined) expect([value?.[0], Items[0]?.['zip']?.S]).to.deep.equal([0xc1, undefined]);
        else expect(Items[0]?.['zip']?.S).to.equal('deflate-raw');
        expect(value?.byteLength).to.be.below(json.length / 4);
        expect((await fetchText(cache, `${env.origin.url}/json`)).body).to.equal(json);
      });
    }

    it('a compressed value that no longer inflates is a miss, is deleted, and is not a storage failure', async () => {
      const client = await localClient();
      const storage = await dynamoStorage(undefined, { client, shards: 1 });
      const partition = storage.partition('p');
      await partition.set('k', new TextEncoder().encode('compressible '.repeat(2000)));
      await client.send(
        new UpdateItemCommand({
          TableName: storage.tableName,
          Key: { namespace: { S: 'p#0' }, key: { S: 'k' } },
          UpdateExpression: 'SET #v = :garbage',
          ExpressionAttributeNames: { '#v': 'value' },
          ExpressionAttributeValues: { ':garbage': { B: new Uint8Array([0xff, 0xfe, 0xfd, 0xfc]) } },
        }),
      );
      // Resolves (a miss): a rejection would count against the cache's circuit breaker.
      expect(await partition.get('k')).to.equal(undefined);
      expect((await partition.getMany(['k'])).size).to.equal(0);
      // The storage deletes what it could not read on its own, off the call: each look is a Query.
      for (let i = 0; i < 200 && (await partition.size()) > 0; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(await partition.size()).to.equal(0);
    });

    it('a value over maxValueSize is not stored, reported with a reason, never an error to the caller', async () => {
      const body = randomBytes(300 * 1024);
      env.origin.route('/big', respond(200, { 'cache-control': 'max-age=60' }, body));
      const storage = await dynamoStorage(undefined, { maxValueSize: 100 * 1024 });
      const errors: Array<Record<string, unknown>> = [];
      const listener = (message: unknown) => errors.push(message as Record<string, unknown>);
      diagnostics.subscribe('cachette:storage-error', listener);
      try {
        const cache = env.cache({ storage });
        const response = await cache.fetch(`${env.origin.url}/big`);
        expect(Buffer.from(await response.arrayBuffer()).equals(body)).to.equal(true);
        await cache.settled();
        expect(errors.map((e) => (e['error'] as Error).message)).to.satisfy((messages: string[]) =>
          messages.some((m) => /over the DynamoDBStorage maxValueSize/.test(m)),
        );
        expect(await rawPartitions(cache).responses.size()).to.equal(0);
      } finally {
        diagnostics.unsubscribe('cachette:storage-error', listener);
      }
    });

    it('two caches on one table (two cold starts): the second is served from what the first stored, redirects included', async () => {
      env.origin.route('/old', respond(301, { location: '/new', 'cache-control': 'max-age=3600' }));
      env.origin.route('/new', respond(200, { 'cache-control': 'max-age=3600' }, 'destination'));
      const tableName = uniqueTableName();
      const first = env.cache({ storage: await dynamoStorage(undefined, { tableName }) });
      expect((await fetchText(first, `${env.origin.url}/old`)).body).to.equal('destination');
      await first.settled();
      const before = env.origin.hits();
      const second = env.cache({ storage: new DynamoDBStorage({ tableName, client: everything.attach(await localClient()) }) });
      const served = await fetchText(second, `${env.origin.url}/old`);
      expect(served.body).to.equal('destination');
      expect(served.cacheStatus).to.match(/hit/);
      expect(env.origin.hits()).to.equal(before);
      // The redirects partition lives in the table too: deleting the target from the second removes the alias.
      expect(await second.delete({ entries: [`${env.origin.url}/new`] })).to.equal(2);
      expect(await first.contains({ url: `${env.origin.url}/old` })).to.equal(false);
    });
  });
});

async function dropTable(tableName: string): Promise<void> {
  const { DeleteTableCommand } = await import('@aws-sdk/client-dynamodb');
  const client: DynamoDBClient = await localClient();
  await client.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
  client.destroy();
}
