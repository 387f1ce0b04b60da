/**
 * MemoryStorage under 100,000 distinct URLs with maxBytes: it stays within
 * its bound; resident memory reported. Then undici's own MemoryCacheStore
 * under a quarter of the URLs with a quarter of the bound, for comparison:
 * how many entries it keeps. Prints one JSON line.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import * as undici from 'undici';
import { createCache } from '../lib/cache.js';
import { MemoryStorage } from '../lib/storage/memory.js';
import { machine } from './harness.js';

const URLS = 100_000;
const MAX_BYTES = 32 * 1024 * 1024;
const BODY = Buffer.alloc(1024, 'z');
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-length': String(BODY.length) });
  res.end(BODY);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

/** Requests `count` distinct URLs once through the dispatcher, 50 at a time; `each` runs after every 50. */
async function requestAll(count: number, dispatcher: undici.Dispatcher, each: () => void): Promise<void> {
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, async (_, j) => {
        const response = await undici.request(`${base}/page/${i + j}`, { dispatcher });
        await response.body.arrayBuffer();
      }),
    );
    each();
  }
}

const storage = new MemoryStorage({ maxBytes: MAX_BYTES });
const cache = createCache({ storage });
global.gc?.();
const before = process.memoryUsage();
let peakBytes = 0;
const started = performance.now();
await requestAll(URLS, new undici.Agent({ connections: 16 }).compose(cache.interceptor()), () => {
  peakBytes = Math.max(peakBytes, storage.usage.bytes);
});
await cache.settled();
const seconds = (performance.now() - started) / 1000;
global.gc?.();
const after = process.memoryUsage();
const kept = storage.usage;
await cache.close();

// undici's MemoryCacheStore, a quarter of the URLs and of the bound (past its bound, undici 7 walks every entry on each
// write: the full run would take hours). It reports no usage, so its entries are counted by asking for each.
const UNDICI_URLS = URLS / 4;
const UNDICI_MAX_BYTES = MAX_BYTES / 4;
type UndiciStore = { get(key: { origin: string; path: string; method: string; headers: object }): unknown };
const StoreClass = (undici as unknown as { cacheStores: Record<string, new (options: object) => UndiciStore> }).cacheStores['MemoryCacheStore'] as new (
  options: object,
) => UndiciStore;
const undiciStore = new StoreClass({ maxSize: UNDICI_MAX_BYTES, maxCount: UNDICI_URLS });
const undiciStarted = performance.now();
await requestAll(UNDICI_URLS, new undici.Agent({ connections: 16 }).compose(undici.interceptors.cache({ store: undiciStore as never })), () => {});
const undiciSeconds = (performance.now() - undiciStarted) / 1000;
let undiciEntries = 0;
for (let i = 0; i < UNDICI_URLS; i++) {
  if (undiciStore.get({ origin: base, path: `/page/${i}`, method: 'GET', headers: {} }) !== undefined) undiciEntries++;
}
server.close();
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
process.stdout.write(
  `${JSON.stringify({
    machine: machine(),
    memory: {
      urls: URLS,
      maxBytes: MAX_BYTES,
      peakStoredBytes: peakBytes,
      withinBound: peakBytes <= MAX_BYTES,
      entriesKept: kept.entries,
      bytesKept: kept.bytes,
      rssMiB: { before: mib(before.rss), after: mib(after.rss) },
      heapUsedMiB: { before: mib(before.heapUsed), after: mib(after.heapUsed) },
      seconds: Math.round(seconds * 10) / 10,
      undiciMemoryCacheStore: {
        version: (createRequire(import.meta.url)('undici/package.json') as { version: string }).version,
        urls: UNDICI_URLS,
        maxSize: UNDICI_MAX_BYTES,
        entriesKept: undiciEntries,
        bodyBytesKept: undiciEntries * BODY.length,
        seconds: Math.round(undiciSeconds * 10) / 10,
      },
    },
  })}\n`,
);
