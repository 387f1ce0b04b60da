import diagnostics from 'node:diagnostics_channel';
import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { plainView } from '../../fixtures/storage-views.js';
import type { LeaseAttempt, Partition, Storage } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { FakeClock } from '../../lib/testing.js';
import { fetchText, useOrigin } from '../support.js';

/**
 * A memory storage whose leases are always held by "another process", as when
 * a second instance sharing a DynamoDB table is fetching the same URL.
 */
class LeasedElsewhere implements Storage {
  readonly memory = new MemoryStorage();
  leaseRequests = 0;

  partition(name: string): Partition {
    const inner = this.memory.partition(name);
    const view: Partition & { acquireLease(key: string, ttlMs: number): Promise<LeaseAttempt>; releaseLease(): Promise<void> } = {
      ...plainView(inner),
      capabilities: { leases: true },
      acquireLease: async () => {
        this.leaseRequests += 1;
        return { heldUntil: Date.now() + 60_000 };
      },
      releaseLease: async () => {},
    };
    return view;
  }

  async close(): Promise<void> {
    await this.memory.close();
  }
}

describe("waiting for another instance's fetch (coalesceAcrossInstances)", () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  it('the caller can abort the wait: it gets an AbortError at once, and the origin is never asked', async () => {
    env.origin.route('/slow', respond(200, { 'cache-control': 'max-age=60' }, 'body'));
    const storage = new LeasedElsewhere();
    const cache = env.cache({ storage, coalesceAcrossInstances: { lease: 10, wait: 30 } });
    const controller = new AbortController();
    const pending = cache.fetch(url('/slow'), { signal: controller.signal });
    while (storage.leaseRequests < 1) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    // Settles at once (the wait itself runs for 30 s: the spec's timeout would end it first).
    const error = await pending.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).name).to.equal('AbortError');
    expect(storage.leaseRequests).to.equal(1);
    expect(env.origin.hits('/slow')).to.equal(0);
  });

  it('the entry the other instance stores is served to the waiting caller', async () => {
    env.origin.route('/slow', respond(200, { 'cache-control': 'max-age=60' }, 'from the other instance'));
    const storage = new LeasedElsewhere();
    const clock = new FakeClock();
    const waiting = env.cache({ storage, clock, coalesceAcrossInstances: { lease: 10, wait: 30 } });
    const pending = fetchText(waiting, url('/slow'));
    while (storage.leaseRequests < 1) await new Promise((resolve) => setImmediate(resolve));
    // The "other instance": same storage, no coalescing, fetches and stores.
    const other = env.cache({ storage: storage.memory });
    await fetchText(other, url('/slow'));
    await other.settled();
    // The waiting instance looks again.
    await clock.advance(0.1);
    const served = await pending;
    expect(served.body).to.equal('from the other instance');
    expect(served.cacheStatus).to.match(/^cachette; hit/);
    expect(env.origin.hits('/slow')).to.equal(1);
  });

  it('past `wait`, the caller fetches for itself', async () => {
    env.origin.route('/slow', respond(200, { 'cache-control': 'max-age=60' }, 'body'));
    const storage = new LeasedElsewhere();
    const clock = new FakeClock();
    const cache = env.cache({ storage, clock, coalesceAcrossInstances: { lease: 10, wait: 0.3 } });
    const decisions: string[] = [];
    const listener = (message: unknown) => {
      const { outcome, reason } = message as { outcome: string; reason: string };
      decisions.push(`${outcome} ${reason}`);
    };
    diagnostics.subscribe('cachette:decision', listener);
    try {
      const pending = fetchText(cache, url('/slow'));
      while (storage.leaseRequests < 1) await new Promise((resolve) => setImmediate(resolve));
      await clock.advance(0.3);
      const fetched = await pending;
      expect(fetched.body).to.equal('body');
    } finally {
      diagnostics.unsubscribe('cachette:decision', listener);
    }
    // It waited for the other instance, then, past `wait` and still without a lease, fetched itself.
    expect(decisions).to.deep.equal(['miss uri-miss', 'wait leased-elsewhere', 'forward no-lease']);
    expect(env.origin.hits('/slow')).to.equal(1);
  });
});
