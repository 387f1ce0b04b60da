import type { ServerResponse } from 'node:http';
import { expect } from 'chai';
import { type Dispatcher, request } from 'undici';
import { Gate, respond } from '../../fixtures/origin.js';
import { Flights } from '../../lib/interceptor/single-flight.js';
import { FakeClock } from '../../lib/testing.js';
import { decisions, fetchText, useOrigin } from '../support.js';

describe('single-flight: concurrent identical misses reach the origin once', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  it('100 concurrent misses → 1 origin request; everyone gets the body', async () => {
    const gate = new Gate();
    env.origin.route('/a', gate.guard(respond(200, { 'cache-control': 'max-age=60' }, 'shared body')));
    const cache = env.cache();
    const seen = decisions(cache);
    const pending = Promise.all(Array.from({ length: 100 }, () => fetchText(cache, url('/a'))));
    await seen.reached(100);
    gate.open();
    const results = await pending;
    expect(env.origin.hits('/a')).to.equal(1);
    expect(results.every((r) => r.body === 'shared body' && r.status === 200)).to.equal(true);
    const collapsed = results.filter((r) => /collapsed/.test(r.cacheStatus ?? ''));
    expect(collapsed).to.have.length(99);
    expect(collapsed[0]?.cacheStatus).to.match(/^cachette; fwd=uri-miss; fwd-status=200; stored; collapsed; ttl=\d+$/);
  });

  it("a request collapsed into another's adds none of its tags: the stored response carries the leader's (as a hit adds none)", async () => {
    const gate = new Gate();
    env.origin.route('/tagged', gate.guard(respond(200, { 'cache-control': 'max-age=60' }, 'tagged')));
    const cache = env.cache();
    const seen = decisions(cache);
    const leader = fetchText(cache, url('/tagged'), { cachette: { tags: ['leader'] } });
    const follower = fetchText(cache, url('/tagged'), { cachette: { tags: ['follower'] } });
    await seen.reached(2);
    gate.open();
    expect((await follower).cacheStatus).to.match(/collapsed/);
    await leader;
    await cache.settled();
    expect(await cache.delete({ tags: ['follower'] })).to.equal(0);
    expect(await cache.delete({ tags: ['leader'] })).to.equal(1);
    expect(env.origin.hits('/tagged')).to.equal(1);
  });

  it('collapses revalidations of a stale entry too', async () => {
    let calls = 0;
    const gate = new Gate();
    gate.open();
    env.origin.route(
      '/a',
      gate.guard((req, res) => {
        calls += 1;
        if (req.headers['if-none-match'] === '"e"') {
          res.writeHead(304, { 'cache-control': 'max-age=60' });
          res.end();
          return;
        }
        res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=1', age: '10' });
        res.end('body');
      }),
    );
    const cache = env.cache();
    const seen = decisions(cache);
    await fetchText(cache, url('/a'));
    gate.close();
    const pending = Promise.all(Array.from({ length: 20 }, () => fetchText(cache, url('/a'))));
    await seen.reached(21);
    gate.open();
    const results = await pending;
    expect(calls).to.equal(2);
    expect(results.every((r) => r.body === 'body')).to.equal(true);
  });

  it('a response that cannot be stored but may be shared (a 503) is handed to the followers: no retry storm', async () => {
    const gate = new Gate();
    env.origin.route('/a', gate.guard(respond(503, { 'retry-after': '30' }, 'try later')));
    const cache = env.cache();
    const seen = decisions(cache);
    const pending = Promise.all(Array.from({ length: 10 }, () => fetchText(cache, url('/a'))));
    await seen.reached(10);
    gate.open();
    const results = await pending;
    expect(env.origin.hits('/a')).to.equal(1);
    expect(results.every((r) => r.status === 503 && r.body === 'try later')).to.equal(true);
    expect(results.filter((r) => /collapsed/.test(r.cacheStatus ?? ''))).to.have.length(9);
  });

  it("a response that is one user's (no-store, private, Set-Cookie) is not shared: followers go to the origin themselves", async () => {
    const gate = new Gate();
    env.origin.route('/a', gate.guard(respond(200, { 'cache-control': 'no-store' }, 'personal')));
    const cache = env.cache();
    const seen = decisions(cache);
    const first = Promise.all(Array.from({ length: 5 }, () => fetchText(cache, url('/a'))));
    // Four follow the first; its answer may not be shared, so they go on their own.
    await seen.reached(5);
    gate.open();
    const results = await first;
    expect(env.origin.hits('/a')).to.equal(5);
    expect(results.every((r) => r.body === 'personal')).to.equal(true);
    // For a while, requests for that URL no longer wait for each other: all five reach the origin together.
    gate.close();
    const second = Promise.all(Array.from({ length: 5 }, () => fetchText(cache, url('/a'))));
    while (gate.waiting < 5) await new Promise((resolve) => setImmediate(resolve));
    gate.open();
    await second;
    expect(env.origin.hits('/a')).to.equal(10);
  });

  it('when the origin cannot be reached, followers get the same error instead of retrying', async () => {
    const gate = new Gate();
    env.origin.route(
      '/a',
      gate.guard((req) => {
        req.socket.destroy();
      }),
    );
    const cache = env.cache();
    const seen = decisions(cache);
    const pending = Promise.allSettled(Array.from({ length: 10 }, () => fetchText(cache, url('/a'))));
    await seen.reached(10);
    gate.open();
    const results = await pending;
    expect(results.every((r) => r.status === 'rejected')).to.equal(true);
    expect(env.origin.hits('/a')).to.equal(1);
  });

  it('when the leader is aborted by its caller, a follower takes over', async () => {
    const gate = new Gate();
    env.origin.route('/a', gate.guard(respond(200, { 'cache-control': 'max-age=60' }, 'body')));
    const cache = env.cache();
    const seen = decisions(cache);
    const controller = new AbortController();
    const leader = cache.fetch(url('/a'), { signal: controller.signal }).then((r) => r.text());
    // The leader's request is at the origin.
    while (gate.waiting < 1) await new Promise((resolve) => setImmediate(resolve));
    const followers = Promise.all(Array.from({ length: 5 }, () => fetchText(cache, url('/a'))));
    await seen.reached(6);
    controller.abort();
    await leader.catch(() => undefined);
    gate.open();
    const results = await followers;
    expect(results.every((r) => r.body === 'body')).to.equal(true);
    expect(env.origin.hits('/a')).to.equal(2);
  });

  it('a waiting follower can be aborted by its caller', async () => {
    const gate = new Gate();
    env.origin.route('/a', gate.guard(respond(200, { 'cache-control': 'max-age=60' }, 'body')));
    const cache = env.cache();
    const seen = decisions(cache);
    const leader = fetchText(cache, url('/a'));
    await seen.reached(1);
    const controller = new AbortController();
    let leaderDone = false;
    void leader.then(() => (leaderDone = true));
    const follower = request(url('/a'), { dispatcher: cache.dispatcher, signal: controller.signal });
    await seen.reached(2);
    controller.abort();
    let error: unknown;
    try {
      await follower;
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(Error);
    expect(leaderDone, 'the follower did not wait for the leader').to.equal(false);
    gate.open();
    expect((await leader).body).to.equal('body');
  });

  it("followers whose Vary headers differ do not get the leader's variant", async () => {
    const gate = new Gate();
    env.origin.route(
      '/a',
      gate.guard((req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'x-lang' });
        res.end(`lang=${req.headers['x-lang']}`);
      }),
    );
    const cache = env.cache();
    const seen = decisions(cache);
    const pending = Promise.all([
      fetchText(cache, url('/a'), { headers: { 'x-lang': 'fr' } }),
      fetchText(cache, url('/a'), { headers: { 'x-lang': 'fr' } }),
      fetchText(cache, url('/a'), { headers: { 'x-lang': 'en' } }),
    ]);
    await seen.reached(3);
    gate.open();
    const [fr, fr2, en] = await pending;
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
    const gate = new Gate();
    env.origin.route('/a', gate.guard(respond(200, { 'cache-control': 'max-age=60' }, 'full body')));
    const cache = env.cache();
    const seen = decisions(cache);
    const head = request(url('/a'), { method: 'HEAD', dispatcher: cache.dispatcher }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    await seen.reached(1);
    const get = fetchText(cache, url('/a'));
    await seen.reached(2);
    gate.open();
    expect((await head).status).to.equal(200);
    expect((await get).body).to.equal('full body');
    expect(env.origin.hits('/a')).to.equal(2);
  });
});

