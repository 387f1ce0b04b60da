import diagnostics from 'node:diagnostics_channel';
import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { rawPartitions } from '../../lib/cache.js';
import type { Partition, Storage } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { FakeClock } from '../../lib/testing.js';
import { useOrigin } from '../support.js';

/** A remote storage whose every call fails (or not), counting the calls that reached it. */
class FlakyStorage implements Storage {
  failing = true;
  calls = 0;
  readonly #inner = new MemoryStorage();

  partition(name: string): Partition {
    const inner = this.#inner.partition(name);
    return new Proxy(inner, {
      get: (target, property) => {
        // Remote: no synchronous reads, nothing held in this process.
        if (property === 'capabilities') return { sweeps: true, deleteByAge: true };
        if (property === 'getSync' || property === 'hold' || property === 'getHeld') return undefined;
        const value = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          this.calls += 1;
          if (this.failing) return Promise.reject(new Error(`storage down (${String(property)})`));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

function listen(name: string): { events: Array<Record<string, unknown>>; stop: () => void } {
  const events: Array<Record<string, unknown>> = [];
  const listener = (message: unknown) => events.push(message as Record<string, unknown>);
  diagnostics.subscribe(name, listener);
  return { events, stop: () => diagnostics.unsubscribe(name, listener) };
}

describe('fail-open: storage errors never fail a request', () => {
  const env = useOrigin();

  beforeEach(() => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'from origin'));
  });

  it('a storage that throws on every call: every request is answered by the origin', async () => {
    const storage = new FlakyStorage();
    const errors = listen('cachette:storage-error');
    try {
      const cache = env.cache({ storage, circuitBreaker: { failures: 1000 } });
      for (let i = 0; i < 5; i++) {
        const response = await cache.fetch(`${env.origin.url}/a`);
        expect(response.status).to.equal(200);
        expect(await response.text()).to.equal('from origin');
        // Let the (failing) write land, so that the next lookup meets the storage rather than the write in flight.
        await cache.settled();
      }
      expect(env.origin.hits('/a')).to.equal(5);
      const operations = errors.events.map((event) => event['operation']);
      expect(operations).to.include('get');
      expect(operations).to.include('set');
      expect(operations).to.not.include('decode');
      expect(String((errors.events[0]?.['error'] as Error | undefined)?.message)).to.match(/storage down/);
    } finally {
      errors.stop();
    }
  });

  it('reports write errors to the logger', async () => {
    const warnings: string[] = [];
    const cache = env.cache({ storage: new FlakyStorage(), logger: { warn: (message) => warnings.push(message) } });
    await (await cache.fetch(`${env.origin.url}/a`)).text();
    await cache.settled();
    expect(warnings.some((message) => /storage set on responses failed: storage down/.test(message))).to.equal(true);
  });

  it('after repeated failures the breaker skips the storage, then probes it again after the cool-down', async () => {
    const storage = new FlakyStorage();
    const breaker = listen('cachette:breaker');
    try {
      const clock = new FakeClock();
      const cache = env.cache({ storage, clock, circuitBreaker: { failures: 3, cooldown: 0.3 } });
      for (let i = 0; i < 3; i++) {
        await (await cache.fetch(`${env.origin.url}/a`)).text();
        await cache.settled();
      }
      expect(breaker.events.map((event) => event['state'])).to.include('open');

      const callsWhileOpen = storage.calls;
      for (let i = 0; i < 10; i++) await (await cache.fetch(`${env.origin.url}/a`)).text();
      await cache.settled();
      expect(storage.calls, 'no storage calls while open').to.equal(callsWhileOpen);

      storage.failing = false;
      await clock.advance(0.3);
      await (await cache.fetch(`${env.origin.url}/a`)).text();
      await cache.settled();
      expect(breaker.events.map((event) => event['state'])).to.include.members(['half-open', 'closed']);
      const hit = await cache.fetch(`${env.origin.url}/a`);
      expect(hit.headers.get('cache-status')).to.match(/hit/);
      await hit.text();
    } finally {
      breaker.stop();
    }
  });

  it('a corrupt entry is a miss, is deleted, and is replaced by a good one', async () => {
    const cache = env.cache();
    await (await cache.fetch(`${env.origin.url}/a`)).text();
    await cache.settled();
    const [key] = await keysOf(rawPartitions(cache).responses);
    await rawPartitions(cache).responses.set(key as string, new Uint8Array([0x93, 1, 2, 3, 0xff]));
    const response = await cache.fetch(`${env.origin.url}/a`);
    expect(await response.text()).to.equal('from origin');
    expect(response.headers.get('cache-status')).to.match(/fwd=uri-miss/);
    await cache.settled();
    const again = await cache.fetch(`${env.origin.url}/a`);
    expect(again.headers.get('cache-status')).to.match(/hit/);
    await again.text();
    expect(env.origin.hits('/a')).to.equal(2);
  });

  it('a key function that throws bypasses the cache for that request only', async () => {
    const cache = env.cache({
      key: (request) => {
        if (request.url.includes('boom')) throw new Error('bad key');
        return request.url;
      },
    });
    env.origin.route('/boom', respond(200, { 'cache-control': 'max-age=60' }, 'ok'));
    const response = await cache.fetch(`${env.origin.url}/boom`);
    expect(await response.text()).to.equal('ok');
    expect(response.headers.get('cache-status')).to.equal('cachette; fwd=bypass; detail=key-error');
  });
});

async function keysOf(partition: Partition): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of partition.keys()) keys.push(key);
  return keys;
}
