/**
 * Deadlines share timers by window (lib/storage/deadline.ts): each call still
 * gets at least its timeout and at most a tenth more, on a controlled clock.
 */

import { expect } from 'chai';
import { Deadlines, StorageDeadlineError } from '../../lib/storage/deadline.js';
import { FakeClock } from '../../lib/testing.js';

describe('Deadlines', () => {
  let clock: FakeClock;
  beforeEach(() => {
    clock = new FakeClock();
  });

  /** Settles a promise's state into an observable record. */
  function watch<T>(promise: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } {
    const seen: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
    promise.then(
      (value) => Object.assign(seen, { state: 'resolved', value }),
      (error: unknown) => Object.assign(seen, { state: 'rejected', error }),
    );
    return seen;
  }
  const never = () => new Promise<never>(() => {});

  it('a call that never settles fails no sooner than its timeout and no later than a tenth more', async () => {
    const deadlines = new Deadlines(clock);
    const first = watch(deadlines.run(never, 1000, 'get'));
    await clock.advance(90 / 1000);
    // Same window (1000 / 10 = 100 ms): shares the first call's timer.
    const second = watch(deadlines.run(never, 1000, 'set'));
    await clock.advance((999 - 90) / 1000);
    expect([first.state, second.state]).to.deep.equal(['pending', 'pending']);
    await clock.advance(101 / 1000);
    expect([first.state, second.state]).to.deep.equal(['rejected', 'rejected']);
    expect(first.error).to.be.instanceOf(StorageDeadlineError);
    expect((second.error as Error).message).to.match(/set/);
    expect(clock.pendingTimers).to.equal(0);
  });

  it('calls in one window share one timer; a later call opens a new window', async () => {
    const deadlines = new Deadlines(clock);
    for (let i = 0; i < 50; i++) void deadlines.run(never, 200, 'get').catch(() => {});
    expect(clock.pendingTimers).to.equal(1);
    await clock.advance(20 / 1000);
    void deadlines.run(never, 200, 'get').catch(() => {});
    expect(clock.pendingTimers).to.equal(2);
    // Another timeout has its own windows.
    void deadlines.run(never, 50, 'set').catch(() => {});
    expect(clock.pendingTimers).to.equal(3);
    await clock.advance(1000 / 1000);
    expect(clock.pendingTimers).to.equal(0);
  });

  it('a call that settles in time keeps its value or its error; plain values and throws are promises', async () => {
    const deadlines = new Deadlines(clock);
    const ok = watch(deadlines.run(() => Promise.resolve(7), 100, 'get'));
    const failed = watch(deadlines.run(() => Promise.reject(new Error('boom')), 100, 'get'));
    const plain = watch(deadlines.run(() => 8, 100, 'get'));
    const thrown = watch(
      deadlines.run(
        () => {
          throw new Error('sync');
        },
        100,
        'get',
      ),
    );
    await clock.advance(0 / 1000);
    expect([ok.value, plain.value]).to.deep.equal([7, 8]);
    expect([(failed.error as Error).message, (thrown.error as Error).message]).to.deep.equal(['boom', 'sync']);
    // The window's timer fires later and fails nothing that already settled.
    await clock.advance(500 / 1000);
    expect(ok.state).to.equal('resolved');
  });

  it('an infinite timeout sets no timer', async () => {
    const deadlines = new Deadlines(clock);
    const call = watch(deadlines.run(never, Infinity, 'get'));
    expect(clock.pendingTimers).to.equal(0);
    await clock.advance(10_000_000 / 1000);
    expect(call.state).to.equal('pending');
  });
});
