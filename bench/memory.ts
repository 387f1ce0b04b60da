/**
 * MemoryStorage under 100,000 distinct URLs with maxBytes: it stays within
 * its bound; resident memory reported. Prints one JSON line.
 */
import http from 'node:http';
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

const storage = new MemoryStorage({ maxBytes: MAX_BYTES });
const cache = createCache({ storage });
const dispatcher = new undici.Agent({ connections: 16 }).compose(cache.interceptor());
global.gc?.();
const before = process.memoryUsage();
let peakBytes = 0;
const started = performance.now();
for (let i = 0; i < URLS; i += 50) {
  await Promise.all(
    Array.from({ length: 50 }, async (_, j) => {
      const response = await undici.request(`${base}/page/${i + j}`, { dispatcher });
      await response.body.arrayBuffer();
    }),
  );
  peakBytes = Math.max(peakBytes, storage.usage.bytes);
}
await cache.settled();
const seconds = (performance.now() - started) / 1000;
global.gc?.();
const after = process.memoryUsage();
const kept = storage.usage;
await cache.close();
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
    },
  })}\n`,
);