describe('Flights', () => {
  const handler = { onRequestStart() {}, onResponseError() {} } as unknown as Dispatcher.DispatchHandler;

  it('a follower whose leader takes too long stops waiting and goes alone', async () => {
    const clock = new FakeClock();
    const flights = new Flights({ clock, followTimeoutMs: 50 });
    const flight = flights.start('k');
    expect(flight).to.not.equal(undefined);
    const follower: { waited?: Awaited<ReturnType<NonNullable<typeof flight>['follow']>> } = {};
    void flight?.follow(handler).then((outcome) => (follower.waited = outcome));
    await clock.advance(0.049);
    expect(follower).to.deep.equal({});
    await clock.advance(0.001);
    expect(follower.waited?.outcome).to.deep.equal({ kind: 'solo' });
    expect(flight?.followers).to.equal(0);
    // The leader finishing later reaches nobody and ends the flight as usual.
    flight?.settle({ kind: 'done' });
    expect(flights.current('k')).to.equal(undefined);
  });

  it("a follower gets its leader's outcome when it comes in time", async () => {
    const flights = new Flights({ clock: new FakeClock(), followTimeoutMs: 1000 });
    const flight = flights.start('k');
    const waiting = flight?.follow(handler);
    flight?.settle({ kind: 'abandoned' });
    expect((await waiting)?.outcome).to.deep.equal({ kind: 'abandoned' });
  });
});
