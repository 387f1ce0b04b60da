/**
 * A storage that throws, rejects, hangs, is slow or corrupts, on a share of
 * its calls: every request is answered, with the right body, and settled()
 * and close() end. Memory and SQLite under a fault-injecting wrapper.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { type Fault, FaultyStorage, seeded } from '../../fixtures/faulty-storage.js';
import { createCache, type HttpCache } from '../../lib/cache.js';
import type { Storage } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { SqliteStorage } from '../../lib/storage/sqlite.js';
import { useOrigin } from '../support.js';
import { pool, quantile, report, scaled } from './figures.js';

const URLS = 20;

/** Twenty resources: fresh ones, ones revalidated by ETag, and ones never stored. */
function resource(req: IncomingMessage, res: ServerResponse): void {
  const index = Number(req.url?.split('/').pop());
  const etag = `"e${index}"`;
  const headers: Record<string, string> =
    index % 3 === 0 ? { 'cache-control': 'max-age=60' } : index % 3 === 1 ? { 'cache-control': 'max-age=0', etag } : { 'cache-control': 'no-store' };
  if (index % 3 === 1 && req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': 'text/plain' });
  res.end(`body of ${index} `.repeat(50 + index));
}

describe('reliability: a faulty storage never fails, hangs or misleads a request', function () {
  this.timeout(120_000);
  const env = useOrigin();
  let folder: string;

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'cachette-faults-'));
    for (let i = 0; i < URLS; i++) env.origin.route(`/r/${i}`, resource);
  });

  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  /** The same sequence of requests for every run: the seed picks the URLs. */
  function plan(count: number): number[] {
    const random = seeded(7);
    return Array.from({ length: count }, () => Math.floor(random() * URLS));
  }

  async function run(cache: HttpCache, sequence: number[]): Promise<{ latencies: number[]; failures: number; wrong: number }> {
    let failures = 0;
    let wrong = 0;
    const latencies = await pool(
      sequence.map((index) => async () => {
        const started = performance.now();
        try {
          const response = await cache.fetch(`${env.origin.url}/r/${index}`);
          const body = await response.text();
          if (response.status !== 200 || body !== `body of ${index} `.repeat(50 + index)) wrong += 1;
        } catch {
          failures += 1;
        }
        return performance.now() - started;
      }),
      10,
    );
    return { latencies, failures, wrong };
  }

  const backends: Array<[string, (folder: string) => Storage]> = [
    ['memory', () => new MemoryStorage()],
    ['SQLite', (where) => new SqliteStorage({ path: join(where, 'cache.db') })],
  ];
  const faultSets: Array<[string, Fault[]]> = [
    ['throw', ['throw']],
    ['reject', ['reject']],
    ['hang', ['hang']],
    ['slow', ['slow']],
    ['corrupt', ['corrupt']],
    ['all of them', ['throw', 'reject', 'hang', 'slow', 'corrupt']],
  ];

  for (const [backend, make] of backends) {
    for (const [label, faults] of faultSets) {
      it(`${backend}, ${label} on 30% of the storage calls`, async () => {
        const sequence = plan(scaled(300));
        const options = { timeouts: { read: 0.025, write: 0.025, close: 1 }, circuitBreaker: { failures: 5, cooldown: 0.05 } };

        // The baseline: the same requests on a healthy storage, after a first pass that warms up the process.
        const healthy = createCache({ ...options, storage: make(join(folder, 'healthy')) });
        await run(healthy, sequence);
        await healthy.clear();
        const baseline = await run(healthy, sequence);
        await healthy.close();

        const storage = new FaultyStorage(make(folder), { rate: 0.3, faults, seed: 11, slowMs: 40 });
        const cache = createCache({ ...options, storage });
        const faulty = await run(cache, sequence);
        await cache.settled();
        await cache.close();

        const p99AddedMs = Math.round(quantile(faulty.latencies, 0.99) - quantile(baseline.latencies, 0.99));
        report(`storage ${backend}, ${label}`, {
          requests: sequence.length,
          faults: storage.faults,
          failures: faulty.failures,
          wrongBodies: faulty.wrong,
          p99AddedMs,
        });
        expect(storage.faults).to.be.greaterThan(0);
        expect({ failures: faulty.failures, wrong: faulty.wrong }).to.deep.equal({ failures: 0, wrong: 0 });
        expect(baseline).to.include({ failures: 0, wrong: 0 });
      });
    }
  }
});
