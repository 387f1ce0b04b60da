import type { IncomingMessage, ServerResponse } from 'node:http';
import { expect } from 'chai';
import { request } from 'undici';
import { rawPartitions } from '../../lib/cache.js';
import { fetchText, useOrigin } from '../support.js';

describe('RFC 9111 §4.3: validation', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  /** An origin resource with an ETag and a Last-Modified that answers conditionals with 304. */
  function resource(state: { etag: string; body: string; notModifiedHeaders?: Record<string, string> }) {
    const lastModified = new Date(Date.now() - 3_600_000).toUTCString();
    return (req: IncomingMessage, res: ServerResponse) => {
      const matches =
        req.headers['if-none-match'] === state.etag || (req.headers['if-none-match'] === undefined && req.headers['if-modified-since'] === lastModified);
      if (matches) {
        res.writeHead(304, { etag: state.etag, 'cache-control': 'max-age=100', ...state.notModifiedHeaders });
        res.end();
        return;
      }
      res.writeHead(200, {
        etag: state.etag,
        'last-modified': lastModified,
        'cache-control': 'max-age=1',
        age: '5',
        'x-version': state.body,
        'content-type': 'text/plain',
      });
      res.end(state.body);
    };
  }

  it('§4.3.1: a stale entry with an ETag is revalidated with If-None-Match (and If-Modified-Since)', async () => {
    env.origin.route('/a', resource({ etag: '"v1"', body: 'one' }));
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    await fetchText(cache, url('/a'));
    const conditional = env.origin.requests[1];
    expect(conditional?.headers['if-none-match']).to.equal('"v1"');
    expect(conditional?.headers['if-modified-since']).to.be.a('string');
  });

  it('§4.3.3: a 304 replays the stored body with the stored status, and freshens the entry', async () => {
    env.origin.route('/a', resource({ etag: '"v1"', body: 'one' }));
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const revalidated = await fetchText(cache, url('/a'));
    expect(revalidated.status).to.equal(200);
    expect(revalidated.body).to.equal('one');
    expect(revalidated.cacheStatus).to.match(/^cachette; fwd=stale; fwd-status=304; stored; ttl=(99|100)$/);
    // Freshened by the 304's max-age=100: the next one is a hit.
    const hit = await fetchText(cache, url('/a'));
    expect(hit.cacheStatus).to.match(/^cachette; hit/);
    expect(hit.body).to.equal('one');
    expect(env.origin.hits('/a')).to.equal(2);
  });

  it('§3.2: the 304 updates stored header fields', async () => {
    env.origin.route('/a', resource({ etag: '"v1"', body: 'one', notModifiedHeaders: { 'x-version': 'updated', 'x-new': 'added' } }));
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const revalidated = await fetchText(cache, url('/a'));
    expect(revalidated.headers.get('x-version')).to.equal('updated');
    expect(revalidated.headers.get('x-new')).to.equal('added');
    const hit = await request(url('/a'), { dispatcher: cache.dispatcher });
    expect(hit.headers['x-version']).to.equal('updated');
    expect(await hit.body.text()).to.equal('one');
  });

  it('§4.3.3: a 200 to the conditional request replaces the entry', async () => {
    const state = { etag: '"v1"', body: 'one' };
    env.origin.route('/a', resource(state));
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    state.etag = '"v2"';
    state.body = 'two';
    const replaced = await fetchText(cache, url('/a'));
    expect(replaced.body).to.equal('two');
    expect(replaced.cacheStatus).to.match(/fwd=stale; fwd-status=200; stored/);
    await cache.settled();
    expect(await rawPartitions(cache).responses.size()).to.equal(1);
  });

  it('§4.3.1: Last-Modified alone is used as If-Modified-Since', async () => {
    const lastModified = new Date(Date.now() - 3_600_000).toUTCString();
    env.origin.route('/a', (req, res) => {
      if (req.headers['if-modified-since'] === lastModified) {
        res.writeHead(304, {});
        res.end();
        return;
      }
      res.writeHead(200, { 'last-modified': lastModified, 'cache-control': 'max-age=0' });
      res.end('body');
    });
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const again = await fetchText(cache, url('/a'));
    expect(again.body).to.equal('body');
    expect(again.cacheStatus).to.match(/fwd-status=304/);
    expect(env.origin.requests[1]?.headers['if-none-match']).to.equal(undefined);
  });

  it('§4.3.4: a 304 naming another strong validator updates nothing; the response is fetched again in full', async () => {
    let version = 1;
    env.origin.route('/a', (req: IncomingMessage, res: ServerResponse) => {
      if (version === 1) {
        version = 2;
        res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=1', age: '5' });
        res.end('first');
      } else if (req.headers['if-none-match'] !== undefined) {
        // A misbehaving origin (or a changed one behind an intermediary): 304 for a representation the cache does not hold.
        res.writeHead(304, { etag: '"v2"', 'cache-control': 'max-age=60' });
        res.end();
      } else {
        res.writeHead(200, { etag: '"v2"', 'cache-control': 'max-age=60' });
        res.end('second');
      }
    });
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const again = await fetchText(cache, url('/a'));
    expect(again.status).to.equal(200);
    expect(again.body).to.equal('second');
    expect(again.cacheStatus).to.match(/fwd=stale; fwd-status=200; stored/);
    expect(env.origin.requests.map((r) => r.headers['if-none-match'] ?? null)).to.deep.equal([null, '"v1"', null]);
    const hit = await fetchText(cache, url('/a'));
    expect(hit.body).to.equal('second');
    expect(hit.cacheStatus).to.match(/^cachette; hit/);

    // The same through undici.request, whose handler sees the retry start over.
    version = 1;
    const viaRequest = env.cache();
    await (await request(url('/a'), { dispatcher: viaRequest.dispatcher })).body.text();
    const retried = await request(url('/a'), { dispatcher: viaRequest.dispatcher });
    expect(retried.statusCode).to.equal(200);
    expect(await retried.body.text()).to.equal('second');
  });

  it('§4.3.4: a 304 with the stored weak validator, or none, updates the entry', async () => {
    for (const notModified of [{ etag: 'W/"v1"' }, {}]) {
      let first = true;
      env.origin.route('/w', (_req: IncomingMessage, res: ServerResponse) => {
        if (first) {
          first = false;
          res.writeHead(200, { etag: 'W/"v1"', 'cache-control': 'max-age=1', age: '5' });
          res.end('weak');
          return;
        }
        res.writeHead(304, { ...notModified, 'cache-control': 'max-age=60' });
        res.end();
      });
      const cache = env.cache();
      await fetchText(cache, url('/w'));
      const revalidated = await fetchText(cache, url('/w'));
      expect(revalidated.body).to.equal('weak');
      expect(revalidated.cacheStatus).to.match(/fwd=stale; fwd-status=304; stored/);
    }
  });

  it('a stale entry with neither validator nor Date is fetched in full: the cache never dates it by its own clock', async () => {
    env.origin.route('/a', (req, res) => {
      res.removeHeader('date');
      res.sendDate = false;
      res.writeHead(200, { 'cache-control': 'max-age=1', age: '5' });
      res.end(`conditional=${req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined}`);
    });
    const cache = env.cache({ staleIfError: 60 });
    await fetchText(cache, url('/a'));
    const again = await fetchText(cache, url('/a'));
    expect(again.body).to.equal('conditional=false');
    expect(again.cacheStatus).to.match(/fwd=stale; fwd-status=200/);
  });

  it('RFC 9110 §13.1.3: a stale entry with a Date but no validator is revalidated with If-Modified-Since: that Date', async () => {
    const sent = new Date(Date.now() - 5000).toUTCString();
    env.origin.route('/dated', (req, res) => {
      if (req.headers['if-modified-since'] === sent) {
        res.writeHead(304, { date: sent, 'cache-control': 'max-age=60' });
        res.end();
        return;
      }
      res.writeHead(200, { date: sent, 'cache-control': 'max-age=1' });
      res.end(`since=${req.headers['if-modified-since']}`);
    });
    const cache = env.cache();
    await fetchText(cache, url('/dated'));
    const again = await fetchText(cache, url('/dated'));
    expect(again.cacheStatus).to.match(/^cachette; fwd=stale; fwd-status=304; stored; ttl=5\d/);
    expect(again.body).to.equal('since=undefined');
    expect(env.origin.requests[1]?.headers['if-modified-since']).to.equal(sent);
    expect((await fetchText(cache, url('/dated'))).cacheStatus).to.match(/^cachette; hit/);
  });

  it("§4.3.2: the client's own validators are passed through untouched, and its 304 reaches it", async () => {
    env.origin.route('/a', resource({ etag: '"v1"', body: 'one' }));
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const own = await cache.fetch(url('/a'), { headers: { 'if-none-match': '"v1"' } });
    expect(own.status).to.equal(304);
    expect(own.headers.get('cache-status')).to.equal('cachette; fwd=request; fwd-status=304; detail=status');
    expect(env.origin.requests.at(-1)?.headers['if-none-match']).to.equal('"v1"');
    const other = await cache.fetch(url('/a'), { headers: { 'if-none-match': '"v0"' } });
    expect(other.status).to.equal(200);
    expect(await other.text()).to.equal('one');
    expect(env.origin.requests.at(-1)?.headers['if-none-match']).to.equal('"v0"');
  });
});
