import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { fetchText, useOrigin } from '../support.js';

describe('RFC 9111 §4.4: invalidation by unsafe methods', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  beforeEach(() => {
    for (const path of ['/items', '/items/1', '/items/2', '/other']) {
      env.origin.route(path, (req, res) => {
        if (req.method === 'GET') {
          res.writeHead(200, { 'cache-control': 'max-age=600' });
          res.end(`${path} v${env.origin.hits(path)}`);
          return;
        }
        const headers: Record<string, string> = {};
        const location = req.headers['x-location'];
        const contentLocation = req.headers['x-content-location'];
        if (typeof location === 'string') headers['location'] = location;
        if (typeof contentLocation === 'string') headers['content-location'] = contentLocation;
        res.writeHead(Number(req.headers['x-status'] ?? 200), headers);
        res.end('done');
      });
    }
  });

  async function cachedAfter(
    init: { method: string; body?: string | null; headers?: Record<string, string> },
    target: string,
    paths: string[],
  ): Promise<Record<string, boolean>> {
    const cache = env.cache();
    for (const path of paths) await fetchText(cache, url(path));
    const unsafe = await fetchText(cache, url(target), init);
    expect(unsafe.cacheStatus).to.equal('cachette; fwd=method');
    await cache.settled();
    const cached: Record<string, boolean> = {};
    for (const path of paths) cached[path] = await cache.contains({ url: url(path) });
    return cached;
  }

  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    it(`a successful ${method} invalidates the target URI`, async () => {
      const cached = await cachedAfter({ method, body: method === 'DELETE' ? null : 'x' }, '/items/1', ['/items/1', '/items/2']);
      expect(cached).to.deep.equal({ '/items/1': false, '/items/2': true });
    });
  }

  it('the next GET after the invalidating request goes to the origin', async () => {
    const cache = env.cache();
    expect((await fetchText(cache, url('/items/1'))).body).to.equal('/items/1 v1');
    await fetchText(cache, url('/items/1'), { method: 'PUT', body: 'new' });
    expect((await fetchText(cache, url('/items/1'))).body).to.equal('/items/1 v3');
  });

  it('Location and Content-Location on the same origin are invalidated too', async () => {
    const cached = await cachedAfter(
      { method: 'POST', body: 'x', headers: { 'x-location': '/items/1', 'x-content-location': `${url('/items/2')}` } },
      '/items',
      ['/items', '/items/1', '/items/2', '/other'],
    );
    expect(cached).to.deep.equal({ '/items': false, '/items/1': false, '/items/2': false, '/other': true });
  });

  it('a Location on another origin is left alone', async () => {
    const cached = await cachedAfter({ method: 'POST', body: 'x', headers: { 'x-location': 'http://elsewhere.example/items/1' } }, '/items', ['/items/1']);
    expect(cached).to.deep.equal({ '/items/1': true });
  });

  it('an error response invalidates nothing', async () => {
    const cached = await cachedAfter({ method: 'DELETE', headers: { 'x-status': '500' } }, '/items/1', ['/items/1']);
    expect(cached).to.deep.equal({ '/items/1': true });
  });

  it('safe methods invalidate nothing', async () => {
    env.origin.route('/items/1', respond(200, { 'cache-control': 'max-age=600' }, 'x'));
    const cached = await cachedAfter({ method: 'OPTIONS' }, '/items/1', ['/items/1']);
    expect(cached).to.deep.equal({ '/items/1': true });
  });
});
