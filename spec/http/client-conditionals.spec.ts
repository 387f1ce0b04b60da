import { expect } from 'chai';
import { request } from 'undici';
import { respond } from '../../fixtures/origin.js';
import type { HttpCache } from '../../lib/cache.js';
import { fetchText, httpDate, useOrigin } from '../support.js';

describe("RFC 9111 §4.3.2: a client's own conditional request", () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  // undici.request, because fetch adds Cache-Control: no-cache to conditional requests (Fetch §4.5).
  const conditional = async (cache: HttpCache, headers: Record<string, string>) => {
    const response = await request(url('/a'), { dispatcher: cache.dispatcher, headers });
    const body = await response.body.text();
    return { status: response.statusCode, headers: response.headers, body };
  };

  beforeEach(() => {
    env.origin.route(
      '/a',
      respond(200, { 'cache-control': 'max-age=600', etag: '"abc"', 'last-modified': httpDate(-3000), 'content-type': 'text/plain', 'x-extra': '1' }, 'body'),
    );
  });

  it('If-None-Match matching (weakly) → 304 with the validators, without the origin', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    for (const tag of ['"abc"', 'W/"abc"', '"x", "abc"', '*']) {
      const response = await conditional(cache, { 'if-none-match': tag });
      expect(response.status, tag).to.equal(304);
      expect(response.headers['etag']).to.equal('"abc"');
      expect(response.headers['cache-control']).to.equal('max-age=600');
      expect(response.headers['x-extra']).to.equal(undefined);
      expect(response.headers['cache-status']).to.match(/^cachette; hit; ttl=\d+; detail=not-modified$/);
      expect(response.body).to.equal('');
    }
    expect(env.origin.hits('/a')).to.equal(1);
  });

  it('If-None-Match not matching → the full stored response', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const response = await conditional(cache, { 'if-none-match': '"other"' });
    expect(response.status).to.equal(200);
    expect(response.body).to.equal('body');
    expect(env.origin.hits('/a')).to.equal(1);
  });

  it('If-None-Match takes precedence over If-Modified-Since', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const response = await conditional(cache, { 'if-none-match': '"abc"', 'if-modified-since': httpDate(-10_000) });
    expect(response.status).to.equal(304);
  });

  it('If-Modified-Since at or after Last-Modified → 304; before → 200', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    expect((await conditional(cache, { 'if-modified-since': httpDate(-2000) })).status).to.equal(304);
    expect((await conditional(cache, { 'if-modified-since': httpDate(-5000) })).status).to.equal(200);
    expect(env.origin.hits('/a')).to.equal(1);
  });

  it("If-Match and If-Unmodified-Since are the origin's to evaluate", async () => {
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    await conditional(cache, { 'if-match': '"abc"' });
    expect(env.origin.hits('/a')).to.equal(2);
  });

  it('through fetch, which marks conditional requests no-cache, they go to the origin', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const response = await cache.fetch(url('/a'), { headers: { 'if-none-match': '"abc"' } });
    expect(response.headers.get('cache-status')).to.match(/^cachette; fwd=request/);
  });
});
