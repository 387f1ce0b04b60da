import { Readable } from 'node:stream';
import { expect } from 'chai';
import { request } from 'undici';
import { fetchText, useOrigin } from '../support.js';

describe('opt-in POST caching, keyed by the request body', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  beforeEach(() => {
    env.origin.route('/graphql', (_req, res, body) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'application/json' });
      res.end(JSON.stringify({ echo: body.toString(), n: env.origin.hits('/graphql') }));
    });
  });

  const post = (body: string, contentType = 'application/json') => ({ method: 'POST', body, headers: { 'content-type': contentType } });

  it('is off by default', async () => {
    const cache = env.cache();
    await fetchText(cache, url('/graphql'), post('{"q":1}'));
    await fetchText(cache, url('/graphql'), post('{"q":1}'));
    expect(env.origin.hits('/graphql')).to.equal(2);
  });

  it('with POST in methods: same body → hit, different body → miss; the origin gets the exact body', async () => {
    const cache = env.cache({ methods: ['GET', 'HEAD', 'POST'] });
    const first = await fetchText(cache, url('/graphql'), post('{"query":"a"}'));
    expect(JSON.parse(first.body).echo).to.equal('{"query":"a"}');
    expect((await fetchText(cache, url('/graphql'), post('{"query":"a"}'))).cacheStatus).to.match(/hit/);
    expect((await fetchText(cache, url('/graphql'), post('{"query":"b"}'))).cacheStatus).to.match(/fwd=uri-miss/);
    expect(env.origin.hits('/graphql')).to.equal(2);
  });

  it('JSON object key order and whitespace do not matter', async () => {
    const cache = env.cache({ methods: ['POST'] });
    await fetchText(cache, url('/graphql'), post('{"b":2,"a":{"y":1,"x":[1,2]}}'));
    const reordered = await fetchText(cache, url('/graphql'), post('{ "a": { "x": [1, 2], "y": 1 }, "b": 2 }'));
    expect(reordered.cacheStatus).to.match(/hit/);
    const arrayOrder = await fetchText(cache, url('/graphql'), post('{"b":2,"a":{"y":1,"x":[2,1]}}'));
    expect(arrayOrder.cacheStatus, 'array order is meaningful').to.match(/fwd=uri-miss/);
  });

  it('ignoredParameters are left out of JSON and form bodies', async () => {
    const cache = env.cache({ methods: ['POST'], ignoredParameters: ['nonce'] });
    await fetchText(cache, url('/graphql'), post('{"q":1,"nonce":"abc"}'));
    expect((await fetchText(cache, url('/graphql'), post('{"nonce":"xyz","q":1}'))).cacheStatus).to.match(/hit/);
    await fetchText(cache, url('/graphql'), post('q=1&nonce=a', 'application/x-www-form-urlencoded'));
    expect((await fetchText(cache, url('/graphql'), post('nonce=b&q=1', 'application/x-www-form-urlencoded'))).cacheStatus).to.match(/hit/);
  });

  it('streamed bodies (undici.request with a Readable) are read, keyed and forwarded whole', async () => {
    const cache = env.cache({ methods: ['POST'] });
    for (let i = 0; i < 2; i++) {
      const response = await request(url('/graphql'), {
        method: 'POST',
        dispatcher: cache.dispatcher,
        headers: { 'content-type': 'text/plain' },
        body: Readable.from([Buffer.from('part one, '), Buffer.from('part two')]),
      });
      expect(JSON.parse(await response.body.text()).echo).to.equal('part one, part two');
    }
    expect(env.origin.hits('/graphql')).to.equal(1);
  });

  it('a POST cached on purpose does not invalidate the GET entry of its URL', async () => {
    env.origin.route('/search', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(req.method);
    });
    const cache = env.cache({ methods: ['GET', 'POST'] });
    await fetchText(cache, url('/search'));
    await fetchText(cache, url('/search'), post('{}'));
    expect((await fetchText(cache, url('/search'))).cacheStatus).to.match(/hit/);
  });
});
