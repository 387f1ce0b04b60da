/**
 * Deadlines on every storage call the cache makes, whatever the storage: a
 * storage that hangs is a failure, never a hung request, write chain or close().
 */

import diagnostics from 'node:diagnostics_channel';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { FaultyStorage } from '../../fixtures/faulty-storage.js';
import { respond } from '../../fixtures/origin.js';
import { plainView } from '../../fixtures/storage-views.js';
import { createCache } from '../../lib/cache.js';
import type { Offering, Partition } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { FakeClock } from '../../lib/testing.js';
import { useOrigin } from '../support.js';

function listen(name: string): {
  events: Array<Record<string, unknown>>;
  stop: () => void;
  next: (test: (event: Record<string, unknown>) => boolean) => Promise<void>;
} {
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<{ test: (event: Record<string, unknown>) => boolean; resolve: () => void }> = [];
  const listener = (message: unknown) => {
    const event = message as Record<string, unknown>;
    events.push(event);
    for (const waiter of waiters.splice(0)) {
      if (waiter.test(event)) waiter.resolve();
      else waiters.push(waiter);
    }
  };
  diagnostics.subscribe(name, listener);
  return {
    events,
    stop: () => diagnostics.unsubscribe(name, listener),
    next: (test) => new Promise<void>((resolve) => waiters.push({ test, resolve })),
  };
}

