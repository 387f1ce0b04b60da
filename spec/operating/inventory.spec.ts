/**
 * Operating a cache on each backend: listing what is stored (as metadata),
 * looking up one URL, purging by tag, URL pattern, state or test, and moving
 * entries to another storage (export/import, copy) with their expiries.
 */

import { PassThrough } from 'node:stream';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { expect } from 'chai';
import { CommandCounter, dropTables, dynamoStorage } from '../../fixtures/dynamodb.js';
import { dynamoEndpoint, localClient } from '../../fixtures/dynamodb-local.js';
import { respond } from '../../fixtures/origin.js';
import { sqliteStorage, tempFolder } from '../../fixtures/sqlite.js';
import type { HttpCache } from '../../lib/cache.js';
import type { EntryInfo } from '../../lib/records/inspect.js';
import type { Storage } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { fetchText, useOrigin } from '../support.js';

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const list: T[] = [];
  for await (const item of items) list.push(item);
  return list;
}

const urlsOf = (entries: EntryInfo[]) => entries.map((entry) => new URL(entry.url).pathname + new URL(entry.url).search).sort();

interface Backend {
  name: string;
  create: () => Promise<Storage>;
  before?: () => Promise<void>;
  after?: () => Promise<void>;
}

const folder = tempFolder();
let files = 0;
const dynamoCommands = new CommandCounter();
/** The partition key values DynamoDB was asked to Query, in order. */
const queried: string[] = [];

async function recordedClient(): Promise<DynamoDBClient> {
  const client = await localClient();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'QueryCommand') {
        const input = args.input as { ExpressionAttributeValues?: Record<string, { S?: string }> };
        queried.push(input.ExpressionAttributeValues?.[':pk']?.S ?? '?');
      }
      return next(args);
    },
    { step: 'initialize', name: 'record-queries' },
  );
  return client;
}
const backends: Backend[] = [
  { name: 'MemoryStorage', create: async () => new MemoryStorage() },
  { name: 'SqliteStorage', create: async () => sqliteStorage({ path: `${folder.path}/inventory-${files++}.db` }) },
  {
    name: 'DynamoDBStorage (DynamoDB Local)',
    before: async () => void (await dynamoEndpoint()),
    create: async () => dynamoStorage(dynamoCommands, { shards: 2, client: await recordedClient() }),
    after: dropTables,
  },
];

after(() => folder.remove());

