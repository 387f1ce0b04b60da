/**
 * cache.stats(): what a cache has done, counted as it happens — hits, misses,
 * revalidations by outcome, stale answers, collapsed requests, bypasses and
 * refusals by reason, stores, storage errors, breaker trips, bytes served.
 */

import { expect } from 'chai';
import { FaultyStorage } from '../../fixtures/faulty-storage.js';
import { Gate, respond } from '../../fixtures/origin.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { decisions, fetchText, useOrigin } from '../support.js';

describe('cache.stats()', () => {
  const env = useOrigin({ clock: true });
  const url = (path: string) => `${env.origin.url}${path}`;

  it('a new cache has counted nothing, and its hit ratio is 0', () => {
    const stats = env.cache().stats();
    expect(stats).to.deep.equal({
      hits: 0,
      misses: 0,
      revalidations: { total: 0, notModified: 0, replaced: 0, failed: 0 },
      staleServed: 0,
      collapsed: 0,
      bypassed: {},
      stored: 0,
      notStored: {},
      storageErrors: 0,
      breakerTrips: 0,
      bytesServed: 0,
      refreshedAhead: 0,
      recordingMisses: 0,
      hitRatio: 0,
    });
  });

  it('counts misses, stores, hits and the bytes hits served; the ratio follows', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'twelve bytes'));
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    await cache.settled();
    for (let i = 0; i < 3; i++) await fetchText(cache, url('/a'));
    const stats = cache.stats();
    expect([stats.misses, stats.stored, stats.hits, stats.bytesServed]).to.deep.equal([1, 1, 3, 36]);
    expect(stats.hitRatio).to.equal(0.75);
    expect(env.origin.hits('/a')).to.equal(1);
  });

  it('counts revalidations by the origin answer: 304, a new response, or a failure answered stale', async () => {
    let answer: 'etag' | 'new' | 'fail' = 'etag';
    env.origin.route('/a', (_req, res) => {
      if (answer === 'fail') {
        res.writeHead(503);
        res.end();
      } else if (answer === 'etag' && _req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { 'cache-control': 'max-age=1, stale-if-error=600', etag: '"v1"' });
        res.end();
      } else {
        res.writeHead(200, { 'cache-control': 'max-age=1, stale-if-error=600', etag: '"v1"' });
        res.end('body');
      }
    });
    const cache = env.cache();
    await fetchText(cache, url('/a'));
    await cache.settled();
    await env.clock.advance(2);
    expect((await fetchText(cache, url('/a'))).status).to.equal(200); // 304
    await cache.settled();
    await env.clock.advance(2);
    answer = 'new';
    await fetchText(cache, url('/a'));
    await cache.settled();
    await env.clock.advance(2);
    answer = 'fail';
    expect((await fetchText(cache, url('/a'))).body).to.equal('body');
    const stats = cache.stats();
    expect(stats.revalidations).to.deep.equal({ total: 3, notModified: 1, replaced: 1, failed: 1 });
    expect([stats.staleServed, stats.hits, stats.misses]).to.deep.equal([1, 0, 1]);
    expect(stats.hitRatio).to.equal(0);
  });

  it('counts bypasses and refusals by reason', async () => {
    env.origin.route('/private', respond(200, { 'cache-control': 'no-store' }, 'x'));
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'x'));
    const cache = env.cache();
    await fetchText(cache, url('/private'));
    await fetchText(cache, url('/a'), { method: 'POST', body: 'b' });
    await fetchText(cache, url('/a'), { headers: { 'cache-control': 'no-store' } });
    const stats = cache.stats();
    expect(stats.notStored).to.deep.equal({ 'no-store': 1 });
    expect(stats.bypassed).to.deep.equal({ method: 1, 'request-no-store': 1 });
  });

  it('counts requests collapsed onto one under way', async () => {
    const gate = new Gate();
    env.origin.route('/slow', gate.guard(respond(200, { 'cache-control': 'max-age=60' }, 'slow')));
    const cache = env.cache();
    const seen = decisions(cache);
    const pending = Promise.all(Array.from({ length: 5 }, () => fetchText(cache, url('/slow'))));
    await seen.reached(5);
    gate.open();
    await pending;
    const stats = cache.stats();
    expect(env.origin.hits('/slow')).to.equal(1);
    expect(stats.collapsed).to.equal(4);
    expect(stats.misses).to.equal(5);
  });

  it('counts storage errors and breaker trips; resetStats() starts over', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'x'));
    const storage = new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['reject'], seed: 1 });
    const cache = env.cache({ storage, circuitBreaker: { failures: 2, cooldown: 60 } });
    for (let i = 0; i < 3; i++) {
      await fetchText(cache, url('/a'));
      await cache.settled();
    }
    const stats = cache.stats();
    expect([stats.storageErrors, stats.breakerTrips]).to.deep.equal([2, 1]);
    // The first write failed; the next two were not tried (the breaker was open): none stored.
    expect(stats.notStored).to.deep.equal({ storage: 3 });
    expect(stats.stored).to.equal(0);
    cache.resetStats();
    expect(cache.stats().storageErrors).to.equal(0);
    expect(cache.stats().misses).to.equal(0);
  });
});
