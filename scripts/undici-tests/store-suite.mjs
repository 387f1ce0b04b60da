// undici's CacheStore suite (test/cache-interceptor/cache-store-test-utils.js,
// read from the checkout) against one store, run as a node:test file by
// scripts/undici-tests.mjs. UNDICI_STORE names it:
//   memory, sqlite, redis, dynamodb  cachette/undici-store on that cachette storage
//   undici-memory, undici-sqlite     undici's own stores, for comparison
// With UNDICI_STORE_ADAPTED=1 the suite is adapted, in two mechanical edits,
// to a store that answers over a network: its synchronous sanity checks
// (`equal(store.get(key), undefined)`, no await) are awaited (undici's
// CacheStore type lets `get` return a promise, and its interceptor awaits
// it), and its fake clock fakes `Date` alone (by default it also freezes
// setImmediate, on which node-redis sends its commands).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { pathToFileURL } from 'node:url';

const { UNDICI_CHECKOUT: checkout, CACHETTE_DIST: dist, UNDICI_STORE: backend } = process.env;
const suitePath = join(checkout, 'test', 'cache-interceptor', 'cache-store-test-utils.js');
const fromCheckout = createRequire(join(checkout, 'index.js'));
const cachette = (path) => import(pathToFileURL(join(dist, 'lib', path)).href);

function suite() {
  if (process.env.UNDICI_STORE_ADAPTED !== '1') return fromCheckout(suitePath);
  const source = readFileSync(suitePath, 'utf8');
  const adapted = source.replaceAll('equal(store.get(', 'equal(await store.get(').replaceAll('FakeTimers.install({', "FakeTimers.install({ toFake: ['Date'],");
  const module = new Module(suitePath);
  module.filename = suitePath;
  module.paths = Module._nodeModulePaths(dirname(suitePath));
  module._compile(adapted, suitePath);
  return module.exports;
}

const closers = [];
const { setTimeout: realTimeout } = globalThis;
after(async () => {
  // A client some test's fake clock left stuck (its writes scheduled on a timer that never ran) is not waited for.
  for (const close of closers)
    await Promise.race([
      Promise.resolve()
        .then(close)
        .catch(() => undefined),
      new Promise((resolve) => realTimeout(resolve, 2000)),
    ]);
});

/** A class undici's suite can make with `new CacheStore(options)`, each instance a store of its own. */
async function storeClass() {
  if (backend === 'undici-memory') return fromCheckout(join(checkout, 'lib', 'cache', 'memory-cache-store.js'));
  if (backend === 'undici-sqlite') return fromCheckout(join(checkout, 'lib', 'cache', 'sqlite-cache-store.js'));
  const { UndiciCacheStore } = await cachette('undici-store.js');
  const run = `undici-suite-${process.pid}-${Date.now()}`;
  let made = 0;
  let storageFor;
  if (backend === 'memory') {
    const { MemoryStorage } = await cachette('index.js');
    storageFor = () => new MemoryStorage();
  } else if (backend === 'sqlite') {
    const { SqliteStorage } = await cachette('sqlite.js');
    const folder = mkdtempSync(join(tmpdir(), 'cachette-undici-suite-'));
    closers.push(() => rmSync(folder, { recursive: true, force: true }));
    storageFor = () => {
      const storage = new SqliteStorage({ path: join(folder, `store-${made}.db`) });
      closers.unshift(() => storage.close());
      return storage;
    };
  } else if (backend === 'redis') {
    const { RedisStorage } = await cachette('redis.js');
    const { createClient } = fromCachette('@redis/client');
    // A connection per store, ended without waiting: one the suite's fake clock stalls (its commands are
    // written on setImmediate) leaves the others alone, and does not hold the process.
    storageFor = () => {
      const client = createClient({ url: process.env.REDIS_URL });
      client.unref();
      void client.connect();
      closers.unshift(async () => client.destroy());
      return new RedisStorage({ client });
    };
  } else if (backend === 'dynamodb') {
    const { DeleteTableCommand, DynamoDBClient } = fromCachette('@aws-sdk/client-dynamodb');
    const { DynamoDBStorage } = await cachette('dynamodb.js');
    const client = () =>
      new DynamoDBClient({
        endpoint: process.env.DYNAMODB_ENDPOINT,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
    const admin = client();
    await new DynamoDBStorage({ client: admin, tableName: run }).createTable();
    closers.push(async () => {
      await admin.send(new DeleteTableCommand({ TableName: run })).catch(() => undefined);
      admin.destroy();
    });
    storageFor = () => {
      const own = client();
      closers.unshift(async () => own.destroy());
      return new DynamoDBStorage({ client: own, tableName: run });
    };
  } else {
    throw new Error(`UNDICI_STORE must be memory, sqlite, redis, dynamodb, undici-memory or undici-sqlite, got ${backend}`);
  }
  const name = `UndiciCacheStore on ${backend}`;
  // Every instance its own partition: a new store starts empty, as the suite expects.
  return {
    [name]: class extends UndiciCacheStore {
      constructor(options = {}) {
        made += 1;
        super({ storage: storageFor(), partition: `${run}-${made}`, ...options });
      }
    },
  }[name];
}

/** A package of cachette's own dependencies (the checkout has no AWS SDK). */
function fromCachette(id) {
  return createRequire(join(dist, '..', 'package.json'))(id);
}

suite().cacheStoreTests(await storeClass());
