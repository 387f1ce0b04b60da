/**
 * What the always-on counters cost (cache.stats()): the counting a hit does,
 * alone, against the hit itself; a hit with an observer (cache.observe, as
 * cachette/otel uses) against one without; and a stats() snapshot. Prints
 * one JSON line.
 */
import http from 'node:http';
import * as undici from 'undici';
import { createCache } from '../lib/cache.js';
import { StatsCounter } from '../lib/stats.js';
import { machine, measureInterleaved, median } from './harness.js';

const BODY = Buffer.alloc(2048, 'y');
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-length': String(BODY.length) });
  res.end(BODY);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/item`;

const plainCache = createCache();
const observedCache = createCache();
let observed = 0;
observedCache.observe(() => {
  observed += 1;
});
const plain = new undici.Agent().compose(plainCache.interceptor());
const watched = new undici.Agent().compose(observedCache.interceptor());
const hit = (dispatcher: undici.Dispatcher) => async () => {
  const response = await undici.request(url, { dispatcher });
  await response.body.arrayBuffer();
};
// Stored first: everything measured is a hit.
await hit(plain)();
await hit(watched)();
await plainCache.settled();
await observedCache.settled();
const hits = await measureInterleaved({ plain: hit(plain), observed: hit(watched) }, { warmup: 500, rounds: 15, perRound: 500 });

/** Nanoseconds per call, median of rounds. */
function timeNs(operation: () => unknown, perRound: number): number {
  const rounds: number[] = [];
  for (let round = 0; round < 15; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) operation();
    rounds.push((Number(process.hrtime.bigint() - started) * 1000) / perRound);
  }
  return median(rounds) / 1000;
}
const counter = new StatsCounter();
let ttl = 30;
// What a fresh hit counts: the decision, the bytes, the stale check.
const countingNs = timeNs(() => {
  counter.hits += 1;
  if (ttl <= 0) counter.staleServed += 1;
  counter.bytesServed += BODY.length;
  ttl = -ttl;
}, 1_000_000);
const snapshotNs = timeNs(() => plainCache.stats(), 100_000);

await Promise.all([plain.close(), watched.close(), plainCache.close(), observedCache.close()]);
server.close();
process.stdout.write(
  `${JSON.stringify({
    machine: machine(),
    stats: {
      hitUs: hits['plain']?.medianUs,
      hitObservedUs: hits['observed']?.medianUs,
      observerCalls: observed,
      countingPerHitNs: countingNs,
      countingShareOfHit: countingNs / 1000 / (hits['plain']?.medianUs as number),
      snapshotNs,
    },
  })}\n`,
);
