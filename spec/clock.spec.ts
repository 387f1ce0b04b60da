/**
 * The cache's time comes from its `clock` option; FakeClock (cachette/testing)
 * moves only when told, calling its timers in order at their moments.
 */
import { expect } from 'chai';
import { FaultyStorage } from '../fixtures/faulty-storage.js';
import { respond } from '../fixtures/origin.js';
import { createCache } from '../lib/cache.js';
import { MemoryStorage } from '../lib/storage/memory.js';
import { FakeClock } from '../lib/testing.js';
import { fetchText, useOrigin } from './support.js';

describe('FakeClock', () => {
  it('starts where it is told, and moves wall and monotonic time together, only when told', async () => {
    const clock = new FakeClock(new Date('2026-01-01T00:00:00Z'));
    expect(clock.now()).to.equal(Date.parse('2026-01-01T00:00:00Z'));
    expect(clock.monotonic()).to.equal(0);
    await clock.advance(1.5);
    expect(clock.now()).to.equal(Date.parse('2026-01-01T00:00:01.500Z'));
    expect(clock.monotonic()).to.equal(1500);
  });

  it('calls the timers that fall due, in order, each at its own moment; a cancelled one never', async () => {
    const clock = new FakeClock(0);
    const calls: Array<[string, number]> = [];
    clock.setTimer(() => calls.push(['b', clock.monotonic()]), 200);
    clock.setTimer(() => calls.push(['a', clock.monotonic()]), 100);
    clock.setTimer(() => calls.push(['c', clock.monotonic()]), 200).cancel();
    clock.setTimer(() => calls.push(['late', clock.monotonic()]), 5000);
    expect(clock.pendingTimers).to.equal(3);
    await clock.advance(1);
    expect(calls).to.deep.equal([
      ['a', 100],
      ['b', 200],
    ]);
    expect(clock.pendingTimers).to.equal(1);
  });

  it('a timer set on the way, by a timer or by what it started, falls due within the same advance', async () => {
    const clock = new FakeClock(0);
    const calls: number[] = [];
    clock.setTimer(() => {
      calls.push(clock.monotonic());
      void Promise.resolve().then(() => clock.setTimer(() => calls.push(clock.monotonic()), 100));
    }, 100);
    await clock.advance(0.25);
    expect(calls).to.deep.equal([100, 200]);
  });

  it('refuses a start that is not a time, and a step that is not seconds forward', async () => {
    expect(() => new FakeClock(Number.NaN)).to.throw(TypeError, /Date or epoch ms/);
    const clock = new FakeClock();
    for (const step of [-1, Number.NaN, Number.POSITIVE_INFINITY, '1' as unknown as number]) {
      const error = await clock.advance(step).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error, String(step)).to.be.instanceOf(TypeError);
    }
  });
});

describe('the clock option', () => {
  const env = useOrigin();

  it('must be a Clock', () => {
    expect(() => createCache({ clock: {} as never })).to.throw(TypeError, /clock must be a Clock/);
    expect(() => new MemoryStorage({ clock: { now: () => 0 } as never })).to.throw(TypeError, /clock must be a Clock/);
  });

  it('drives freshness, and the default storage keeps time by it too', async () => {
    env.origin.route('/a', respond(200, {}, 'x'));
    // On a whole second, and the origin dates its responses by it: age 0 exactly.
    const clock = new FakeClock(Math.floor(Date.now() / 1000) * 1000);
    env.origin.clock = clock;
    const cache = env.cache({ clock, expireAfter: 60 });
    await fetchText(cache, `${env.origin.url}/a`);
    expect((await fetchText(cache, `${env.origin.url}/a`)).cacheStatus).to.equal('cachette; hit; ttl=60');
    await clock.advance(59);
    expect((await fetchText(cache, `${env.origin.url}/a`)).cacheStatus).to.equal('cachette; hit; ttl=1');
    await clock.advance(2);
    expect((await fetchText(cache, `${env.origin.url}/a`)).cacheStatus).to.match(/^cachette; fwd=uri-miss/);
    expect(env.origin.hits('/a')).to.equal(2);
  });

  it('bounds settled(): work that outlives storageTimeout.close is left to itself, and reported', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'x'));
    const storage = new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['hang'], seed: 1, operations: ['set'] });
    const clock = new FakeClock();
    const errors: string[] = [];
    const cache = env.cache({
      storage,
      clock,
      timeouts: { write: 60, close: 1 },
      logger: { debug() {}, info() {}, warn: (message: string) => errors.push(message), error: (message: string) => errors.push(message) },
    });
    await fetchText(cache, `${env.origin.url}/a`);
    let settled = false;
    const waiting = cache.settled().then(() => (settled = true));
    await clock.advance(0.999);
    expect(settled).to.equal(false);
    await clock.advance(0.001);
    await waiting;
    expect(errors.some((message) => /settled\(\) stopped waiting after 1000 ms/.test(message))).to.equal(true);
    // close() has the same bound, on the same clock.
    const closing = cache.close();
    await clock.advance(1);
    await closing;
  });
});
