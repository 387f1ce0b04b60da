/**
 * Many concurrent requests over many URLs: each gets its own URL's body (no
 * cross-talk between keys, flights or writes), and each URL reaches the
 * origin once.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { seeded } from '../../fixtures/faulty-storage.js';
import { rawPartitions } from '../../lib/cache.js';
import type { Storage } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { SqliteStorage } from '../../lib/storage/sqlite.js';
import { useOrigin } from '../support.js';
import { quantile, report, scaled } from './figures.js';

const URLS = 50;

describe('reliability: load', function () {
  this.timeout(120_000);
  const env = useOrigin();
  let folder: string;

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'cachette-load-'));
    const random = seeded(9);
    for (let i = 0; i < URLS; i++) {
      const delay = Math.floor(random() * 30);
      env.origin.route(`/u/${i}`, (_req, res) => {
        setTimeout(() => {
          res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
          res.end(`the body of url ${i}: ${String(i).repeat(100 + i)}`);
        }, delay);
      });
    }
  });

  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  const backends: Array<[string, () => Storage]> = [
    ['memory', () => new MemoryStorage()],
    ['SQLite', () => new SqliteStorage({ path: join(folder, 'cache.db') })],
  ];

  for (const [backend, make] of backends) {
    it(`${backend}: 1,000 concurrent requests over 50 URLs, each answered with its own URL's body, each URL fetched once`, async () => {
      const cache = env.cache({ storage: make() });
      const total = scaled(1000);
      const random = seeded(3);
      const indexes = Array.from({ length: total }, (_, n) => (n < URLS ? n : Math.floor(random() * URLS)));
      const latencies: number[] = [];
      let crossTalk = 0;
      await Promise.all(
        indexes.map(async (index) => {
          const started = performance.now();
          const response = await cache.fetch(`${env.origin.url}/u/${index}`);
          const body = await response.text();
          latencies.push(performance.now() - started);
          if (body !== `the body of url ${index}: ${String(index).repeat(100 + index)}`) crossTalk += 1;
        }),
      );
      report(`load ${backend}, ${total} concurrent over ${URLS} URLs`, {
        requests: total,
        faults: 0,
        failures: 0,
        wrongBodies: crossTalk,
        originRequests: env.origin.hits(),
        p99Ms: Math.round(quantile(latencies, 0.99)),
      });
      expect(crossTalk).to.equal(0);
      expect(env.origin.hits()).to.equal(URLS);
      await cache.settled();
      expect(await rawPartitions(cache).responses.size()).to.equal(URLS);
    });
  }
});
