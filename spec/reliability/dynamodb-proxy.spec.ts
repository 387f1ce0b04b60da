/**
 * DynamoDB (Local) behind a proxy on loopback that stalls, resets and slows
 * the connection: every request is answered by the origin while the storage
 * misbehaves, the breaker opens and recovers, and hits come back after.
 */
import { expect } from 'chai';
import { dropTables, dynamoStorage } from '../../fixtures/dynamodb.js';
import { dynamoEndpoint, localClient } from '../../fixtures/dynamodb-local.js';
import { FaultyProxy, type ProxyMode } from '../../fixtures/faulty-proxy.js';
import { respond } from '../../fixtures/origin.js';
import { DynamoDBStorage } from '../../lib/storage/dynamodb/storage.js';
import { FakeClock } from '../../lib/testing.js';
import { useOrigin } from '../support.js';
import { quantile, report, scaled } from './figures.js';

describe('reliability: DynamoDB through a faulty network', function () {
  this.timeout(180_000);
  const env = useOrigin();
  let proxy: FaultyProxy;

  before(async function () {
    this.timeout(180_000);
    proxy = await FaultyProxy.start(await dynamoEndpoint());
  });

  after(async () => {
    await proxy.close();
  });

  afterEach(async () => {
    proxy.mode = 'pass';
    await dropTables();
  });

  for (const mode of ['stall', 'reset', 'slow'] as ProxyMode[]) {
    it(`${mode}: no request fails, the breaker opens, and once the network heals, hits resume`, async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600' }, 'from origin'));
      // The table is made directly; the cache reaches it through the proxy.
      const table = await dynamoStorage();
      const client = await localClient({ endpoint: proxy.url, maxAttempts: 1 });
      const storage = new DynamoDBStorage({ client, tableName: table.tableName, timeouts: { read: 0.15, write: 0.3 } });
      const breaker: string[] = [];
      // The breaker's cool-down runs on a clock of the spec's; the storage's own deadlines (150, 300 ms) come first in real time.
      const clock = new FakeClock();
      const cache = env.cache({ storage, clock, timeouts: { read: 0.2, write: 0.4 }, circuitBreaker: { failures: 3, cooldown: 0.2 } });
      const { default: diagnostics } = await import('node:diagnostics_channel');
      const listener = (message: unknown) => breaker.push(String((message as { state: string }).state));
      diagnostics.subscribe('cachette:breaker', listener);
      try {
        await (await cache.fetch(`${env.origin.url}/a`)).text();
        await cache.settled();
        expect((await cache.fetch(`${env.origin.url}/a`)).headers.get('cache-status')).to.match(/^cachette; hit/);

        proxy.mode = mode;
        proxy.slowMs = 400;
        proxy.dropConnections();
        const requests = scaled(20);
        const latencies: number[] = [];
        let failures = 0;
        for (let i = 0; i < requests; i++) {
          const started = performance.now();
          try {
            const response = await cache.fetch(`${env.origin.url}/a`);
            if ((await response.text()) !== 'from origin') failures += 1;
          } catch {
            failures += 1;
          }
          latencies.push(performance.now() - started);
          // Each request meets the storage (not the record a write in flight is about to store).
          await cache.settled();
        }
        expect(failures).to.equal(0);
        expect(breaker).to.include('open');

        proxy.mode = 'pass';
        proxy.dropConnections();
        let healed = false;
        for (let attempt = 0; attempt < 50 && !healed; attempt++) {
          await clock.advance(0.05);
          const response = await cache.fetch(`${env.origin.url}/a`);
          await response.text();
          healed = /^cachette; hit/.test(response.headers.get('cache-status') ?? '');
        }
        report(`DynamoDB through a proxy that ${mode === 'stall' ? 'stalls' : mode === 'reset' ? 'resets' : 'slows'}`, {
          requests,
          faults: proxy.chunks[mode],
          failures,
          p99Ms: Math.round(quantile(latencies, 0.99)),
          breaker: breaker.join('>'),
        });
        expect(healed, 'hits resumed').to.equal(true);
        expect(breaker.at(-1)).to.equal('closed');
      } finally {
        diagnostics.unsubscribe('cachette:breaker', listener);
        client.destroy();
      }
    });
  }
});
