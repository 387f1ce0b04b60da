import { expect } from 'chai';
import { rawPartitions } from '../../lib/cache.js';
import { fetchText, useOrigin } from '../support.js';

describe('RFC 9111 §4.1: Vary', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  beforeEach(() => {
    env.origin.route('/greeting', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language, x-region' });
      res.end(`${req.headers['accept-language'] ?? 'none'} ${req.headers['x-region'] ?? 'nowhere'}`);
    });
  });

  it('stores each variant and selects it by the request headers Vary names', async () => {
    const cache = env.cache();
    const as = (lang: string) => fetchText(cache, url('/greeting'), { headers: { 'accept-language': lang } });
    expect((await as('fr')).body).to.equal('fr nowhere');
    const en = await as('en');
    expect(en.body).to.equal('en nowhere');
    expect(en.cacheStatus).to.match(/^cachette; fwd=vary-miss; fwd-status=200; stored/);
    const fr = await as('fr');
    expect(fr.body).to.equal('fr nowhere');
    expect(fr.cacheStatus).to.match(/hit/);
    expect((await as('en')).cacheStatus).to.match(/hit/);
    expect(env.origin.hits('/greeting')).to.equal(2);
  });

  it('a Vary naming what is no field name (names run together, a U+00A0) is not stored: no request could be matched to it safely', async () => {
    env.origin.route('/who', (req, res) => {
      res.writeHead(200, { 'cache-control': 'public, max-age=60', vary: req.url === '/who?nbsp' ? 'Cookie\u00a0' : 'cookie authorization' });
      res.end(`for ${req.headers.cookie}`);
    });
    const cache = env.cache({ credentialed: 'per-credential', type: 'private' });
    for (const path of ['/who', '/who?nbsp']) {
      const first = await fetchText(cache, url(path), { headers: { cookie: 'session=a' } });
      expect(first.cacheStatus).to.match(/detail=vary-star/);
      expect((await fetchText(cache, url(path), { headers: { cookie: 'session=b' } })).body).to.equal('for session=b');
    }
  });

  it('an absent header is a value of its own', async () => {
    const cache = env.cache();
    expect((await fetchText(cache, url('/greeting'))).body).to.equal('* nowhere');
    expect((await fetchText(cache, url('/greeting'), { headers: { 'x-region': '' } })).body).to.equal('* ');
    expect((await fetchText(cache, url('/greeting'), { headers: { 'x-region': 'eu' } })).body).to.equal('* eu');
    expect((await fetchText(cache, url('/greeting'))).cacheStatus).to.match(/hit/);
    expect((await fetchText(cache, url('/greeting'), { headers: { 'x-region': '' } })).cacheStatus).to.match(/hit/);
    expect(env.origin.hits('/greeting')).to.equal(3);
  });

  it('normalizes values: whitespace, and case where the field is case-insensitive', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/greeting'), { headers: { 'accept-language': 'fr, en;q=0.5' } });
    const same = await fetchText(cache, url('/greeting'), { headers: { 'accept-language': 'FR ,  EN;q=0.5' } });
    expect(same.cacheStatus).to.match(/hit/);
  });

  it('only where the field’s syntax allows: elsewhere `a  b` is not `a b`, nor `x,y` `x, y` (a User-Agent’s comment)', async () => {
    env.origin.route('/agents', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'x-q, user-agent' });
      res.end(`${req.headers['x-q']} | ${req.headers['user-agent']}`);
    });
    const cache = env.cache();
    const as = (q: string, agent: string) => fetchText(cache, url('/agents'), { headers: { 'x-q': q, 'user-agent': agent } });
    expect((await as('"a  b"', 'Bot/1 (x,y)')).body).to.equal('"a  b" | Bot/1 (x,y)');
    expect((await as('"a b"', 'Bot/1 (x,y)')).body).to.equal('"a b" | Bot/1 (x,y)');
    expect((await as('"a b"', 'Bot/1 (x, y)')).body).to.equal('"a b" | Bot/1 (x, y)');
    expect((await as('"a  b"', 'Bot/1 (x,y)')).cacheStatus).to.match(/hit/);
    expect(env.origin.hits('/agents')).to.equal(3);
  });

  it('deleting the URL removes every variant', async () => {
    const cache = env.cache();
    for (const lang of ['fr', 'en', 'de']) await fetchText(cache, url('/greeting'), { headers: { 'accept-language': lang } });
    await cache.settled();
    expect(await rawPartitions(cache).responses.size()).to.equal(4); // three variants and the index
    await cache.delete({ entries: [url('/greeting')] });
    expect(await rawPartitions(cache).responses.size()).to.equal(0);
  });

  it('a response that stops varying replaces the variants', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/greeting'), { headers: { 'accept-language': 'fr' } });
    env.origin.route('/greeting', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('same for all');
    });
    await cache.delete({ entries: [url('/greeting')] });
    expect((await fetchText(cache, url('/greeting'), { headers: { 'accept-language': 'fr' } })).body).to.equal('same for all');
    expect((await fetchText(cache, url('/greeting'), { headers: { 'accept-language': 'en' } })).cacheStatus).to.match(/hit/);
  });

  it('a variant past the 64 its index lists is never served: a purge of the URL reaches every variant served', async () => {
    let version = 1;
    env.origin.route('/many', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'accept-language', etag: `"${version}"` });
      res.end(`v${version} ${req.headers['accept-language']}`);
    });
    const cache = env.cache();
    const as = (lang: string) => fetchText(cache, url('/many'), { headers: { 'accept-language': lang } });
    for (let i = 0; i < 66; i++) await as(`l${i}`);
    await cache.settled();
    // The first two are no longer listed: asked again, they go to the origin.
    expect((await as('l0')).cacheStatus).to.match(/fwd=vary-miss/);
    expect((await as('l65')).cacheStatus).to.match(/hit/);
    await cache.settled();
    version = 2;
    await cache.delete({ entries: [url('/many')], soft: true });
    // Every variant is revalidated or fetched anew: none is served as it was before the purge.
    for (const lang of ['l0', 'l1', 'l2', 'l65']) expect((await as(lang)).body).to.equal(`v2 ${lang}`);
  });
});