/** What a call threw, as "name: message" ('no error' when it did not). */
async function failure(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return 'no error';
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

describe('storage deadlines', () => {
  const env = useOrigin();
  const url = () => `${env.origin.url}/a`;

  beforeEach(() => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'from origin'));
  });

  it('a storage whose every call hangs: every request is answered, settled() and close() resolve', async () => {
    const storage = new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['hang'], seed: 1 });
    const errors = listen('cachette:storage-error');
    try {
      const cache = createCache({ storage, timeouts: { read: 0.02, write: 0.02, close: 0.2 }, circuitBreaker: { failures: 1000 } });
      for (let i = 0; i < 5; i++) {
        const response = await cache.fetch(url());
        expect(await response.text()).to.equal('from origin');
        // The write gives up at its deadline (until then, lookups would see the record it was writing).
        await cache.settled();
      }
      await cache.close();
      expect(env.origin.hits('/a')).to.equal(5);
      const deadlines = errors.events.filter((event) => (event['error'] as Error).name === 'StorageDeadlineError');
      expect(deadlines.map((event) => event['operation'])).to.include.members(['get', 'set']);
    } finally {
      errors.stop();
    }
  });

  it('hung calls open the breaker: then the storage is skipped, and requests stop paying the deadline', async () => {
    const storage = new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['hang'], seed: 2 });
    const cache = env.cache({ storage, timeouts: { read: 0.02, write: 0.02 }, circuitBreaker: { failures: 3, cooldown: 60 } });
    const request = async () => {
      await (await cache.fetch(url())).text();
      await cache.settled();
    };
    // A lookup and a write per request, each past its deadline: the third failure opens the breaker.
    await request();
    await request();
    expect(storage.calls).to.equal(3);
    for (let i = 0; i < 10; i++) await request();
    expect(storage.calls).to.equal(3);
    expect(env.origin.hits('/a')).to.equal(12);
  });

  it('a probe that hangs counts as a failure: the breaker opens again, and closes once the storage answers', async () => {
    const storage = new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['hang'], seed: 3 });
    const breaker = listen('cachette:breaker');
    try {
      const clock = new FakeClock();
      const cache = env.cache({ storage, clock, timeouts: { read: 0.02, write: 0.02 }, circuitBreaker: { failures: 1, cooldown: 0.05 } });
      // A request whose lookup hangs: once the storage has the call, its deadline (on the cache's clock) passes
      // (20 ms, and at most a tenth more: calls that start together share a timer).
      const whileHung = async (): Promise<void> => {
        const calls = storage.calls;
        const pending = cache.fetch(url()).then((response) => response.text());
        while (storage.calls === calls) await new Promise((resolve) => setImmediate(resolve));
        await clock.advance(0.022);
        await pending;
      };
      const opened = breaker.next((event) => event['state'] === 'open');
      await whileHung();
      await opened;
      // The storage still hangs: the probe times out and the breaker opens again.
      const reopened = breaker.next((event) => event['state'] === 'open');
      await clock.advance(0.05);
      await whileHung();
      await reopened;
      expect(breaker.events.map((event) => event['state'])).to.deep.equal(['open', 'half-open', 'open']);
      // The storage recovers: the next probe succeeds.
      storage.plan = { ...storage.plan, rate: 0 };
      const closed = breaker.next((event) => event['state'] === 'closed');
      await clock.advance(0.05);
      await (await cache.fetch(url())).text();
      await closed;
      await cache.settled();
      const hit = await cache.fetch(url());
      expect(hit.headers.get('cache-status')).to.match(/^cachette; hit/);
    } finally {
      breaker.stop();
    }
  });

  it('close() is bounded: writes that never land are abandoned and reported', async () => {
    const storage = new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['hang'], seed: 4, operations: ['set'] });
    const errors = listen('cachette:storage-error');
    const warnings: string[] = [];
    try {
      // Writes get longer than close() has: close() gives up on them.
      const cache = createCache({ storage, timeouts: { write: 60, close: 0.05 }, logger: { warn: (message) => warnings.push(message) } });
      await (await cache.fetch(url())).text();
      await cache.close();
      const closing = errors.events.filter((event) => event['operation'] === 'close');
      expect(closing.map((event) => (event['error'] as Error).message)).to.deep.equal([
        'close() gave up after 50 ms: 1 write(s) still in flight were abandoned',
      ]);
      expect(warnings.some((message) => /storage close on responses failed: close\(\) gave up/.test(message))).to.equal(true);
    } finally {
      errors.stop();
    }
  });

  it('management calls on a storage that hangs throw a StorageDeadlineError at the write deadline, never hang', async () => {
    const storage = new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['hang'], seed: 5 });
    const cache = createCache({ storage, timeouts: { read: 0.02, write: 0.03 }, circuitBreaker: { failures: 1000 } });
    try {
      expect(await failure(() => cache.delete({ entries: [url()] }))).to.equal('StorageDeadlineError: storage getMany did not settle within 30 ms');
      expect(await failure(() => cache.delete({ entries: [{ key: 'k' }] }))).to.equal('StorageDeadlineError: storage getMany did not settle within 30 ms');
      expect(await failure(() => cache.inspect(url()))).to.equal('StorageDeadlineError: storage get did not settle within 30 ms');
      expect(await failure(() => cache.contains({ url: url() }))).to.equal('StorageDeadlineError: storage has did not settle within 30 ms');
    } finally {
      await cache.close();
    }
  });

  it('a listing that hangs after its first items ends with a StorageDeadlineError: entries(), export and a purge by tag', async () => {
    env.origin.route('/tagged', respond(200, { 'cache-control': 'max-age=60', 'cache-tag': 't' }, 'tagged'));
    const memory = new MemoryStorage();
    let hang = false;
    // Listings give what is stored, then, once `hang` is set, never end.
    const thenHang =
      <T>(list: () => AsyncIterable<T>) =>
      () => ({
        async *[Symbol.asyncIterator]() {
          yield* list();
          if (hang) await new Promise<never>(() => {});
        },
      });
    const storage = {
      partition: (name: string) => {
        const partition = memory.partition(name);
        return { ...plainView(partition), keys: thenHang(() => partition.keys()), entries: thenHang(() => partition.entries()) };
      },
      close: () => memory.close(),
    };
    const cache = createCache({ storage, timeouts: { write: 0.03 }, cacheTagsHeader: 'cache-tag' });
    try {
      await (await cache.fetch(`${env.origin.url}/tagged`)).text();
      await cache.settled();
      hang = true;
      const seen: string[] = [];
      const listed = async () => {
        for await (const entry of cache.entries()) seen.push(entry.url);
      };
      expect(await failure(listed)).to.equal('StorageDeadlineError: storage entries did not settle within 30 ms');
      expect(seen).to.deep.equal([`${env.origin.url}/tagged`]);
      const sink = new PassThrough();
      sink.resume();
      expect(await failure(() => cache.export(sink))).to.equal('StorageDeadlineError: storage entries did not settle within 30 ms');
      expect(await failure(() => cache.delete({ tags: ['t'] }))).to.equal('StorageDeadlineError: storage keys did not settle within 30 ms');
    } finally {
      await cache.close();
    }
  });

  it('management reads and deletes go to the storage 100 keys a call, each call with its deadline', async () => {
    const memory = new MemoryStorage();
    const calls: string[] = [];
    const storage = {
      partition: (name: string) => {
        const partition = memory.partition(name) as Offering<'sweeps'>;
        if (!name.endsWith('responses')) return partition;
        return {
          ...plainView(partition),
          capabilities: { sweeps: true },
          getMany: (keys: string[]) => {
            calls.push(`getMany ${keys.length}`);
            return partition.getMany(keys);
          },
          bulkDelete: (keys: Iterable<string>) => {
            const list = [...keys];
            calls.push(`bulkDelete ${list.length}`);
            return partition.bulkDelete(list);
          },
          // The storage's own sweep is still the one used.
          deleteExpired: (now: number) => {
            calls.push('deleteExpired');
            return partition.deleteExpired(now);
          },
        } satisfies Partition;
      },
      close: () => memory.close(),
    };
    const cache = createCache({ storage });
    try {
      const keys = Array.from({ length: 250 }, (_, i) => `key-${i}`);
      expect(await cache.delete({ entries: keys.map((key) => ({ key })) })).to.equal(0);
      expect(calls).to.deep.equal(['getMany 100', 'getMany 100', 'getMany 50', 'bulkDelete 100', 'bulkDelete 100', 'bulkDelete 50']);
      calls.length = 0;
      await cache.delete({ expired: true });
      expect(calls).to.deep.equal(['deleteExpired']);
    } finally {
      await cache.close();
    }
  });

  it('timeouts are validated at construction; storageTimeout (milliseconds, 0.1) says what it became', () => {
    for (const bad of [0, -1, 'fast', { read: 0 }, { write: 'slow' }, { soon: 1 }, { read: 500_000 }]) {
      expect(() => createCache({ timeouts: bad as never }), JSON.stringify(bad)).to.throw(TypeError, /timeouts/);
    }
    expect(() => createCache({ storageTimeout: { read: 500 } } as never)).to.throw(
      TypeError,
      /storageTimeout \(milliseconds\) became timeouts \(seconds\) in 1\.0/,
    );
    expect(() => createCache({ timeouts: { read: 5000 } })).to.throw(TypeError, /for 5000 ms, write 5/);
    expect(() => createCache({ timeouts: { read: 0.25 } })).to.not.throw();
    expect(() => createCache({ timeouts: { read: Infinity } })).to.not.throw();
  });
});
