/**
 * Purges racing the writes on their way: a response whose write has not
 * landed when a purge names it is purged too, never left where no later purge
 * finds it. Writes and listings are held at gates, so the order is the one
 * under test whatever the machine's speed.
 */
import { expect } from 'chai';
import { sqliteStorage, tempFolder } from '../../fixtures/sqlite.js';
import type { Partition, Storage } from '../../lib/storage/contract.js';
import { fetchText, useOrigin } from '../support.js';

/** Calls wait here while it is closed. */
class Gate {
  waiting = 0;
  #opened: Promise<void> = Promise.resolve();
  #open: () => void = () => undefined;

  close(): void {
    this.#opened = new Promise((resolve) => (this.#open = resolve));
  }

  open(): void {
    this.#open();
    this.#opened = Promise.resolve();
  }

  async pass(): Promise<void> {
    this.waiting += 1;
    await this.#opened;
    this.waiting -= 1;
  }
}

/** `storage` with the responses' writes and the tag indexes' listings each waiting at a gate. */
function gated(storage: Storage, writes: Gate, listings: Gate): Storage {
  const partition = (name: string): Partition => {
    const inner = storage.partition(name);
    return new Proxy(inner, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (property === 'set' && name.endsWith('responses')) {
          return async (...args: unknown[]) => {
            await writes.pass();
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        if (property === 'keys' && name.includes('tag~')) {
          return async function* (...args: unknown[]) {
            await listings.pass();
            yield* (value as (...a: unknown[]) => AsyncIterable<string>).apply(target, args);
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
  return new Proxy(storage, {
    get(target, property) {
      if (property === 'partition') return partition;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('purges racing the writes on their way', () => {
  const env = useOrigin();
  const folder = tempFolder();
  after(() => folder.remove());

  it('a tagged response whose write lands after a purge by its tag began is purged too (it was left where no later purge finds it)', async () => {
    let finish: (() => void) | undefined;
    env.origin.route('/held', (_req, res) => {
      const body = 'v1';
      res.writeHead(200, { 'cache-tag': 'products', 'cache-control': 'max-age=600', 'content-length': String(body.length) });
      res.flushHeaders();
      finish = () => res.end(body);
    });
    const writes = new Gate();
    const listings = new Gate();
    listings.close();
    const cache = env.cache({ storage: gated(sqliteStorage({ path: `${folder.path}/races.db` }), writes, listings), cacheTagsHeader: 'cache-tag' });
    const turns = async (count: number) => {
      for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve));
    };
    writes.close();
    // The purge begins, and waits at its listing of the tag's index.
    const purge = cache.delete({ tags: ['products'] });
    await turns(5);
    // A request made meanwhile (one sent before the purge is not stored at all: spec/http/invalidation.spec.ts).
    const pending = fetchText(cache, `${env.origin.url}/held`);
    while (finish === undefined) await turns(1);
    // The response ends: its tag's index entry lands, its record waits at the gate.
    finish();
    expect((await pending).body).to.equal('v1');
    await turns(20);
    expect(writes.waiting).to.equal(1);
    listings.open();
    await turns(20);
    writes.open();
    expect(await purge).to.equal(1);
    await cache.settled();
    expect(await cache.contains(`${env.origin.url}/held`)).to.equal(false);
  });
});
