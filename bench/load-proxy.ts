/**
 * One contender of the load bench: an HTTP server that answers each request
 * by calling the upstream API through `undici.request` with the contender's
 * dispatcher — what an app in front of a third-party API does. Its own
 * process, so each contender has the machine's CPU to itself. Tells the
 * parent its port, and its RSS when asked.
 *
 *   node load-proxy.js <contender>    (UPSTREAM, REDIS_URL in the environment)
 */
import http from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Agent, cacheStores, type Dispatcher, interceptors, request } from 'undici';
import { createCache } from '../lib/cache.js';
import { undiciAdapter } from '../lib/interceptor/undici/index.js';
import type { Storage } from '../lib/storage/contract.js';
import { DynamoDBStorage } from '../lib/storage/dynamodb/storage.js';
import { MemoryStorage } from '../lib/storage/memory.js';
import { RedisStorage } from '../lib/storage/redis.js';
import { SqliteStorage } from '../lib/storage/sqlite.js';

/** A contender run on Node 24 (and undici 8) is named with `@24`: the same setup, another runtime. */
const contender = (process.argv[2] as string).replace(/@24$/, '');
const upstream = process.env['UPSTREAM'] as string;

async function dispatcher(): Promise<Dispatcher> {
  const agent = new Agent({ connections: 64 });
  const cachette = (storage: Storage, memoryTier = false) =>
    createCache({ storage, ...(memoryTier ? { memoryTier: { maxBytes: 64 * 1024 * 1024, syncEvery: 2 } } : {}) }).dispatcher;
  switch (contender) {
    case 'none':
      return agent;
    case 'undici-memory':
      return agent.compose(interceptors.cache());
    case 'undici-sqlite':
      // node:sqlite: Node 22.5 and later.
      return agent.compose(interceptors.cache({ store: new cacheStores.SqliteCacheStore({ location: process.env['SQLITE_PATH'] as string }) }));
    case 'undici-cache-redis': {
      // As its README configures it: a RedisCacheStore on the server, under undici's own cache interceptor.
      const { RedisCacheStore } = await import('undici-cache-redis');
      const redis = new URL(process.env['REDIS_URL'] as string);
      const store = new RedisCacheStore({ clientOpts: { host: redis.hostname, port: Number(redis.port), keyPrefix: `load-${process.pid}:` } });
      return agent.compose(interceptors.cache({ store }));
    }
    case 'cachette-memory':
      return cachette(new MemoryStorage());
    case 'cachette-sqlite':
      return cachette(new SqliteStorage({ path: process.env['SQLITE_PATH'] as string }));
    case 'cachette-redis':
      return cachette(new RedisStorage({ url: process.env['REDIS_URL'] as string, keyPrefix: `load-${process.pid}:` }));
    case 'cachette-dynamodb-tier': {
      // DynamoDB Local (placeholder credentials it accepts); the run's table, made by the first proxy that uses it.
      const client = new DynamoDBClient({
        endpoint: process.env['DYNAMODB_ENDPOINT'] as string,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      const storage = new DynamoDBStorage({ tableName: process.env['DYNAMODB_TABLE'] as string, client, createTable: true });
      await storage.createTable();
      return cachette(storage, true);
    }
    case 'cachette-redis-tier':
      return cachette(new RedisStorage({ url: process.env['REDIS_URL'] as string, keyPrefix: `load-${process.pid}:` }), true);
    default:
      throw new Error(`unknown contender ${contender}`);
  }
}

/**
 * Through fetch: the runtime's own (no cache), or `cache.fetch` (a cache on MemoryStorage); and, to tell
 * what fetch with a dispatcher costs from what the cache adds, the runtime's fetch given an undici Agent of
 * the package's, and `cache.fetch` of a disabled cache (the same dispatcher chain, no cache work).
 */
function fetcher(): typeof globalThis.fetch | undefined {
  switch (contender) {
    case 'fetch':
      return globalThis.fetch;
    case 'fetch-agent': {
      const init = { dispatcher: undiciAdapter.forEveryConsumer(new Agent()) } as unknown as RequestInit;
      return (url) => globalThis.fetch(url, init);
    }
    case 'cachette-fetch-disabled':
      return createCache({ disabled: true }).fetch;
    case 'cachette-fetch':
      return createCache({ storage: new MemoryStorage() }).fetch;
    default:
      return undefined;
  }
}
const fetching = fetcher();
const through = fetching === undefined ? await dispatcher() : undefined;

async function call(url: string): Promise<{ status: number; body: Buffer }> {
  if (fetching !== undefined) {
    const answer = await fetching(url);
    return { status: answer.status, body: Buffer.from(await answer.arrayBuffer()) };
  }
  const answer = await request(url, { dispatcher: through as Dispatcher });
  return { status: answer.statusCode, body: Buffer.from(await answer.body.arrayBuffer()) };
}

const server = http.createServer(async (req, res) => {
  try {
    const { status, body } = await call(`${upstream}${req.url}`);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(body.length) });
    res.end(body);
  } catch (error) {
    res.writeHead(502);
    res.end(String(error));
  }
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as { port: number }).port }));
process.on('message', (message) => {
  if (message === 'rss') process.send?.({ rss: process.memoryUsage().rss });
});
process.on('disconnect', () => {
  server.close();
  process.exit(0);
});
