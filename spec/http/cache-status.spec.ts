import diagnostics from 'node:diagnostics_channel';
import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { formatCacheStatus } from '../../lib/interceptor/cache-status.js';
import { fetchText, useOrigin } from '../support.js';

describe('RFC 9211 Cache-Status, and decisions on the diagnostics channels', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  it('formats every parameter as RFC 9211 §2 defines it', () => {
    expect(formatCacheStatus({ hit: true, ttl: 12.6 })).to.equal('cachette; hit; ttl=13');
    expect(formatCacheStatus({ fwd: 'uri-miss', fwdStatus: 200, stored: true, collapsed: true, ttl: -3 })).to.equal(
      'cachette; fwd=uri-miss; fwd-status=200; stored; collapsed; ttl=-3',
    );
    expect(formatCacheStatus({ fwd: 'bypass', detail: 'too-large' })).to.equal('cachette; fwd=bypass; detail=too-large');
    expect(formatCacheStatus({ detail: 'two words' })).to.equal('cachette; detail="two words"');
  });

  it("is appended after the origin's (or an upstream cache's) own member", async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60', 'cache-status': 'upstream-cdn; hit' }, 'x'));
    const cache = env.cache();
    expect((await fetchText(cache, url('/a'))).cacheStatus).to.match(/^upstream-cdn; hit, cachette; fwd=uri-miss/);
    expect((await fetchText(cache, url('/a'))).cacheStatus).to.match(/^upstream-cdn; hit, cachette; hit/);
  });

  it('publishes each decision with its named reason', async () => {
    const decisions: Array<Record<string, unknown>> = [];
    const stores: Array<Record<string, unknown>> = [];
    const onDecision = (message: unknown) => decisions.push(message as Record<string, unknown>);
    const onStore = (message: unknown) => stores.push(message as Record<string, unknown>);
    diagnostics.subscribe('cachette:decision', onDecision);
    diagnostics.subscribe('cachette:store', onStore);
    try {
      env.origin.route('/ok', respond(200, { 'cache-control': 'max-age=60' }, 'x'));
      env.origin.route('/private', respond(200, { 'cache-control': 'private' }, 'x'));
      const cache = env.cache();
      await fetchText(cache, url('/ok'));
      await fetchText(cache, url('/ok'));
      await fetchText(cache, url('/private'));
      await fetchText(cache, url('/ok'), { method: 'POST', body: 'x' });
      await cache.settled();
      expect(decisions.map((d) => `${d['outcome']}:${d['reason']}`)).to.deep.equal([
        'miss:uri-miss',
        'hit:fresh',
        'miss:uri-miss',
        'bypass:method',
        'invalidate:unsafe-method',
      ]);
      // A store is reported when its write lands, a refusal at once: on a network storage, in either order.
      expect(stores.map((s) => `${s['stored']}:${s['reason']}`)).to.have.members(['true:max-age', 'false:private']);
      expect(decisions[0]?.['url']).to.equal(url('/ok'));
    } finally {
      diagnostics.unsubscribe('cachette:decision', onDecision);
      diagnostics.unsubscribe('cachette:store', onStore);
    }
  });

  it('sends decisions to a logger at debug level', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'x'));
    const lines: string[] = [];
    const cache = env.cache({ logger: { debug: (message) => lines.push(message) } });
    await fetchText(cache, url('/a'));
    await fetchText(cache, url('/a'));
    await cache.settled();
    expect(lines.some((line) => line.startsWith('cachette: miss (uri-miss) GET'))).to.equal(true);
    expect(lines.some((line) => line.startsWith('cachette: stored GET'))).to.equal(true);
    expect(lines.some((line) => line.startsWith('cachette: hit (fresh) GET'))).to.equal(true);
  });
});
