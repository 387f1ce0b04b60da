/**
 * Redis (a redis-server started here): a cachette hit (no memory tier) vs a
 * raw client GET of the same value on the same client, a PING (one round
 * trip), a floor interceptor that does that GET and answers a canned
 * response, and the commands a hit sends (from the server's own counters).
 * Prints one JSON line.
 */
import http from 'node:http';
import { createClient } from '@redis/client';
import * as undici from 'undici';
import { startRedis } from '../fixtures/redis-server.js';
import { createCache, rawPartitions } from '../lib/cache.js';
import { RedisStorage } from '../lib/storage/redis.js';
import { floorAfter, machine, measureInterleaved, requestThrough } from './harness.js';

const BODY = Buffer.alloc(2048, 'r');
const server = await startRedis();
const origin = http.createServer((_req, res) => {
  res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-length': String(BODY.length) });
  res.end(BODY);
});
await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(origin.address() as { port: number }).port}/item`;

const client = createClient({ url: server.url });
await client.connect();
const cache = createCache({ storage: new RedisStorage({ client, keyPrefix: 'bench:' }) });
const dispatcher = new undici.Agent().compose(cache.interceptor());
await (await undici.request(url, { dispatcher })).body.arrayBuffer();
await cache.settled();
let key = '';
for await (const stored of rawPartitions(cache).responses.keys()) key = `bench:{responses}:${stored}`;

const AS_BUFFERS = { typeMapping: { 36: Buffer } };
const rawGet = async () => {
  await client.sendCommand(['GET', key], AS_BUFFERS);
};
const ping = async () => {
  await client.sendCommand(['PING']);
};
const cachetteHit = requestThrough(url, dispatcher);
const floorDispatcher = floorAfter(rawGet, BODY);
const floorHit = requestThrough(url, floorDispatcher);

/** Calls of each command the server has counted so far. */
async function commandCounts(): Promise<Map<string, number>> {
  const info = String(await client.sendCommand(['INFO', 'commandstats']));
  const counts = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) counts.set(match[1] as string, Number(match[2]));
  return counts;
}
const COUNTED_HITS = 500;
const before = await commandCounts();
for (let i = 0; i < COUNTED_HITS; i++) await cachetteHit();
const after = await commandCounts();
const commandsPerHit: Record<string, number> = {};
for (const [name, calls] of after) {
  // INFO itself is the measuring, not the hits.
  const delta = calls - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0);
  if (delta > 0) commandsPerHit[name] = delta / COUNTED_HITS;
}

const hits = await measureInterleaved({ ping, rawGet, floorHit, cachetteHit }, { warmup: 2000, rounds: 31, perRound: 500 });

await Promise.all([dispatcher.close(), floorDispatcher.close()]);
await cache.close();
await client.close();
origin.close();
await server.stop();
process.stdout.write(
  `${JSON.stringify({
    machine: machine(),
    redis: {
      pingUs: hits['ping']?.medianUs,
      rawGetUs: hits['rawGet']?.medianUs,
      floorHitUs: hits['floorHit']?.medianUs,
      cachetteHitUs: hits['cachetteHit']?.medianUs,
      commandsPerHit,
    },
  })}\n`,
);
