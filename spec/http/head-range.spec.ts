import { expect } from 'chai';
import { request } from 'undici';
import { respond } from '../../fixtures/origin.js';
import { rawPartitions } from '../../lib/cache.js';
import { fetchText, useOrigin } from '../support.js';

describe('RFC 9110 §9.3.2 HEAD and §14 Range', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  beforeEach(() => {
    env.origin.route('/doc', (req, res) => {
      const body = '0123456789';
      const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
      if (range !== null) {
        const [start, end] = [Number(range[1]), Number(range[2])];
        res.writeHead(206, { 'cache-control': 'max-age=60', 'content-range': `bytes ${start}-${end}/10` });
        res.end(body.slice(start, end + 1));
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain', 'content-length': String(body.length) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });

  it('HEAD is answered from the stored GET: its headers, no body', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/doc'));
    const head = await request(url('/doc'), { method: 'HEAD', dispatcher: cache.dispatcher });
    expect(head.statusCode).to.equal(200);
    expect(head.headers['content-type']).to.equal('text/plain');
    expect(head.headers['content-length']).to.equal('10');
    expect(await head.body.text()).to.equal('');
    expect(env.origin.hits('/doc')).to.equal(1);
  });

  it('a HEAD miss goes to the origin and stores nothing a GET could be answered with', async () => {
    const cache = env.cache();
    const head = await request(url('/doc'), { method: 'HEAD', dispatcher: cache.dispatcher });
    await head.body.text();
    expect(head.headers['cache-status']).to.match(/fwd=uri-miss; fwd-status=200; detail=head/);
    const get = await fetchText(cache, url('/doc'));
    expect(get.body).to.equal('0123456789');
  });

  it('one byte range is cut from a complete fresh entry, with Content-Range', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/doc'));
    for (const [range, body, contentRange] of [
      ['bytes=2-4', '234', 'bytes 2-4/10'],
      ['bytes=7-', '789', 'bytes 7-9/10'],
      ['bytes=-2', '89', 'bytes 8-9/10'],
      ['bytes=5-500', '56789', 'bytes 5-9/10'],
    ] as const) {
      const partial = await request(url('/doc'), { dispatcher: cache.dispatcher, headers: { range } });
      expect(partial.statusCode, range).to.equal(206);
      expect(await partial.body.text()).to.equal(body);
      expect(partial.headers['content-range']).to.equal(contentRange);
      expect(partial.headers['content-length']).to.equal(String(body.length));
      expect(partial.headers['cache-status']).to.match(/^cachette; hit/);
    }
    expect(env.origin.hits('/doc')).to.equal(1);
  });

  it('an unsatisfiable range gets a 416 from the cache', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/doc'));
    const response = await request(url('/doc'), { dispatcher: cache.dispatcher, headers: { range: 'bytes=50-60' } });
    expect(response.statusCode).to.equal(416);
    expect(response.headers['content-range']).to.equal('bytes */10');
    await response.body.text();
  });

  it('several ranges, or If-Range, go to the origin', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/doc'));
    const multi = await cache.fetch(url('/doc'), { headers: { range: 'bytes=0-1, 4-5' } });
    expect(multi.headers.get('cache-status')).to.equal('cachette; fwd=bypass; detail=range');
    await multi.text();
    const ifRange = await cache.fetch(url('/doc'), { headers: { range: 'bytes=0-1', 'if-range': '"x"' } });
    expect(ifRange.headers.get('cache-status')).to.equal('cachette; fwd=bypass; detail=range');
    await ifRange.text();
    expect(env.origin.hits('/doc')).to.equal(3);
  });

  it('a range of something not cached goes to the origin, and its 206 is not stored', async () => {
    const cache = env.cache();
    const partial = await cache.fetch(url('/doc'), { headers: { range: 'bytes=2-4' } });
    expect(partial.status).to.equal(206);
    expect(await partial.text()).to.equal('234');
    expect(partial.headers.get('cache-status')).to.match(/fwd=uri-miss; fwd-status=206; detail=partial-content/);
    const full = await fetchText(cache, url('/doc'));
    expect(full.body).to.equal('0123456789');
  });

  it('a 206 is never stored, so a later full request gets the full body', async () => {
    env.origin.route('/only-partial', respond(206, { 'cache-control': 'max-age=60', 'content-range': 'bytes 0-2/10' }, '012'));
    const cache = env.cache();
    await fetchText(cache, url('/only-partial'));
    await cache.settled();
    expect(await rawPartitions(cache).responses.size()).to.equal(0);
  });
});
