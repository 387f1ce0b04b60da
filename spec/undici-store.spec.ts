/**
 * cachette/undici-store: cachette storages behind undici's own
 * interceptors.cache (undici 7 on Node 20, undici 8 on Node 24): what undici
 * stores is kept and served, variants included, on every backend; corrupt
 * records and a storage that hangs are misses, never failures.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Agent, cacheStores, type Dispatcher, interceptors, request } from 'undici';
import { dropTables, dynamoStorage } from '../fixtures/dynamodb.js';
import { dynamoEndpoint } from '../fixtures/dynamodb-local.js';
import { FaultyStorage } from '../fixtures/faulty-storage.js';
import { respond } from '../fixtures/origin.js';
import { type RedisServer, startRedis } from '../fixtures/redis-server.js';
import { sqliteStorage, tempFolder } from '../fixtures/sqlite.js';
import { completePartition, type Storage } from '../lib/storage/contract.js';
import { MemoryStorage } from '../lib/storage/memory.js';
import { RedisStorage } from '../lib/storage/redis.js';
import { UndiciCacheStore } from '../lib/undici-store.js';
import { useOrigin } from './support.js';

const folder = tempFolder();
let redis: RedisServer | undefined;
const backends: Array<{ name: string; create: () => Promise<Storage>; before?: () => Promise<void> }> = [
  { name: 'MemoryStorage', create: async () => new MemoryStorage() },
  { name: 'SqliteStorage', create: async () => sqliteStorage({ path: `${folder.path}/${randomUUID()}.db` }) },
  { name: 'DynamoDBStorage (DynamoDB Local)', before: async () => void (await dynamoEndpoint()), create: () => dynamoStorage() },
  {
    name: 'RedisStorage (redis-server)',
    before: async () => {
      redis ??= await startRedis();
    },
    create: async () => new RedisStorage({ url: (redis as RedisServer).url, keyPrefix: `undici-${randomUUID()}:` }),
  },
];

after(async () => {
  folder.remove();
  await redis?.stop();
});

async function get(agent: Dispatcher, url: string, headers: Record<string, string> = {}) {
  const response = await request(url, { dispatcher: agent, headers });
  return { status: response.statusCode, body: await response.body.text(), age: response.headers['age'] };
}

for (const backend of backends) {
  describe(`UndiciCacheStore on ${backend.name}, behind undici's interceptors.cache`, function () {
    this.timeout(60_000);
    const env = useOrigin();
    const agents: Dispatcher[] = [];
    const storages: Storage[] = [];
    const errors: Error[] = [];
    const cached = async () => {
      const storage = await backend.create();
      storages.push(storage);
      const store = new UndiciCacheStore({ storage, onError: (error) => errors.push(error as Error) });
      const agent = new Agent().compose(interceptors.cache({ store } as never));
      agents.push(agent);
      return { agent, storage, store };
    };

    before(async function () {
      this.timeout(180_000);
      await backend.before?.();
    });
    afterEach(async () => {
      await Promise.all(agents.splice(0).map((agent) => agent.close()));
      await Promise.all(storages.splice(0).map((storage) => storage.close()));
      if (backend.name.startsWith('DynamoDB')) await dropTables();
    });

    it('stores what undici stores and serves it again, without the origin', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'body'));
      const { agent, store } = await cached();
      expect((await get(agent, `${env.origin.url}/a`)).body).to.equal('body');
      await store.settled();
      expect(await store.get({ origin: env.origin.url, method: 'GET', path: '/a' })).to.not.equal(undefined);
      const again = await get(agent, `${env.origin.url}/a`);
      expect(again.body).to.equal('body');
      expect(again.age).to.be.a('string');
      expect(env.origin.hits('/a')).to.equal(1);
    });

    it('a caller changing the chunks of a miss as they arrive changes nothing the store keeps', async () => {
      const BODY = 'the stored body '.repeat(200);
      // Two parts, the second after the caller has had the first: what it does to a chunk is done before the body ends.
      let second: (() => void) | undefined;
      env.origin.route('/owned', (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(Buffer.byteLength(BODY)) });
        res.write(BODY.slice(0, 1000));
        second = () => res.end(BODY.slice(1000));
      });
      const { agent, store } = await cached();
      const response = await request(`${env.origin.url}/owned`, { dispatcher: agent });
      let received = '';
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        received += chunk.toString();
        chunk.fill(0x21);
        second?.();
        second = undefined;
      }
      expect(received).to.equal(BODY);
      await store.settled();
      expect((await get(agent, `${env.origin.url}/owned`)).body).to.equal(BODY);
      expect(env.origin.hits('/owned')).to.equal(1);
    });

    it('answers at once where the storage reads synchronously (memory, SQLite), as undici’s own stores do; with a promise elsewhere', async () => {
      const { store, storage } = await cached();
      const key = { origin: env.origin.url, method: 'GET', path: '/sync' };
      const synchronous = !backend.name.startsWith('DynamoDB') && !backend.name.startsWith('Redis');
      const missing = store.get(key);
      expect(missing instanceof Promise).to.equal(!synchronous);
      expect(await missing).to.equal(undefined);
      const value = {
        statusCode: 200,
        statusMessage: 'OK',
        headers: { a: '1' },
        cachedAt: Date.now(),
        staleAt: Date.now() + 60_000,
        deleteAt: Date.now() + 60_000,
      };
      const writing = store.createWriteStream(key, value);
      writing.end(Buffer.from('sync body'));
      // On its way to the storage: found at once, whatever the storage.
      const landing = store.get(key);
      expect(landing instanceof Promise).to.equal(false);
      await new Promise((resolve) => writing.once('finish', resolve));
      // From the storage alone, through another store on it.
      const stored = new UndiciCacheStore({ storage }).get(key);
      expect(stored instanceof Promise).to.equal(!synchronous);
      const found = await stored;
      expect(Buffer.concat(found?.body ?? []).toString()).to.equal('sync body');
      expect(found?.headers).to.deep.equal({ a: '1' });
    });

    it('keeps each Vary variant, and serves each to its own request', async () => {
      env.origin.route('/v', (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-language' });
        res.end(`hello ${req.headers['accept-language']}`);
      });
      const { agent, store } = await cached();
      for (const language of ['en', 'fr']) {
        await get(agent, `${env.origin.url}/v`, { 'accept-language': language });
        const key = { origin: env.origin.url, method: 'GET', path: '/v', headers: { 'accept-language': language } };
        await store.settled();
        expect(await store.get(key)).to.not.equal(undefined);
      }
      expect((await get(agent, `${env.origin.url}/v`, { 'accept-language': 'fr' })).body).to.equal('hello fr');
      expect((await get(agent, `${env.origin.url}/v`, { 'accept-language': 'en' })).body).to.equal('hello en');
      expect(env.origin.hits('/v')).to.equal(2);
    });

    it('a hit carries the fields undici’s own store gives back, whatever their names (__proto__, constructor, repeated)', async () => {
      env.origin.route('/odd', (_req, res) => {
        res.writeHead(200, ['cache-control', 'max-age=60', '__proto__', 'p', 'constructor', 'c', 'toString', 't', 'X-A', '1', 'x-a', '2']);
        res.end('odd');
      });
      const hitOf = async (agent: Dispatcher, settled: () => Promise<void>) => {
        await get(agent, `${env.origin.url}/odd`);
        await settled();
        const response = await request(`${env.origin.url}/odd`, { dispatcher: agent });
        await response.body.text();
        expect(response.headers['age'], 'a hit').to.be.a('string');
        return response.headers;
      };
      const { agent, storage, store } = await cached();
      const ours = await hitOf(agent, () => store.settled());
      const undicis = new Agent().compose(interceptors.cache({ store: new cacheStores.MemoryCacheStore() }));
      agents.push(undicis);
      const theirs = await hitOf(undicis, async () => undefined);
      for (const name of ['__proto__', 'constructor', 'tostring', 'x-a']) expect(ours[name], name).to.deep.equal(theirs[name]);
      // Read back from the storage alone (not from the write on its way): a plain object, as undici's stores give
      // back, every field an own property of it — `__proto__` a field, not its prototype.
      const reader = new UndiciCacheStore({ storage });
      const key = { origin: env.origin.url, method: 'GET', path: '/odd' };
      const stored = await reader.get(key);
      expect(Object.getPrototypeOf(stored?.headers)).to.equal(Object.prototype);
      expect(Object.entries(stored?.headers ?? {})).to.deep.include.members([
        ['__proto__', 'p'],
        ['constructor', 'c'],
      ]);
      expect(Object.getOwnPropertyDescriptor(stored?.headers, '__proto__')?.value).to.equal('p');
    });

    it('a stored body is a list of chunks, as undici iterates it after a 304; revalidations go as with undici’s own store', async () => {
      errors.length = 0;
      const seen: Record<string, Array<string | undefined>> = { ours: [], theirs: [], first: [] };
      let who: 'ours' | 'theirs' | 'first' = 'first';
      env.origin.route('/r', (req, res) => {
        seen[who]?.push(req.headers['if-none-match']);
        const headers = { etag: '"v1"', 'cache-control': 'no-cache, max-age=60' };
        if (req.headers['if-none-match'] === '"v1"') {
          res.writeHead(304, headers);
          res.end();
          return;
        }
        res.writeHead(200, headers);
        res.end('the whole body');
      });
      const { agent, store } = await cached();
      const undicis = new Agent().compose(interceptors.cache({ store: new cacheStores.MemoryCacheStore() }));
      agents.push(undicis);
      const key = { origin: env.origin.url, method: 'GET', path: '/r' };
      expect((await get(agent, `${env.origin.url}/r`)).body).to.equal('the whole body');
      await store.settled();
      const stored = await store.get(key);
      const chunks = stored === undefined ? [] : [...stored.body.values()];
      expect(chunks.every((chunk) => Buffer.isBuffer(chunk))).to.equal(true);
      expect(Buffer.concat(chunks).toString()).to.equal('the whole body');
      await get(undicis, `${env.origin.url}/r`);
      for (const [name, dispatcher] of [
        ['ours', agent],
        ['theirs', undicis],
      ] as const) {
        who = name;
        for (let i = 0; i < 3; i++) {
          expect((await get(dispatcher, `${env.origin.url}/r`)).body).to.equal('the whole body');
          // What undici asks of the store lands before the next request (ours writes through a queue).
          if (name === 'ours') await store.settled();
        }
      }
      expect(seen['ours']).to.deep.equal(seen['theirs']);
      expect(errors).to.deep.equal([]);
    });

    it('a Host names its own record', async () => {
      env.origin.route('/h', (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end(`host=${req.headers.host}`);
      });
      const { agent, store } = await cached();
      expect((await get(agent, `${env.origin.url}/h`, { host: 'tenant-a.example' })).body).to.equal('host=tenant-a.example');
      await store.settled();
      expect(await store.get({ origin: env.origin.url, method: 'GET', path: '/h', headers: { host: 'tenant-a.example' } })).to.not.equal(undefined);
      expect((await get(agent, `${env.origin.url}/h`)).body).to.match(/^host=127\.0\.0\.1:/);
      // Latin-1 letters are bytes of their own; a null Host is sent empty, not as "null".
      const asked = async (headers: Record<string, string | null>) => {
        const response = await agent.request({ origin: env.origin.url, path: '/h', method: 'GET', headers: headers as Record<string, string> });
        return response.body.text();
      };
      expect(await asked({ host: 'TENANT-\u00c0' })).to.equal('host=TENANT-\u00c0');
      await store.settled();
      expect(await store.get({ origin: env.origin.url, method: 'GET', path: '/h', headers: { host: 'TENANT-\u00c0' } })).to.not.equal(undefined);
      expect(await asked({ host: 'tenant-\u00e0' })).to.equal('host=tenant-\u00e0');
      expect(await asked({ host: null })).to.equal('host=');
      expect(await asked({ host: 'null' })).to.equal('host=null');
    });

    it('a corrupt record is a miss, and is deleted', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'body'));
      const { agent, storage, store } = await cached();
      await get(agent, `${env.origin.url}/a`);
      const partition = completePartition(storage.partition('undici'), 'undici');
      await store.settled();
      const all: Array<[string, Uint8Array]> = [];
      for await (const entry of partition.entries()) all.push(entry);
      expect(all).to.have.length(1);
      const [key, bytes] = all[0] as [string, Uint8Array];
      const flipped = new Uint8Array(bytes);
      flipped[10] = (flipped[10] as number) ^ 0xff;
      await partition.set(key, flipped);
      errors.length = 0;
      expect((await get(agent, `${env.origin.url}/a`)).body).to.equal('body');
      expect(env.origin.hits('/a')).to.equal(2);
      expect(errors.map((error) => error.message)).to.deep.equal([`unreadable undici-store record under key ${key} deleted`]);
    });
  });
}

describe('UndiciCacheStore on a bounded MemoryStorage', () => {
  const env = useOrigin();

  it("keeps undici's cache within maxBytes, however many URLs it stores (undici 7's MemoryCacheStore does not)", async () => {
    const body = Buffer.alloc(20 * 1024, 'b');
    env.origin.route('/page', respond(200, { 'cache-control': 'max-age=60' }, body));
    const storage = new MemoryStorage({ maxBytes: 1024 * 1024 });
    const store = new UndiciCacheStore({ storage });
    const agent = new Agent().compose(interceptors.cache({ store } as never));
    try {
      let peak = 0;
      for (let i = 0; i < 200; i++) {
        expect((await get(agent, `${env.origin.url}/page?n=${i}`)).body).to.have.length(body.length);
        peak = Math.max(peak, storage.usage.bytes);
      }
      const newest = { origin: env.origin.url, method: 'GET', path: '/page?n=199' };
      // A second store over the same storage sees only what has landed there (not the first's writes on their way).
      const landed = new UndiciCacheStore({ storage });
      await store.settled();
      expect(await landed.get(newest)).to.not.equal(undefined);
      // 4 MiB of bodies went in; what is kept stays under the bound, the newest in it.
      expect(peak).to.be.at.most(1024 * 1024);
      expect(storage.usage.entries).to.be.within(20, 50);
      await get(agent, `${env.origin.url}/page?n=199`);
      expect(env.origin.hits('/page')).to.equal(200);
    } finally {
      await agent.close();
      await storage.close();
    }
  });
});

describe('UndiciCacheStore on a storage that hangs', () => {
  const env = useOrigin();

  it('every request is answered: a read past its deadline is a miss', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'body'));
    const errors: unknown[] = [];
    const storage = new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['hang'], seed: 1 });
    const store = new UndiciCacheStore({ storage, timeouts: { read: 0.02, write: 0.02 }, onError: (error) => errors.push(error) });
    const agent = new Agent().compose(interceptors.cache({ store } as never));
    try {
      for (let i = 0; i < 3; i++) expect((await get(agent, `${env.origin.url}/a`)).body).to.equal('body');
      expect(env.origin.hits('/a')).to.be.at.least(1);
      expect(errors.length).to.be.above(0);
      expect((errors[0] as Error).name).to.equal('StorageDeadlineError');
    } finally {
      await agent.close();
    }
  });

  it('a deletion made while a write is on its way is not undone when the write lands', async () => {
    const storage = new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['slow'], seed: 2, operations: ['set'] });
    const store = new UndiciCacheStore({ storage });
    const key = { origin: 'http://127.0.0.1:1', method: 'GET', path: '/a' };
    const now = Date.now();
    const stream = store.createWriteStream(key, {
      statusCode: 200,
      statusMessage: 'OK',
      headers: {},
      cachedAt: now,
      staleAt: now + 60_000,
      deleteAt: now + 120_000,
    });
    const ended = new Promise<void>((resolve) => stream.end(Buffer.from('body'), resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // On its way (the storage takes 100 ms to write): found at once, as undici's own stores find a write at once.
    expect((await store.get(key))?.body.toString()).to.equal('body');
    expect(await storage.partition('undici').size()).to.equal(0);
    await store.delete(key);
    expect(await store.get(key)).to.equal(undefined);
    await ended;
    expect(await storage.partition('undici').size()).to.equal(0);
  });

  it('options are validated', () => {
    expect(() => new UndiciCacheStore({} as never)).to.throw(TypeError, /needs \{ storage/);
    expect(() => new UndiciCacheStore({ storage: new MemoryStorage(), timeouts: { read: 0 } })).to.throw(TypeError, /timeouts\.read/);
    expect(() => new UndiciCacheStore({ storage: new MemoryStorage(), readTimeout: 500 } as never)).to.throw(
      TypeError,
      /readTimeout \(milliseconds\) became timeouts/,
    );
  });
});
