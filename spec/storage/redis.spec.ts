/**
 * RedisStorage against a real redis-server (Debian's package; the fixture
 * starts one on a free loopback port): the conformance suite, the cache on
 * top of it, leases across instances, and the faults a network storage has —
 * a server killed, a server that stops answering — with no failed request.
 */

import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { expect } from 'chai';
import { Gate, respond } from '../../fixtures/origin.js';
import { type RedisServer, startRedis } from '../../fixtures/redis-server.js';
import { rawPartitions } from '../../lib/cache.js';
import { RedisStorage } from '../../lib/storage/redis.js';
import { FakeClock } from '../../lib/testing.js';
import { decisions, drive, fetchText, useOrigin } from '../support.js';
import { storageConformance } from './conformance.js';

describe('RedisStorage (a real redis-server)', function () {
  this.timeout(30_000);
  let server: RedisServer;
  const storages: RedisStorage[] = [];
  /** A storage on the shared server, under a prefix of its own (so each starts empty). */
  const fresh = (options: { keyPrefix?: string } = {}) => {
    const storage = new RedisStorage({ url: server.url, keyPrefix: options.keyPrefix ?? `test-${randomUUID()}:` });
    storages.push(storage);
    return storage;
  };

  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await Promise.all(storages.splice(0).map((storage) => storage.close().catch(() => undefined)));
    await server.stop();
  });

  describe('conformance', () => {
    storageConformance({ create: () => fresh(), capabilities: { leases: true } });
  });

  describe('layout', () => {
    it('values are binary strings under <prefix>{<partition>}:<key>, with the expiry as the key’s own TTL', async () => {
      const storage = fresh({ keyPrefix: 'layout:' });
      const expiresAt = Date.now() + 60_000;
      await storage.partition('responses').set('k', new Uint8Array([0, 255, 1]), { expiresAt });
      const raw = createClient({ url: server.url });
      await raw.connect();
      try {
        const value: unknown = await raw.sendCommand(['GET', 'layout:{responses}:k'], { typeMapping: { 36: Buffer } });
        expect([...(value as Buffer)]).to.deep.equal([0, 255, 1]);
        const ttl = Number(await raw.sendCommand(['PTTL', 'layout:{responses}:k']));
        expect(ttl).to.be.within(50_000, 60_000);
        expect(Number(await raw.sendCommand(['PEXPIRETIME', 'layout:{responses}:k']))).to.equal(expiresAt);
      } finally {
        await raw.close();
      }
    });

    it('options are validated with errors that name them', () => {
      expect(() => new RedisStorage({})).to.throw(TypeError, /needs a client or a url/);
      expect(() => new RedisStorage({ url: 'http://x' })).to.throw(TypeError, /redis:\/\/, rediss:\/\/ or redis\+cluster:\/\//);
      expect(() => new RedisStorage({ client: {} as never })).to.throw(TypeError, /node-redis client/);
      expect(() => new RedisStorage({ url: 'redis://x', batchSize: 0 })).to.throw(TypeError, /batchSize/);
    });

    it('the commands of its own client share their deadline: 200 reads make no timer and no AbortSignal each', async () => {
      const storage = fresh();
      const partition = storage.partition('responses');
      await partition.set('k', new Uint8Array([1]));
      // node-redis's default: AbortSignal.timeout(5000) per command, alive 5 s after the reply (most of what a
      // process under load then promotes and collects, see docs/performance.md).
      const made = { timeouts: 0, signals: 0 };
      const timeout = AbortSignal.timeout;
      const Controller = globalThis.AbortController;
      AbortSignal.timeout = (ms: number) => {
        made.timeouts += 1;
        return timeout.call(AbortSignal, ms);
      };
      globalThis.AbortController = class extends Controller {
        constructor() {
          super();
          made.signals += 1;
        }
      };
      try {
        const values = await Promise.all(Array.from({ length: 200 }, () => partition.get('k')));
        expect(values.every((value) => value?.[0] === 1)).to.equal(true);
      } finally {
        AbortSignal.timeout = timeout;
        globalThis.AbortController = Controller;
      }
      expect(made.timeouts).to.equal(0);
      // One shared signal per window of 100 ms, whatever the number of commands in it.
      expect(made.signals).to.be.at.most(2);
    });

    it('takes the caller’s client, and leaves it open', async () => {
      const client = createClient({ url: server.url });
      await client.connect();
      const storage = new RedisStorage({ client, keyPrefix: `own-${randomUUID()}:` });
      await storage.partition('p').set('k', new Uint8Array([7]));
      await storage.close();
      expect(client.isOpen).to.equal(true);
      expect([...((await storage.partition('p').get('k')) as Uint8Array)]).to.deep.equal([7]);
      await client.close();
    });

    it('leases: one holder at a time, released only by its token', async () => {
      const partition = fresh().partition('responses') as unknown as {
        acquireLease(key: string, ttl: number): Promise<{ token?: string; heldUntil?: number }>;
        releaseLease(key: string, token: string): Promise<void>;
      };
      const first = await partition.acquireLease('k', 5000);
      expect(first.token).to.be.a('string');
      const second = await partition.acquireLease('k', 5000);
      expect(second.heldUntil).to.be.above(Date.now());
      await partition.releaseLease('k', 'not-the-token');
      expect((await partition.acquireLease('k', 5000)).token).to.equal(undefined);
      await partition.releaseLease('k', first.token as string);
      expect((await partition.acquireLease('k', 5000)).token).to.be.a('string');
    });
  });

  describe('through the cache', () => {
    const env = useOrigin();

    it('a miss is stored, the next request is a hit; delete and clear reach Redis', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'from origin'));
      const cache = env.cache({ storage: fresh() });
      expect((await fetchText(cache, `${env.origin.url}/a`)).cacheStatus).to.match(/fwd=uri-miss/);
      await cache.settled();
      expect((await fetchText(cache, `${env.origin.url}/a`)).cacheStatus).to.match(/^cachette; hit/);
      expect(await cache.delete({ entries: [`${env.origin.url}/a`] })).to.equal(1);
      expect((await fetchText(cache, `${env.origin.url}/a`)).cacheStatus).to.match(/fwd=uri-miss/);
      await cache.settled();
      await cache.clear();
      expect(await rawPartitions(cache).responses.size()).to.equal(0);
      expect(env.origin.hits('/a')).to.equal(2);
    });

    it('collapses misses across instances with leases (SET NX PX)', async () => {
      const gate = new Gate();
      env.origin.route('/slow', gate.guard(respond(200, { 'cache-control': 'max-age=60' }, 'slow')));
      const prefix = `shared-${randomUUID()}:`;
      const caches = [0, 1, 2].map(() => env.cache({ storage: fresh({ keyPrefix: prefix }), coalesceAcrossInstances: { lease: 5, wait: 5 } }));
      const seen = caches.map((cache) => decisions(cache));
      const pending = Promise.all(caches.map((cache) => fetchText(cache, `${env.origin.url}/slow`)));
      // One leads (miss, then forward with the lease), two wait for it (miss, then wait): then the origin answers.
      await Promise.all(seen.map((one) => one.reached(2)));
      gate.open();
      const bodies = await pending;
      expect(bodies.map((body) => body.body)).to.deep.equal(['slow', 'slow', 'slow']);
      expect(env.origin.hits('/slow')).to.equal(1);
      // close() (and settled()) wait for the lease's release too: none is left behind to block others until it expires.
      await Promise.all(caches.map((cache) => cache.close()));
      const raw = createClient({ url: server.url });
      await raw.connect();
      const [, leases] = (await raw.sendCommand(['SCAN', '0', 'MATCH', `${prefix}*lease`, 'COUNT', '100000'])) as [string, string[]];
      await raw.close();
      expect(leases).to.deep.equal([]);
    });
  });

  describe('with a deadline (an AWS Lambda invocation’s end)', () => {
    const env = useOrigin();

    /** The remaining TTLs of the leases held now, in ms. */
    async function leaseTtls(prefix: string): Promise<number[]> {
      const raw = createClient({ url: server.url });
      await raw.connect();
      try {
        const [, keys] = (await raw.sendCommand(['SCAN', '0', 'MATCH', `${prefix}*lease`, 'COUNT', '100000'])) as [string, string[]];
        return Promise.all(keys.map(async (key) => Number(await raw.sendCommand(['PTTL', key]))));
      } finally {
        await raw.close();
      }
    }

    /** One request through a cache whose deadline is `remainingMs` away: the body, and the leases held while the origin answered. */
    async function leasedRequest(remainingMs: number): Promise<{ body: string; leases: number[] }> {
      let leases: number[] = [-1];
      const prefix = `lambda-${randomUUID()}:`;
      env.origin.route('/slow', async (_req, res) => {
        leases = await leaseTtls(prefix);
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('slow');
      });
      // As in AWS Lambda: the invocation under way ends `remainingMs` from now.
      const context = { getRemainingTimeInMillis: () => remainingMs };
      const cache = env.cache({
        storage: fresh({ keyPrefix: prefix }),
        coalesceAcrossInstances: { lease: 10, wait: 5 },
        deadline: () => Date.now() + context.getRemainingTimeInMillis(),
      });
      const { body } = await fetchText(cache, `${env.origin.url}/slow`);
      return { body, leases };
    }

    it('a lease never outlives the invocation’s remaining time', async () => {
      const { leases } = await leasedRequest(1500);
      expect(leases).to.have.length(1);
      expect(leases[0]).to.be.within(1, 1500);
    });

    it('with no time left, no lease is taken: the request goes to the origin alone', async () => {
      const { body, leases } = await leasedRequest(0);
      expect(body).to.equal('slow');
      expect(leases).to.deep.equal([]);
      expect(() => env.cache({ deadline: 1500 as never })).to.throw(TypeError, /deadline must be a function/);
    });
  });

  describe('faults, against the real server', () => {
    const env = useOrigin();

    it('a server that stops answering (SIGSTOP): every request is answered within the deadline, then the cache comes back', async () => {
      const own = await startRedis();
      try {
        env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'body'));
        const storage = new RedisStorage({ url: own.url });
        storages.push(storage);
        const clock = new FakeClock();
        const cache = env.cache({ storage, clock, timeouts: { read: 0.1, write: 0.2 }, circuitBreaker: { failures: 3, cooldown: 0.2 } });
        await fetchText(cache, `${env.origin.url}/a`);
        await cache.settled();
        own.pause();
        // Each read waits on the stopped server until its deadline (on the cache's clock), then the origin answers.
        const answers = await drive(clock, Promise.all(Array.from({ length: 20 }, () => fetchText(cache, `${env.origin.url}/a`))));
        expect(answers.every((answer) => answer.status === 200 && answer.body === 'body')).to.equal(true);
        await drive(clock, cache.settled());
        own.resume();
        // The breaker's cooldown passes; the next request is a hit again.
        let hit = false;
        for (let i = 0; i < 50 && !hit; i++) {
          await clock.advance(0.2);
          hit = /^cachette; hit/.test((await drive(clock, fetchText(cache, `${env.origin.url}/a`))).cacheStatus ?? '');
        }
        expect(hit).to.equal(true);
      } finally {
        await own.stop();
      }
    });

    it('a storage made and used at once, under load: its connection setting up opens no breaker, and hits follow', async function () {
      this.timeout(30_000);
      for (let i = 0; i < 10; i++) env.origin.route(`/c${i}`, respond(200, { 'cache-control': 'max-age=600' }, `c${i}`));
      // Reads must answer within 5 ms: far less than loading the client and connecting take.
      const storage = new RedisStorage({ url: server.url, keyPrefix: `cold-${randomUUID()}:` });
      storages.push(storage);
      const cache = env.cache({ storage, timeouts: { read: 0.005, write: 2 }, circuitBreaker: { failures: 2, cooldown: 0.1 } });
      await Promise.all(Array.from({ length: 50 }, (_, i) => fetchText(cache, `${env.origin.url}/c${i % 10}`)));
      expect(cache.stats().breakerTrips, 'breaker trips while connecting').to.equal(0);
      await cache.settled();
      // Hits follow. A 5 ms read deadline is real time: on a busy machine a stall can make a round's reads
      // miss it (and two misses open the breaker for its cooldown), so rounds go on until one hits.
      let hits = 0;
      for (let round = 0; round < 40 && hits === 0; round++) {
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, 25));
        const later = await Promise.all(Array.from({ length: 10 }, (_, i) => fetchText(cache, `${env.origin.url}/c${i}`)));
        hits = later.filter((fetched) => /^cachette; hit/.test(fetched.cacheStatus ?? '')).length;
      }
      expect(hits, 'hits once connected').to.be.greaterThan(0);
    });

    it('a server killed under a warm memory tier: memory goes on answering (the stamp it cannot read, the breaker, change nothing)', async function () {
      this.timeout(60_000);
      const own = await startRedis();
      for (let i = 0; i < 20; i++) env.origin.route(`/t${i}`, respond(200, { 'cache-control': 'max-age=600' }, `t${i}`));
      const storage = new RedisStorage({ url: own.url });
      storages.push(storage);
      // The stamp is due before every answer from memory: the worst case for an outage.
      const cache = env.cache({
        storage,
        memoryTier: { syncEvery: 0 },
        timeouts: { read: 0.1, write: 0.2 },
        circuitBreaker: { failures: 3, cooldown: 60 },
      });
      for (let i = 0; i < 20; i++) await fetchText(cache, `${env.origin.url}/t${i}`);
      await cache.settled();
      own.kill();
      // A few URLs memory has not got: they go to the server, fail, and open the breaker.
      env.origin.route('/cold', respond(200, { 'cache-control': 'max-age=600' }, 'cold'));
      for (let i = 0; i < 5; i++) expect((await fetchText(cache, `${env.origin.url}/cold?${i}`)).body).to.equal('cold');
      expect(cache.stats().breakerTrips).to.be.at.least(1);
      let hits = 0;
      let answered = 0;
      for (let round = 0; round < 10; round++) {
        await Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            const fetched = await fetchText(cache, `${env.origin.url}/t${i}`);
            expect(fetched.body).to.equal(`t${i}`);
            answered += 1;
            if (/^cachette; hit/.test(fetched.cacheStatus ?? '')) hits += 1;
          }),
        );
      }
      expect(answered).to.equal(200);
      expect(hits / answered, 'the hit ratio while the server is down').to.be.at.least(0.95);
      await own.stop();
    });

    it('a server killed mid-traffic: 0 failed requests, the origin answers', async () => {
      const own = await startRedis();
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'body'));
      const storage = new RedisStorage({ url: own.url });
      storages.push(storage);
      const cache = env.cache({ storage, timeouts: { read: 0.1, write: 0.2 } });
      await fetchText(cache, `${env.origin.url}/a`);
      await cache.settled();
      let failed = 0;
      const traffic = Array.from({ length: 50 }, async (_, i) => {
        if (i === 10) own.kill();
        try {
          const answer = await fetchText(cache, `${env.origin.url}/a?n=${i % 5}`);
          if (answer.status !== 200 || answer.body !== 'body') failed += 1;
        } catch {
          failed += 1;
        }
      });
      await Promise.all(traffic);
      expect(failed).to.equal(0);
    });
  });
});
