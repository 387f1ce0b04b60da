import type { ServerResponse } from 'node:http';
import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { type Dispatcher, request } from 'undici';
import { sleep } from '../../fixtures/origin.js';
import { Flights } from '../../lib/interceptor/single-flight.js';
import { fetchText, useOrigin } from '../support.js';

describe('single-flight: concurrent identical misses reach the origin once', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  function slow(status: number, headers: Record<string, string>, body: string, ms = 150) {
    return async (_req: unknown, res: import('node:http').ServerResponse) => {
      await sleep(ms);
      res.writeHead(status, headers);
      res.end(body);
    };
  }

  it('100 concurrent misses → 1 origin request; everyone gets the body', async () => {
    env.origin.route('/a', slow(200, { 'cache-control': 'max-age=60' }, 'shared body'));
    const cache = env.cache();
    const results = await Promise.all(Array.from({ length: 100 }, () => fetchText(cache, url('/a'))));
    expect(env.origin.hits('/a')).to.equal(1);
    expect(results.every((r) => r.body === 'shared body' && r.status === 200)).to.equal(true);
    const collapsed = results.filter((r) => /collapsed/.test(r.cacheStatus ?? ''));
    expect(collapsed).to.have.length(99);
    expect(collapsed[0]?.cacheStatus).to.match(/^cachette; fwd=uri-miss; fwd-status=200; stored; collapsed; ttl=\d+$/);
  });

  it('collapses revalidations of a stale entry too', async () => {
    let calls = 0;
    env.origin.route('/a', async (req, res) => {
      calls += 1;
      await sleep(100);
      if (req.headers['if-none-match'] === '"e"') {
        res.writeHead(304, { 'cache-control': 'max-age=60' });
        res.end();
        return;
      }
      res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=1', age: '10' });
      res.end('body');
    });
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const results = await Promise.all(Array.from({ length: 20 }, () => fetchText(cache, url('/a'))));
    expect(calls).to.equal(2);
    expect(results.every((r) => r.body === 'body')).to.equal(true);
  });

  it('a response that cannot be stored but may be shared (a 503) is handed to the followers: no retry storm', async () => {
    env.origin.route('/a', slow(503, { 'retry-after': '30' }, 'try later'));
    const cache = env.cache();
    const results = await Promise.all(Array.from({ length: 10 }, () => fetchText(cache, url('/a'))));
    expect(env.origin.hits('/a')).to.equal(1);
    expect(results.every((r) => r.status === 503 && r.body === 'try later')).to.equal(true);
    expect(results.filter((r) => /collapsed/.test(r.cacheStatus ?? ''))).to.have.length(9);
  });

  it("a response that is one user's (no-store, private, Set-Cookie) is not shared: followers go to the origin themselves", async () => {
    let underWay = 0;
    let mostAtOnce = 0;
    env.origin.route('/a', async (_req, res) => {
      underWay += 1;
      mostAtOnce = Math.max(mostAtOnce, underWay);
      await sleep(100);
      underWay -= 1;
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end('personal');
    });
    const cache = env.cache();
    const results = await Promise.all(Array.from({ length: 5 }, () => fetchText(cache, url('/a'))));
    expect(env.origin.hits('/a')).to.equal(5);
    expect(results.every((r) => r.body === 'personal')).to.equal(true);
    // For a while, requests for that URL no longer wait for each other: all five reach the origin together.
    mostAtOnce = 0;
    await Promise.all(Array.from({ length: 5 }, () => fetchText(cache, url('/a'))));
    expect(mostAtOnce).to.equal(5);
    expect(env.origin.hits('/a')).to.equal(10);
  });

  it('when the origin cannot be reached, followers get the same error instead of retrying', async () => {
    env.origin.route('/a', async (req) => {
      await sleep(100);
      req.socket.destroy();
    });
    const cache = env.cache();
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => fetchText(cache, url('/a'))));
    expect(results.every((r) => r.status === 'rejected')).to.equal(true);
    expect(env.origin.hits('/a')).to.equal(1);
  });

  it('when the leader is aborted by its caller, a follower takes over', async () => {
    env.origin.route('/a', slow(200, { 'cache-control': 'max-age=60' }, 'body', 200));
    const cache = env.cache();
    const controller = new AbortController();
    const leader = cache.fetch(url('/a'), { signal: controller.signal }).then((r) => r.text());
    await sleep(20);
    const followers = Promise.all(Array.from({ length: 5 }, () => fetchText(cache, url('/a'))));
    await sleep(20);
    controller.abort();
    await leader.catch(() => undefined);
    const results = await followers;
    expect(results.every((r) => r.body === 'body')).to.equal(true);
    expect(env.origin.hits('/a')).to.equal(2);
  });

  it('a waiting follower can be aborted by its caller', async () => {
    env.origin.route('/a', slow(200, { 'cache-control': 'max-age=60' }, 'body', 300));
    const cache = env.cache();
    const leader = fetchText(cache, url('/a'));
    await sleep(20);
    const controller = new AbortController();
    let leaderDone = false;
    void leader.then(() => (leaderDone = true));
    const follower = request(url('/a'), { dispatcher: cache.dispatcher, signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    let error: unknown;
    try {
      await follower;
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(Error);
    expect(leaderDone, 'the follower did not wait for the leader').to.equal(false);
    expect((await leader).body).to.equal('body');
  });

  it("followers whose Vary headers differ do not get the leader's variant", async () => {
    env.origin.route('/a', async (req, res) => {
      await sleep(100);
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'x-lang' });
      res.end(`lang=${req.headers['x-lang']}`);
    });
    const cache = env.cache();
    const [fr, fr2, en] = await Promise.all([
      fetchText(cache, url('/a'), { headers: { 'x-lang': 'fr' } }),
      fetchText(cache, url('/a'), { headers: { 'x-lang': 'fr' } }),
      fetchText(cache, url('/a'), { headers: { 'x-lang': 'en' } }),
    ]);
    expect(fr?.body).to.equal('lang=fr');
    expect(fr2?.body).to.equal('lang=fr');
    expect(en?.body).to.equal('lang=en');
    expect(env.origin.hits('/a')).to.equal(2);
  });

  /** Reads the first chunk of each of two concurrent requests while the origin holds both responses open. */
  async function firstChunksWhileOpen(path: string, headers: Record<string, string>) {
    const open: ServerResponse[] = [];
    env.origin.route(path, (_req, res) => {
      res.writeHead(200, headers);
      res.write('data: first\n\n');
      open.push(res);
    });
    const cache = env.cache();
    const controller = new AbortController();
    const firstChunk = async () => {
      const response = await cache.fetch(url(path), { signal: controller.signal });
      const { value } = await (response.body as ReadableStream<Uint8Array>).getReader().read();
      return { text: new TextDecoder().decode(value), cacheStatus: response.headers.get('cache-status') ?? '' };
    };
    try {
      const chunks = await Promise.all([firstChunk(), firstChunk()]);
      // Both arrived while the first response was still open: the second did not wait for its end.
      return { chunks, open: open.filter((res) => !res.writableEnded).length };
    } finally {
      controller.abort();
      for (const res of open) res.end();
    }
  }

  it('two subscribers to one event stream both get its first event while it is still open', async () => {
    const result = await firstChunksWhileOpen('/events', { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    expect(result.chunks.map((chunk) => chunk.text)).to.deep.equal(['data: first\n\n', 'data: first\n\n']);
    expect(result.chunks[0]?.cacheStatus).to.match(/detail=event-stream$/);
    expect(result.open).to.equal(2);
    expect(env.origin.hits('/events')).to.equal(2);
  });

  it('a follower of a no-store response that has not ended yet is released at its headers', async () => {
    const result = await firstChunksWhileOpen('/poll', { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    expect(result.chunks.map((chunk) => chunk.text)).to.deep.equal(['data: first\n\n', 'data: first\n\n']);
    expect(result.open).to.equal(2);
  });

  it('HEAD requests do not lead GETs', async () => {
    env.origin.route('/a', slow(200, { 'cache-control': 'max-age=60' }, 'full body'));
    const cache = env.cache();
    const [head, get] = await Promise.all([
      request(url('/a'), { method: 'HEAD', dispatcher: cache.dispatcher }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() })),
      sleep(10).then(() => fetchText(cache, url('/a'))),
    ]);
    expect(head.status).to.equal(200);
    expect(get.body).to.equal('full body');
  });
});

describe('Flights', () => {
  const handler = { onRequestStart() {}, onResponseError() {} } as unknown as Dispatcher.DispatchHandler;

  it('a follower whose leader takes too long stops waiting and goes alone', async () => {
    const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const flights = new Flights({ followTimeoutMs: 50 });
      const flight = flights.start('k');
      expect(flight).to.not.equal(undefined);
      const follower: { waited?: Awaited<ReturnType<NonNullable<typeof flight>['follow']>> } = {};
      void flight?.follow(handler).then((outcome) => (follower.waited = outcome));
      await clock.tickAsync(49);
      expect(follower).to.deep.equal({});
      await clock.tickAsync(1);
      expect(follower.waited?.outcome).to.deep.equal({ kind: 'solo' });
      expect(flight?.followers).to.equal(0);
      // The leader finishing later reaches nobody and ends the flight as usual.
      flight?.settle({ kind: 'done' });
      expect(flights.current('k')).to.equal(undefined);
    } finally {
      clock.uninstall();
    }
  });

  it("a follower gets its leader's outcome when it comes in time", async () => {
    const flights = new Flights({ followTimeoutMs: 1000 });
    const flight = flights.start('k');
    const waiting = flight?.follow(handler);
    flight?.settle({ kind: 'abandoned' });
    expect((await waiting)?.outcome).to.deep.equal({ kind: 'abandoned' });
  });
});
