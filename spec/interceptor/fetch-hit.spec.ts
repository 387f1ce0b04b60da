import { expect } from 'chai';
import diagnostics from 'node:diagnostics_channel';
import { gzipSync } from 'node:zlib';
import { fetch as undiciFetch, request, type Response } from 'undici';
import { respond } from '../../fixtures/origin.js';
import { useOrigin } from '../support.js';
import type { HttpCache } from '../../lib/cache.js';

/** Everything a caller can read from a response, Age and the ttl left aside (they move with the clock). */
async function observed(response: Response) {
  const copy = response.clone();
  return {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    type: response.type,
    url: response.url,
    redirected: response.redirected,
    headers: [...response.headers].filter(([name]) => name !== 'age').map(([name, value]) => [name, name === 'cache-status' ? value.replace(/ttl=\d+/, 'ttl=N') : value]),
    setCookie: response.headers.getSetCookie(),
    age: response.headers.get('age') === null ? 'none' : 'present',
    body: response.body === null ? null : Buffer.from(await response.arrayBuffer()).toString('latin1'),
    clone: { url: copy.url, type: copy.type, body: copy.body === null ? null : await copy.text() },
  };
}

/** Whether the promise is settled before anything queued after it runs: answered without a turn of the event loop. */
async function answeredAtOnce(promise: Promise<unknown>): Promise<boolean> {
  return (await Promise.race([promise.then(() => true), Promise.resolve().then(() => false)])) as boolean;
}

