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

  it('by default, bodies the origin can tell apart never share an entry: JSON is keyed by its bytes', async () => {
    const cache = env.cache({ methods: ['POST'] });
    const pairs = [
      ['{"id":9007199254740993}', '{"id":9007199254740992}'],
      ['{"limit":1e400}', '{"limit":null}'],
      ['{"x":0.10000000000000000001}', '{"x":0.1}'],
      ['{"a":1,"b":2}', '{"b":2,"a":1}'],
      ['{"a":1.0}', '{"a":1}'],
    ];
    for (const [first, second] of pairs) {
      expect(JSON.parse((await fetchText(cache, url('/graphql'), post(first as string))).body).echo).to.equal(first);
      const other = await fetchText(cache, url('/graphql'), post(second as string));
      expect(JSON.parse(other.body).echo, `${second} after ${first}`).to.equal(second);
    }
    // The same bytes under another Content-Type say something else.
    await fetchText(cache, url('/graphql'), post('a=1', 'text/plain'));
    expect((await fetchText(cache, url('/graphql'), post('a=1', 'application/x-www-form-urlencoded'))).cacheStatus).to.match(/fwd=uri-miss/);
  });

  it('form bodies with bytes that are not UTF-8 stay apart', async () => {
    const cache = env.cache({ methods: ['POST'], bodyKey: 'canonical' });
    const form = 'application/x-www-form-urlencoded';
    expect(JSON.parse((await fetchText(cache, url('/graphql'), post('q=%E9t%E9', form))).body).echo).to.equal('q=%E9t%E9');
    expect(JSON.parse((await fetchText(cache, url('/graphql'), post('q=%E8t%E8', form))).body).echo).to.equal('q=%E8t%E8');
  });

  it('a body too deep for the normalizer is keyed by its bytes, and the request goes through', async () => {
    const cache = env.cache({ methods: ['POST'], bodyKey: 'canonical', ignoredParameters: ['nonce'] });
    const deep = `${'['.repeat(5000)}1${']'.repeat(5000)}`;
    const first = await fetchText(cache, url('/graphql'), post(deep));
    expect(first.status).to.equal(200);
    expect(JSON.parse(first.body).echo).to.equal(deep);
    expect((await fetchText(cache, url('/graphql'), post(deep))).cacheStatus).to.match(/hit/);
  });

  it("with bodyKey: 'canonical', JSON object key order and whitespace do not matter", async () => {
    const cache = env.cache({ methods: ['POST'], bodyKey: 'canonical' });
    await fetchText(cache, url('/graphql'), post('{"b":2,"a":{"y":1,"x":[1,2]}}'));
    const reordered = await fetchText(cache, url('/graphql'), post('{ "a": { "x": [1, 2], "y": 1 }, "b": 2 }'));
    expect(reordered.cacheStatus).to.match(/hit/);
    const arrayOrder = await fetchText(cache, url('/graphql'), post('{"b":2,"a":{"y":1,"x":[2,1]}}'));
    expect(arrayOrder.cacheStatus, 'array order is meaningful').to.match(/fwd=uri-miss/);
    // Numbers and strings as written: canonical is lossless.
    await fetchText(cache, url('/graphql'), post('{"id":9007199254740993}'));
    expect((await fetchText(cache, url('/graphql'), post('{"id":9007199254740992}'))).cacheStatus).to.match(/fwd=uri-miss/);
    await fetchText(cache, url('/graphql'), post('{"s":"\\u0041"}'));
    expect((await fetchText(cache, url('/graphql'), post('{"s":"A"}'))).cacheStatus).to.match(/fwd=uri-miss/);
    // Repeated names keep their order.
    await fetchText(cache, url('/graphql'), post('{"a":1,"a":2}'));
    expect((await fetchText(cache, url('/graphql'), post('{"a":2,"a":1}'))).cacheStatus).to.match(/fwd=uri-miss/);
  });

  it('ignoredParameters are left out of JSON and form bodies', async () => {
    const cache = env.cache({ methods: ['POST'], ignoredParameters: ['nonce'] });
    await fetchText(cache, url('/graphql'), post('{"q":1,"nonce":"abc"}'));
    expect((await fetchText(cache, url('/graphql'), post('{"nonce":"xyz","q":1}'))).cacheStatus).to.match(/hit/);
    await fetchText(cache, url('/graphql'), post('q=1&nonce=a', 'application/x-www-form-urlencoded'));
    expect((await fetchText(cache, url('/graphql'), post('nonce=b&q=1', 'application/x-www-form-urlencoded'))).cacheStatus).to.match(/hit/);
    // Only they: the rest is keyed as sent.
    expect((await fetchText(cache, url('/graphql'), post('{"q":1.0,"nonce":"abc"}'))).cacheStatus).to.match(/fwd=uri-miss/);
    expect((await fetchText(cache, url('/graphql'), post('{"q":1,"nonce":"abc","Nonce":"x"}'))).cacheStatus).to.match(/fwd=uri-miss/);
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
