import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { parseDictionary } from '../../lib/policy/targeted.js';
import { fetchText, httpDate, useOrigin } from '../support.js';

describe('RFC 9213: targeted cache control (CDN-Cache-Control) in a shared cache', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  it('rules over Cache-Control and Expires', async () => {
    env.origin.route('/long', respond(200, { 'cdn-cache-control': 'max-age=3600', 'cache-control': 'no-store', expires: httpDate(-10) }, 'x'));
    env.origin.route('/short', respond(200, { 'cdn-cache-control': 'max-age=0', 'cache-control': 'max-age=3600' }, 'x'));
    env.origin.route('/private', respond(200, { 'cdn-cache-control': 'private', 'cache-control': 'max-age=3600' }, 'x'));
    env.origin.route('/no-store', respond(200, { 'cdn-cache-control': 'no-store', 'cache-control': 'max-age=3600' }, 'x'));
    const cache = env.cache();
    for (const path of ['/long', '/short', '/private', '/no-store']) {
      await fetchText(cache, url(path));
      await fetchText(cache, url(path));
    }
    expect(env.origin.hits('/long')).to.equal(1);
    expect(env.origin.hits('/short')).to.equal(2);
    expect(env.origin.hits('/private')).to.equal(2);
    expect(env.origin.hits('/no-store')).to.equal(2);
  });

  it('an invalid field (not a Structured Field, or a directive of the wrong type) is ignored', async () => {
    env.origin.route('/junk', respond(200, { 'cdn-cache-control': 'max-age=10000, &&&&&', 'cache-control': 'no-store' }, 'x'));
    env.origin.route('/string', respond(200, { 'cdn-cache-control': 'max-age="10000"', 'cache-control': 'no-store' }, 'x'));
    const cache = env.cache();
    for (const path of ['/junk', '/string']) {
      await fetchText(cache, url(path));
      await fetchText(cache, url(path));
      expect(env.origin.hits(path), path).to.equal(2);
    }
  });

  it('is ignored by a private cache, and configurable', async () => {
    env.origin.route('/a', respond(200, { 'cdn-cache-control': 'max-age=3600', 'cache-control': 'no-store' }, 'x'));
    const privateCache = env.cache({ type: 'private' });
    await fetchText(privateCache, url('/a'));
    await fetchText(privateCache, url('/a'));
    const none = env.cache({ targetedCacheControl: [] });
    await fetchText(none, url('/a'));
    await fetchText(none, url('/a'));
    expect(env.origin.hits('/a')).to.equal(4);
  });

  it('Structured Field Dictionaries parse per RFC 8941', () => {
    expect([...(parseDictionary('max-age=60, no-store, private="a, b";x=1') ?? [])]).to.deep.equal([
      ['max-age', 60],
      ['no-store', true],
      ['private', 'a, b'],
    ]);
    for (const invalid of ['max-age=60,', 'Max-Age=60', 'a=&', 'a="unterminated', 'a=1234567890123456']) {
      expect(parseDictionary(invalid), invalid).to.equal(undefined);
    }
  });
});
