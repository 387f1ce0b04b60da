import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { fetchText, httpDate, useOrigin } from '../support.js';

describe('RFC details of header fields: Age lists, 304s with a Content-Length, stale-if-error against no-cache, dates in odd case, Accept-Language variants', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  it('RFC 9111 §5.1: an Age list ("7200, 0") counts by its first member', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=3600', age: '7200, 0' }, 'x'));
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    await fetchText(cache, url('/a'));
    expect(env.origin.hits('/a')).to.equal(2);
  });

  it('RFC 9110 §15.4.5: a 304 carrying a Content-Length still revalidates (undici would fail it as short)', async () => {
    env.origin.route('/a', (req, res) => {
      if (req.headers['if-none-match'] === '"e"') {
        res.writeHead(304, { 'cache-control': 'max-age=60', 'content-length': '4' });
        res.end();
        return;
      }
      res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=1', age: '5', 'content-length': '4' });
      res.end('body');
    });
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    const revalidated = await fetchText(cache, url('/a'));
    expect(revalidated.status).to.equal(200);
    expect(revalidated.body).to.equal('body');
    expect(revalidated.cacheStatus).to.match(/fwd=stale; fwd-status=304; stored/);
    // The client's own conditional request, forwarded: its 304 arrives cleanly too.
    const own = await cache.fetch(url('/a'), { headers: { 'if-none-match': '"e"', 'cache-control': 'no-cache' } });
    expect(own.status).to.equal(304);
  });

  it('RFC 9111 §4.2.4: the staleIfError option does not override a no-cache response; its own stale-if-error does', async () => {
    env.origin.route('/plain', respond(200, { 'cache-control': 'max-age=1, no-cache', age: '5', etag: '"p"' }, 'x'));
    env.origin.route('/explicit', respond(200, { 'cache-control': 'max-age=1, no-cache, stale-if-error=60', age: '5', etag: '"e"' }, 'x'));
    const cache = env.cache({ staleIfError: true });
    await fetchText(cache, url('/plain'));
    await fetchText(cache, url('/explicit'));
    env.origin.route('/plain', respond(503, {}, 'down'));
    env.origin.route('/explicit', respond(503, {}, 'down'));
    expect((await fetchText(cache, url('/plain'))).status).to.equal(503);
    expect((await fetchText(cache, url('/explicit'))).status).to.equal(200);
  });

  it('RFC 9110 §5.6.7: dates in unusual case are still understood', async () => {
    const upper = new Date(Date.now() + 600_000).toUTCString().toUpperCase();
    env.origin.route('/a', respond(200, { date: httpDate(0), expires: upper }, 'x'));
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    expect((await fetchText(cache, url('/a'))).cacheStatus).to.match(/hit/);
  });

  it('RFC 9111 §4.1: Accept-Language variants match whatever the case and blanks of the languages, not their order', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600', vary: 'Accept-Language' }, 'x'));
    const cache = env.cache();
    await fetchText(cache, url('/a'), { headers: { 'accept-language': 'en, de;q=0.5' } });
    expect((await fetchText(cache, url('/a'), { headers: { 'accept-language': 'EN ,  DE ; q=0.5' } })).cacheStatus).to.match(/hit/);
    // Origins break ties between equal q-values by order (Express's negotiator does): another order may get another language.
    expect((await fetchText(cache, url('/a'), { headers: { 'accept-language': 'de;q=0.5, en' } })).cacheStatus).to.match(/vary-miss/);
    expect((await fetchText(cache, url('/a'), { headers: { 'accept-language': 'fr' } })).cacheStatus).to.match(/vary-miss/);
  });
});
