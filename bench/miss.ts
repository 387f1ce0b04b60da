/**
 * The miss path: a loopback origin alone vs the same requests through
 * cachette (a miss, then the store, off the response path), through
 * undici's own cache, and through a floor interceptor that only keeps a
 * copy of each body (the least a cache that stores must do). Twice: with
 * the origin in a process of its own (as real origins are), and in this
 * process (then every microsecond of the cache's work, stored or not, adds
 * to the time: a measure of CPU). And 100 concurrent identical misses: how
 * many reach the origin. Prints one JSON line.
 */

import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import * as undici from 'undici';
import { createCache } from '../lib/cache.js';
import { MemoryStorage } from '../lib/storage/memory.js';
import { keepingInterceptor, machine, measureInterleaved } from './harness.js';

const BODY = Buffer.alloc(2048, 'y');
const BODY_20K = Buffer.alloc(20 * 1024, 'y');
let slowHits = 0;
const server = http.createServer((req, res) => {
  if (req.url?.startsWith('/slow')) {
    slowHits += 1;
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(BODY.length) });
      res.end(BODY);
    }, 100);
    return;
  }
  const body = req.url?.includes('size=20480') ? BODY_20K : BODY;
  res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'content-length': String(body.length) });
  res.end(body);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

let counter = 0;
const get = (origin: string, dispatcher: Dispatcher, size: number) => async () => {
  // A URL never asked before: every request is a miss.
  const response = await undici.request(`${origin}/item?n=${counter++}&size=${size}`, { dispatcher });
  await response.body.arrayBuffer();
};

const undiciStores = (undici as unknown as { cacheStores: Record<string, new (options?: object) => object> }).cacheStores;
const MAX_BYTES = 256 * 1024 * 1024;

/** Each contender with fresh storage (so that both runs start empty), measured against `origin`. */
async function misses(origin: string, size: number) {
  const plain = new undici.Agent();
  const floor = new undici.Agent().compose(keepingInterceptor(MAX_BYTES, 'copy'));
  // The same, keeping the caller's own chunks as undici's cache does (no copy): what the copy itself costs.
  const floorShared = new undici.Agent().compose(keepingInterceptor(MAX_BYTES, 'shared'));
  const cache = createCache({ storage: new MemoryStorage({ maxBytes: MAX_BYTES }) });
  const cached = new undici.Agent().compose(cache.interceptor());
  // undici's own cache, for comparison: what storing each response costs a peer.
  const undiciStore = new (undiciStores['MemoryCacheStore'] as new (options: object) => object)({ maxSize: MAX_BYTES, maxCount: 1_000_000 });
  const undiciCached = new undici.Agent().compose(undici.interceptors.cache({ store: undiciStore } as never));
  const results = await measureInterleaved(
    {
      origin: get(origin, plain, size),
      floor: get(origin, floor, size),
      floorShared: get(origin, floorShared, size),
      cachette: get(origin, cached, size),
      undici: get(origin, undiciCached, size),
    },
    { warmup: 500, rounds: 11, perRound: 500 },
  );
  await cache.settled();
  await Promise.all([plain.close(), floor.close(), floorShared.close(), undiciCached.close(), cache.close()]);
  return {
    originUs: results['origin'],
    floorUs: results['floor'],
    floorSharedUs: results['floorShared'],
    cachetteUs: results['cachette'],
    undiciCacheUs: results['undici'],
  };
}

const child = fork(fileURLToPath(new URL('./origin-process.js', import.meta.url)));
const childPort = await new Promise<number>((resolve, reject) => {
  child.once('message', (port) => resolve(port as number));
  child.once('error', reject);
});
const ownProcess = await misses(`http://127.0.0.1:${childPort}`, 2048);
const ownProcess20k = await misses(`http://127.0.0.1:${childPort}`, 20 * 1024);
child.disconnect();
const sameProcess = await misses(base, 2048);
const sameProcess20k = await misses(base, 20 * 1024);

const burstCache = createCache();
const cached = new undici.Agent().compose(burstCache.interceptor());
// 100 identical misses at once.
const burst = await Promise.all(
  Array.from({ length: 100 }, async () => {
    const response = await undici.request(`${base}/slow`, { dispatcher: cached });
    return (await response.body.arrayBuffer()).byteLength;
  }),
);

await cached.close();
await burstCache.close();
server.close();
process.stdout.write(
  `${JSON.stringify({
    machine: machine(),
    miss: { ownProcess, ownProcess20k, sameProcess, sameProcess20k },
    coalescing: { concurrent: burst.length, allAnswered: burst.every((length) => length === BODY.length), originRequests: slowHits },
  })}\n`,
);