for (const backend of backends) {
  describe(`operating the cache on ${backend.name}`, function () {
    this.timeout(60_000);
    const env = useOrigin({ clock: true });
    const url = (path: string) => `${env.origin.url}${path}`;
    let cache: HttpCache;

    before(async function () {
      this.timeout(180_000);
      await backend.before?.();
    });
    afterEach(async () => {
      await backend.after?.();
    });

    beforeEach(async () => {
      env.origin.route('/v1/users', respond(200, { 'cache-control': 'max-age=60', 'cache-tag': 'users, team-a', etag: '"u"' }, 'users'));
      env.origin.route('/v1/orders', respond(200, { 'cache-control': 'max-age=600', 'cache-tag': 'orders' }, 'orders!'));
      env.origin.route('/v2/lang', respond(200, { 'cache-control': 'max-age=60', vary: 'accept-language', etag: '"l"' }, 'hello'));
      // With validators, stale entries are kept (to be revalidated): listed as stale.
      env.origin.route('/plain', respond(200, { 'cache-control': 'max-age=60', etag: '"p"' }, 'plain'));
      cache = env.cache({ storage: await backend.create(), cacheTagsHeader: 'Cache-Tag' });
      await fetchText(cache, url('/v1/users'));
      await fetchText(cache, url('/v1/orders'));
      await fetchText(cache, url('/v2/lang'), { headers: { 'accept-language': 'en' } });
      await fetchText(cache, url('/v2/lang'), { headers: { 'accept-language': 'fr' } });
      await fetchText(cache, url('/plain'), { cachette: { tags: ['manual'] } });
      await cache.settled();
    });

    it('entries() lists every stored response as metadata, variants included, without asking the origin', async () => {
      const before = env.origin.hits();
      const entries = await all(cache.entries());
      expect(urlsOf(entries)).to.deep.equal(['/plain', '/v1/orders', '/v1/users', '/v2/lang', '/v2/lang']);
      const users = entries.find((entry) => entry.url.endsWith('/v1/users')) as EntryInfo;
      expect(users).to.include({ method: 'GET', status: 200, size: 5, state: 'fresh' });
      expect(users.tags).to.deep.equal(['users', 'team-a']);
      expect(users.freshUntil?.getTime()).to.equal(users.storedAt.getTime() + 60_000);
      expect(users.varies).to.equal(null);
      const languages = entries.filter((entry) => entry.url.endsWith('/v2/lang')).map((entry) => entry.varies);
      expect(languages).to.have.deep.members([{ 'accept-language': 'en' }, { 'accept-language': 'fr' }]);
      expect((entries.find((entry) => entry.url.endsWith('/plain')) as EntryInfo).tags).to.deep.equal(['manual']);
      expect(env.origin.hits()).to.equal(before);
    });

    it('entries() filters by URL prefix or glob, by state, by a test', async () => {
      expect(urlsOf(await all(cache.entries({ url: `${env.origin.url}/v1` })))).to.deep.equal(['/v1/orders', '/v1/users']);
      expect(urlsOf(await all(cache.entries({ url: `127.0.0.1:*/v?/lang` })))).to.deep.equal(['/v2/lang', '/v2/lang']);
      await env.clock.advance(120);
      expect(urlsOf(await all(cache.entries({ state: 'fresh' })))).to.deep.equal(['/v1/orders']);
      expect(urlsOf(await all(cache.entries({ state: 'stale' })))).to.have.length(4);
      expect(urlsOf(await all(cache.entries({ where: (entry) => entry.size > 5 })))).to.deep.equal(['/v1/orders']);
      await cache
        .entries({ state: 'old' as never })
        [Symbol.asyncIterator]()
        .next()
        .then(
          () => expect.fail('a bad state must be refused'),
          (error: Error) => expect(error.message).to.match(/state must be fresh, stale or unusable/),
        );
    });

    it('inspect(url) shows the entry of one URL, or its variants', async () => {
      const [users] = await cache.inspect(url('/v1/users'));
      expect(users?.url).to.equal(url('/v1/users'));
      expect((await cache.inspect(url('/v2/lang'))).map((entry) => entry.varies)).to.have.deep.members([
        { 'accept-language': 'en' },
        { 'accept-language': 'fr' },
      ]);
      expect(await cache.inspect(url('/never'))).to.deep.equal([]);
    });

    it('delete({ tags }) removes every response with one of the tags, through the tag index, and says how many', async () => {
      dynamoCommands.reset();
      queried.length = 0;
      expect(await cache.delete({ tags: ['team-a', 'manual'] })).to.equal(2);
      if (backend.name.startsWith('DynamoDB')) {
        // Queries of each tag's index partition (one per shard), and of its name in cachette 0.1: the responses are never listed.
        expect(queried.length).to.be.above(0);
        const tagIndex = /^(tag~(dGVhbS1h|bWFudWFs)|tag:(team-a|manual))#\d+$/; // base64url of team-a and manual
        expect(queried.filter((pk) => !tagIndex.test(pk))).to.deep.equal([]);
        expect(dynamoCommands.get('ScanCommand')).to.equal(0);
      }
      expect(urlsOf(await all(cache.entries()))).to.deep.equal(['/v1/orders', '/v2/lang', '/v2/lang']);
      // The index went with them: purging again finds nothing.
      expect(await cache.delete({ tags: ['team-a', 'manual'] })).to.equal(0);
      const refetched = await fetchText(cache, url('/v1/users'));
      expect(refetched.cacheStatus).to.match(/fwd=uri-miss/);
    });

    it('a response stored again without a tag is not purged by it', async () => {
      env.origin.route('/v1/users', respond(200, { 'cache-control': 'max-age=60' }, 'users v2'));
      await fetchText(cache, url('/v1/users'), { cache: 'reload' });
      await cache.settled();
      expect(await cache.delete({ tags: ['users'] })).to.equal(0);
      expect((await fetchText(cache, url('/v1/users'))).body).to.equal('users v2');
    });

    it('delete({ matching }) removes by URL pattern, state or test', async () => {
      expect(await cache.delete({ matching: { url: `${env.origin.url}/v2/*` } })).to.equal(2);
      await env.clock.advance(120);
      expect(await cache.delete({ matching: { state: 'stale', where: (entry) => entry.tags.includes('users') } })).to.equal(1);
      expect(urlsOf(await all(cache.entries()))).to.deep.equal(['/plain', '/v1/orders']);
      await cache.delete({ matching: { url: 'nowhere' } });
      await cache.delete({ tags: 'users' as never }).then(
        () => expect.fail('a bad tag list must be refused'),
        (error: Error) => expect(error).to.be.instanceOf(TypeError),
      );
    });

    it('export() and import() move the entries, with their expiries and tags, to another storage', async () => {
      const file = new PassThrough();
      const exported = cache.export(file);
      const lines: Buffer[] = [];
      file.on('data', (chunk: Buffer) => lines.push(chunk));
      const { records } = await exported;
      file.end();
      // 4 responses, a Vary index and its 2 variants: 6 records in the responses partition.
      expect(records).to.equal(6);
      const text = Buffer.concat(lines).toString();
      expect(JSON.parse(text.split('\n')[0] as string)).to.include({ kind: 'cachette-export', version: 1 });

      const target = env.cache({ storage: new MemoryStorage() });
      const input = new PassThrough();
      input.end(text);
      expect(await target.import(input)).to.deep.equal({ records: 6, skipped: 0 });
      const moved = await all(target.entries());
      const original = await all(cache.entries());
      const view = (entries: EntryInfo[]) => entries.map((entry) => [entry.key, entry.usableUntil?.getTime(), entry.freshUntil?.getTime(), entry.tags]).sort();
      expect(view(moved)).to.deep.equal(view(original));
      const before = env.origin.hits();
      expect((await fetchText(target, url('/v1/orders'))).cacheStatus).to.match(/^cachette; hit/);
      expect(env.origin.hits()).to.equal(before);
      expect(await target.delete({ tags: ['orders'] })).to.equal(1);
    });

    it('copyTo() copies to another backend; copying again changes nothing', async () => {
      const target = env.cache({ storage: await backend.create() });
      expect(await cache.copyTo(target)).to.deep.equal({ records: 6, skipped: 0 });
      expect(await cache.copyTo(target)).to.deep.equal({ records: 6, skipped: 0 });
      expect(urlsOf(await all(target.entries()))).to.deep.equal(urlsOf(await all(cache.entries())));
      // Entries past every use (validators keep them a day past freshness) stay behind.
      await env.clock.advance(3 * 86_400);
      const later = env.cache({ storage: new MemoryStorage() });
      expect(await cache.copyTo(later)).to.deep.equal({ records: 0, skipped: 6 });
    });

    it('an export that is not one is refused with a clear error', async () => {
      for (const [text, message] of [
        ['', /empty/],
        ['{"kind":"something"}\n', /not a cachette export/],
        ['{"kind":"cachette-export","version":9}\n', /version 9 is not supported/],
        ['{"kind":"cachette-export","version":1}\n{"p":"x"}\n', /line 2 of the export is not a record/],
        ['hello\n', /not JSON/],
      ] as const) {
        const input = new PassThrough();
        input.end(text);
        await cache.import(input).then(
          () => expect.fail(`accepted ${JSON.stringify(text)}`),
          (error: Error) => expect(error.message).to.match(message),
        );
      }
    });
  });
}

describe('entries() with a memory tier', () => {
  const env = useOrigin();
  const folder = tempFolder();
  after(() => folder.remove());

  it('tells which entries the memory tier holds too and which only the storage behind it', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'a'));
    env.origin.route('/b', respond(200, { 'cache-control': 'max-age=60' }, 'b'));
    const path = `${folder.path}/tiered.db`;
    const first = env.cache({ storage: sqliteStorage({ path }), memoryTier: {} });
    await fetchText(first, `${env.origin.url}/a`);
    await fetchText(first, `${env.origin.url}/b`);
    await first.close();
    // A new instance (a new Lambda, say): its memory tier is empty until a hit brings an entry in.
    const second = env.cache({ storage: sqliteStorage({ path }), memoryTier: {} });
    expect((await fetchText(second, `${env.origin.url}/a`)).cacheStatus).to.match(/^cachette; hit/);
    const tiers = Object.fromEntries((await all(second.entries())).map((entry) => [new URL(entry.url).pathname, entry.tier]));
    expect(tiers).to.deep.equal({ '/a': 'memory', '/b': 'storage' });
  });
});