describe('cache.fetch answers fresh hits itself', () => {
  const env = useOrigin();

  async function stored(cache: HttpCache, url: string): Promise<void> {
    await (await cache.fetch(url)).arrayBuffer();
    await cache.settled();
  }

  /** A cache holding /data (body "data", fresh for a minute). */
  async function storedData(): Promise<{ cache: HttpCache; url: string }> {
    env.origin.route('/data', respond(200, { 'cache-control': 'max-age=60' }, 'data'));
    const cache = env.cache();
    const url = `${env.origin.url}/data`;
    await stored(cache, url);
    return { cache, url };
  }

  it('with what fetch would have answered through the interceptor: status, headers, body, url, type, clone', async () => {
    env.origin.route('/page', respond(203, {
      'cache-control': 'max-age=60',
      'content-type': 'text/html; charset=utf-8',
      'set-cookie': ['a=1', 'b=2'],
      'x-repeated': ['one', 'two'],
      etag: '"v1"',
    }, '<p>hello</p>'));
    const cache = env.cache({ type: 'private' });
    const url = `${env.origin.url}/page?b=2&a=1#section`;
    await stored(cache, url);

    const direct = cache.fetch(url);
    expect(await answeredAtOnce(direct)).to.equal(true);
    const throughFetch = undiciFetch(url, { dispatcher: cache.dispatcher });
    expect(await answeredAtOnce(throughFetch)).to.equal(false);
    const [mine, theirs] = [await observed(await direct), await observed(await throughFetch)];
    expect(mine).to.deep.equal(theirs);
    expect(mine.url).to.equal(`${env.origin.url}/page?b=2&a=1`);
    expect(mine.setCookie).to.deep.equal(['a=1', 'b=2']);
    expect(env.origin.hits('/page')).to.equal(1);
  });

  it('HEAD, request headers, a redirect mode and an AbortSignal too', async () => {
    env.origin.route('/data', respond(200, { 'cache-control': 'max-age=60', 'content-length': '4' }, 'data'));
    const cache = env.cache();
    const url = `${env.origin.url}/data`;
    await stored(cache, url);

    const head = cache.fetch(url, { method: 'head', headers: { accept: 'text/plain' } });
    expect(await answeredAtOnce(head)).to.equal(true);
    const headThroughFetch = undiciFetch(url, { method: 'HEAD', headers: { accept: 'text/plain' }, dispatcher: cache.dispatcher });
    expect(await observed(await head)).to.deep.equal(await observed(await headThroughFetch));
    expect((await head).body).to.equal(null);

    const withSignal = cache.fetch(url, { signal: new AbortController().signal, headers: [['accept', '*/*']] });
    expect(await answeredAtOnce(withSignal)).to.equal(true);
    expect(await (await withSignal).text()).to.equal('data');

    const manual = cache.fetch(url, { redirect: 'manual' });
    expect(await answeredAtOnce(manual)).to.equal(true);
    await (await manual).text();
    const bogus = await cache.fetch(url, { redirect: 'bogus' as 'manual' }).then(() => undefined, (reason: unknown) => reason);
    expect(bogus).to.be.instanceOf(TypeError);
    expect(env.origin.hits('/data')).to.equal(1);
  });

  it('a signal aborted after the response, or while its body is read, fails the body as fetch does', async () => {
    const { cache, url } = await storedData();
    const fetchings = [(signal: AbortSignal) => cache.fetch(url, { signal }), (signal: AbortSignal) => undiciFetch(url, { signal, dispatcher: cache.dispatcher })];
    for (const fetching of fetchings) {
      for (const abortWhileReading of [false, true]) {
        const controller = new AbortController();
        const response = await fetching(controller.signal);
        if (!abortWhileReading) controller.abort();
        const reading = response.text();
        if (abortWhileReading) controller.abort();
        expect(await reading.then(() => undefined, (reason: unknown) => reason)).to.have.property('name', 'AbortError');
      }
    }
    const aborted = new AbortController();
    aborted.abort();
    const refused = await cache.fetch(url, { signal: aborted.signal }).then(() => undefined, (reason: unknown) => reason);
    expect(refused).to.have.property('name', 'AbortError');
  });

  it('a body bound to a signal can be read with a BYOB reader', async () => {
    const { cache, url } = await storedData();
    const response = await cache.fetch(url, { signal: new AbortController().signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader({ mode: 'byob' });
    const { value } = await reader.read(new Uint8Array(16));
    expect(Buffer.from(value as Uint8Array).toString()).to.equal('data');
    expect((await reader.read(new Uint8Array(16))).done).to.equal(true);
  });

  it('reports the hit on cachette:decision like any other', async () => {
    const { cache, url } = await storedData();
    const decisions: Array<{ outcome: string; reason: string; url: string }> = [];
    const onDecision = (message: unknown) => decisions.push(message as { outcome: string; reason: string; url: string });
    diagnostics.subscribe('cachette:decision', onDecision);
    try {
      await (await cache.fetch(url)).text();
    } finally {
      diagnostics.unsubscribe('cachette:decision', onDecision);
    }
    expect(decisions.map(({ outcome, reason, url: decided }) => ({ outcome, reason, url: decided }))).to.deep.equal([{ outcome: 'hit', reason: 'fresh', url }]);
  });

  it('init members at the values fetch gives no meaning of its own, URL-like inputs, an identity encoding', async () => {
    env.origin.route('/data', respond(200, { 'cache-control': 'max-age=60', 'content-encoding': 'identity' }, 'data'));
    const cache = env.cache();
    const url = `${env.origin.url}/data`;
    await stored(cache, url);
    const defaults = { body: null, cache: 'default', credentials: 'include', mode: 'cors', keepalive: false, window: null, method: 'GET', redirect: 'follow' } as const;
    for (const input of [url, new URL(url), { toString: () => url }]) {
      const answer = cache.fetch(input as string, defaults);
      expect(await answeredAtOnce(answer)).to.equal(true);
      expect(await (await answer).text()).to.equal('data');
    }
    expect(env.origin.hits('/data')).to.equal(1);
  });

  describe('and leaves to fetch what only fetch does right', () => {
    it('request headers it could only read by using them up (an iterator): fetch sends them', async () => {
      const { cache, url } = await storedData();
      const response = await cache.fetch(url, { headers: new Map([['authorization', 'Bearer secret']]).entries() as never });
      await response.text();
      expect(response.headers.get('cache-status')).to.equal('cachette; fwd=bypass; detail=credentialed');
      expect(env.origin.requests.at(-1)?.headers['authorization']).to.equal('Bearer secret');
    });

    it('inits fetch refuses (headers: null, a signal that is no AbortSignal, not an object) and members it reads from a prototype', async () => {
      const { cache, url } = await storedData();
      for (const init of [{ headers: null }, { signal: Object.assign(new EventTarget(), { aborted: false }) }, 42]) {
        const refused = await cache.fetch(url, init as never).then(() => undefined, (reason: unknown) => reason);
        expect(refused, JSON.stringify(init)).to.be.instanceOf(TypeError);
      }
      class Reload {
        get cache(): string {
          return 'no-store';
        }
      }
      const reload = cache.fetch(url, new Reload() as never);
      expect(await answeredAtOnce(reload)).to.equal(false);
      await (await reload).text();
      expect(env.origin.hits('/data')).to.equal(2);
    });

    it('an encoded body (fetch decodes it)', async () => {
      env.origin.route('/gz', respond(200, { 'cache-control': 'max-age=60', 'content-encoding': 'gzip' }, gzipSync('decoded')));
      const cache = env.cache();
      const url = `${env.origin.url}/gz`;
      await stored(cache, url);
      const hit = cache.fetch(url);
      expect(await answeredAtOnce(hit)).to.equal(false);
      expect(await (await hit).text()).to.equal('decoded');
      expect(env.origin.hits('/gz')).to.equal(1);
    });

    it('a cached redirect (fetch follows it and reports it)', async () => {
      env.origin.route('/old', respond(301, { location: '/new', 'cache-control': 'max-age=60' }));
      env.origin.route('/new', respond(200, { 'cache-control': 'max-age=60' }, 'new'));
      const cache = env.cache();
      await stored(cache, `${env.origin.url}/old`);
      const hit = await cache.fetch(`${env.origin.url}/old`);
      expect(await hit.text()).to.equal('new');
      expect(hit.redirected).to.equal(true);
      expect(hit.url).to.equal(`${env.origin.url}/new`);
      expect(env.origin.requests).to.have.length(2);
    });

    it('a response that varies (chosen by headers fetch adds)', async () => {
      env.origin.route('/vary', (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-encoding' });
        res.end(`for ${req.headers['accept-encoding'] ?? 'nothing'}`);
      });
      const cache = env.cache();
      const url = `${env.origin.url}/vary`;
      // Stored for a request without Accept-Encoding; fetch sends one, so this variant is not its answer.
      await (await request(url, { dispatcher: cache.dispatcher })).body.text();
      await cache.settled();
      const response = await cache.fetch(url);
      expect(await response.text()).to.match(/^for gzip/);
      expect(response.headers.get('cache-status')).to.match(/fwd=vary-miss/);
      const again = await cache.fetch(url);
      expect(await again.text()).to.match(/^for gzip/);
      expect(again.headers.get('cache-status')).to.match(/hit/);
      expect(env.origin.hits('/vary')).to.equal(2);
    });

    it('bad request headers (fetch rejects them) and options with effects of their own', async () => {
      const { cache, url } = await storedData();
      const rejected = await cache.fetch(url, { headers: { 'bad name': 'x' } }).then(() => undefined, (reason: unknown) => reason);
      expect(rejected).to.be.instanceOf(TypeError);
      const reload = cache.fetch(url, { cache: 'no-store' });
      expect(await answeredAtOnce(reload)).to.equal(false);
      await (await reload).text();
      const post = await cache.fetch(url, { method: 'POST', body: 'x' });
      expect(post.headers.get('cache-status')).to.match(/fwd=method/);
      await post.text();
    });

    it('a stale entry (revalidated)', async () => {
      env.origin.route('/short', respond(200, { 'cache-control': 'max-age=0, must-revalidate', etag: '"1"' }, 'short'));
      const cache = env.cache();
      const url = `${env.origin.url}/short`;
      await stored(cache, url);
      const again = cache.fetch(url);
      expect(await answeredAtOnce(again)).to.equal(false);
      await (await again).text();
      expect(env.origin.hits('/short')).to.equal(2);
    });

    it('nothing after close(): the cache answers no more (and closing twice is closing once)', async () => {
      const { cache, url } = await storedData();
      await cache.close();
      await cache.close();
      const refused = await cache.fetch(url).then(() => undefined, (reason: unknown) => reason);
      expect(refused).to.be.instanceOf(Error);
    });
  });
});
