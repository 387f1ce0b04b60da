/**
 * How soon a memory tier on Redis hears of another process's purge (per-key
 * invalidation through client-side caching): cache A (RedisStorage of its
 * own, no tier) and cache B (RedisStorage of its own, a memory tier with
 * `syncEvery` an hour: the stamp plays no part) over one redis-server
 * started here. 200 times: B reads a URL into memory, A purges it, and the
 * time from the start of A's purge to B's memory no longer holding it is
 * taken (B's memory is looked at on every turn of the event loop), beside
 * the time A's purge call takes itself. Prints one JSON line.
 */
import http from 'node:http';
import { startRedis } from '../fixtures/redis-server.js';
import { createCache, rawPartitions } from '../lib/cache.js';
import { partitionNames } from '../lib/records/partitions.js';
import { RedisStorage } from '../lib/storage/redis.js';
import type { TieredStorage } from '../lib/storage/tiered.js';
import { machine } from './harness.js';

const ROUNDS = 200;
const server = await startRedis();
const origin = http.createServer((_req, res) => {
  res.writeHead(200, { 'cache-control': 'max-age=3600' });
  res.end('x'.repeat(2048));
});
await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(origin.address() as { port: number }).port}/item`;

const keyPrefix = 'bench-tiers:';
const a = createCache({ storage: new RedisStorage({ url: server.url, keyPrefix }), timeouts: { read: 5 } });
const b = createCache({ storage: new RedisStorage({ url: server.url, keyPrefix }), memoryTier: { syncEvery: 3600 }, timeouts: { read: 5 } });
const tier = rawPartitions(b).storage as TieredStorage;
const front = tier.front.partition(partitionNames(undefined).responses) as unknown as { getSync(key: string): Uint8Array | undefined };
while (!tier.watchingChanges) await new Promise((resolve) => setTimeout(resolve, 10));

const turn = () => new Promise((resolve) => setImmediate(resolve));
/** From the start of A's purge to B's memory dropping the URL; and A's purge call alone (its own round trips). */
const latenciesMs: number[] = [];
const purgesMs: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const url = `${base}${i}`;
  await (await a.fetch(url)).arrayBuffer();
  await a.settled();
  await (await b.fetch(url)).arrayBuffer();
  await b.settled();
  const [entry] = await b.inspect(url);
  if (entry === undefined || front.getSync(entry.key) === undefined) throw new Error(`B's memory does not hold ${url}`);
  // B's memory is watched from the moment A's purge starts, on every turn of the event loop.
  const started = performance.now();
  const dropped = (async () => {
    while (front.getSync(entry.key) !== undefined) {
      if (performance.now() - started > 5000) throw new Error(`B's memory still holds ${url} 5 s after A purged it`);
      await turn();
    }
    return performance.now();
  })();
  await a.delete({ entries: [url] });
  purgesMs.push(performance.now() - started);
  latenciesMs.push((await dropped) - started);
}
const at = (values: number[], q: number) => {
  const sorted = [...values].sort((x, y) => x - y);
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number) * 1000) / 1000;
};
await Promise.all([a.close(), b.close()]);
origin.close();
await server.stop();
process.stdout.write(
  `${JSON.stringify({ machine: machine(), tierInvalidation: { rounds: ROUNDS, p50Ms: at(latenciesMs, 0.5), p99Ms: at(latenciesMs, 0.99), maxMs: at(latenciesMs, 1), purgeP50Ms: at(purgesMs, 0.5), purgeP99Ms: at(purgesMs, 0.99) } })}\n`,
);
