/**
 * The storage conformance suite: every backend runs these cases unchanged,
 * from its own `spec/storage/<backend>.spec.ts`.
 */

import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Storage } from '../../lib/storage/contract.js';

export interface ConformanceOptions {
  /** A fresh, empty storage for each test. */
  create: () => Storage | Promise<Storage>;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : new TextDecoder().decode(value));

export function storageConformance({ create }: ConformanceOptions): void {
  let storage: Storage;

  beforeEach(async () => {
    storage = await create();
  });

  afterEach(async () => {
    await storage.close();
  });

  describe('get / set / delete / has', () => {
    it('misses a key never set', async () => {
      const partition = storage.partition('responses');
      expect(await partition.get('absent')).to.equal(undefined);
      expect(await partition.has('absent')).to.equal(false);
    });

    it('returns what was set, and the latest value after an overwrite', async () => {
      const partition = storage.partition('responses');
      await partition.set('k', bytes('one'));
      expect(text(await partition.get('k'))).to.equal('one');
      await partition.set('k', bytes('two'));
      expect(text(await partition.get('k'))).to.equal('two');
      expect(await partition.has('k')).to.equal(true);
    });

    it('delete says whether the key existed', async () => {
      const partition = storage.partition('responses');
      await partition.set('k', bytes('v'));
      expect(await partition.delete('k')).to.equal(true);
      expect(await partition.get('k')).to.equal(undefined);
      expect(await partition.delete('k')).to.equal(false);
    });

    it('holds keys with any characters', async () => {
      const partition = storage.partition('responses');
      const keys = ['with space', 'ünïcödé ✓', 'slashes/and?query=1&b', 'x'.repeat(200), 'GET https://example.com/a'];
      for (const key of keys) await partition.set(key, bytes(key));
      for (const key of keys) expect(text(await partition.get(key))).to.equal(key);
    });

    it('keeps its own copy of a value', async () => {
      const partition = storage.partition('responses');
      const value = bytes('original');
      await partition.set('k', value);
      value.fill(0);
      expect(text(await partition.get('k'))).to.equal('original');
    });

    it('refuses a value that is not bytes, with a TypeError', async () => {
      const partition = storage.partition('responses');
      let error: unknown;
      try {
        await partition.set('k', 'text' as unknown as Uint8Array);
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(TypeError);
    });
  });

  describe('getMany / bulkDelete', () => {
    it('getMany returns the present keys and leaves out the missing ones', async () => {
      const partition = storage.partition('responses');
      await partition.set('a', bytes('A'));
      await partition.set('c', bytes('C'));
      const found = await partition.getMany(['a', 'b', 'c', 'd']);
      expect([...found.keys()].sort()).to.deep.equal(['a', 'c']);
      expect(text(found.get('a'))).to.equal('A');
      expect(text(found.get('c'))).to.equal('C');
      expect((await partition.getMany([])).size).to.equal(0);
    });

    it('getMany reads more keys than one batch holds', async () => {
      const partition = storage.partition('responses');
      const keys = Array.from({ length: 250 }, (_, i) => `key-${i}`);
      await Promise.all(keys.map((key) => partition.set(key, bytes(key))));
      const found = await partition.getMany([...keys, 'missing']);
      expect(found.size).to.equal(250);
      for (const key of keys) expect(text(found.get(key))).to.equal(key);
    });

    it('bulkDelete ignores missing keys and counts what it deleted', async () => {
      const partition = storage.partition('responses');
      for (const key of ['a', 'b', 'c']) await partition.set(key, bytes(key));
      expect(await partition.bulkDelete(['a', 'missing', 'c'])).to.equal(2);
      expect(await partition.has('a')).to.equal(false);
      expect(await partition.has('b')).to.equal(true);
      expect(await partition.bulkDelete(new Set<string>())).to.equal(0);
    });

    it('bulkDelete takes any iterable, larger than one batch', async () => {
      const partition = storage.partition('responses');
      const keys = Array.from({ length: 120 }, (_, i) => `key-${i}`);
      await Promise.all(keys.map((key) => partition.set(key, bytes(key))));
      function* generate(): Generator<string> {
        yield* keys;
      }
      expect(await partition.bulkDelete(generate())).to.equal(120);
      expect(await partition.size()).to.equal(0);
    });
  });

  describe('partitions', () => {
    it('isolate the same key', async () => {
      const one = storage.partition('one');
      const two = storage.partition('two');
      await one.set('k', bytes('from one'));
      await two.set('k', bytes('from two'));
      expect(text(await one.get('k'))).to.equal('from one');
      expect(text(await two.get('k'))).to.equal('from two');
      await one.delete('k');
      expect(text(await two.get('k'))).to.equal('from two');
    });

    it('clear() empties only its own partition', async () => {
      const one = storage.partition('one');
      const two = storage.partition('two');
      for (let i = 0; i < 30; i++) {
        await one.set(`k${i}`, bytes('1'));
        await two.set(`k${i}`, bytes('2'));
      }
      await one.clear();
      expect(await one.size()).to.equal(0);
      expect(await collect(one.keys())).to.deep.equal([]);
      expect(await two.size()).to.equal(30);
      expect(text(await two.get('k7'))).to.equal('2');
    });

    it('a partition is the same data however many times it is opened', async () => {
      await storage.partition('p').set('k', bytes('v'));
      expect(text(await storage.partition('p').get('k'))).to.equal('v');
    });
  });

  describe('listing', () => {
    it('keys(), entries() and size() cover 2,500 entries, each once', async () => {
      const partition = storage.partition('responses');
      const other = storage.partition('other');
      await other.set('not-mine', bytes('x'));
      const expected = new Map<string, string>();
      for (let i = 0; i < 2500; i++) expected.set(`key-${String(i).padStart(4, '0')}`, `value ${i} ${'x'.repeat(i % 50)}`);
      // Written 100 at a time: this case is about listing (a network backend would drop a flood of 2,500).
      const all = [...expected];
      for (let i = 0; i < all.length; i += 100) await Promise.all(all.slice(i, i + 100).map(([key, value]) => partition.set(key, bytes(value))));

      const keys = await collect(partition.keys());
      expect(keys.length).to.equal(2500);
      expect(new Set(keys).size).to.equal(2500);
      expect(keys.every((key) => expected.has(key))).to.equal(true);

      const entries = await collect(partition.entries());
      expect(entries.length).to.equal(2500);
      for (const [key, value] of entries) expect(text(value)).to.equal(expected.get(key));

      expect(await partition.size()).to.equal(2500);
    });

    it('lists nothing for an empty partition', async () => {
      const partition = storage.partition('empty');
      expect(await collect(partition.keys())).to.deep.equal([]);
      expect(await collect(partition.entries())).to.deep.equal([]);
      expect(await partition.size()).to.equal(0);
    });

    it('lets the caller delete while iterating', async () => {
      const partition = storage.partition('responses');
      for (let i = 0; i < 50; i++) await partition.set(`k${i}`, bytes('v'));
      for await (const key of partition.keys()) await partition.delete(key);
      expect(await partition.size()).to.equal(0);
    });
  });

  describe('values', () => {
    for (const [label, size] of [
      ['empty', 0],
      ['1 byte', 1],
      ['64 KiB', 64 * 1024],
      ['5 MB', 5 * 1024 * 1024],
    ] as const) {
      it(`come back byte-identical: ${label}`, async function () {
        this.timeout(60_000);
        const partition = storage.partition('responses');
        const value = new Uint8Array(randomBytes(size));
        await partition.set('v', value);
        const read = await partition.get('v');
        expect(read).to.be.instanceOf(Uint8Array);
        expect(Buffer.from(read as Uint8Array).equals(Buffer.from(value))).to.equal(true);
        const many = await partition.getMany(['v']);
        expect(Buffer.from(many.get('v') as Uint8Array).equals(Buffer.from(value))).to.equal(true);
        const [entry] = await collect(partition.entries());
        expect(Buffer.from((entry as [string, Uint8Array])[1]).equals(Buffer.from(value))).to.equal(true);
      });
    }

    it('compressible large values come back byte-identical', async function () {
      this.timeout(60_000);
      const partition = storage.partition('responses');
      const value = bytes('{"id":1,"name":"same text again"}'.repeat(100_000));
      await partition.set('v', value);
      expect(Buffer.from((await partition.get('v')) as Uint8Array).equals(Buffer.from(value))).to.equal(true);
    });
  });

  describe('expiresAt', () => {
    it('keeps values that expire in the future', async () => {
      const partition = storage.partition('responses');
      await partition.set('later', bytes('v'), { expiresAt: Date.now() + 3600_000 });
      await partition.set('never', bytes('v'), {});
      expect(text(await partition.get('later'))).to.equal('v');
      expect(text(await partition.get('never'))).to.equal('v');
      expect(await partition.size()).to.equal(2);
    });

    it('hides values past expiresAt from every read', async () => {
      const partition = storage.partition('responses');
      await partition.set('gone', bytes('v'), { expiresAt: Date.now() - 10_000 });
      await partition.set('kept', bytes('v'), { expiresAt: Date.now() + 3600_000 });
      expect(await partition.get('gone')).to.equal(undefined);
      expect(await partition.has('gone')).to.equal(false);
      expect([...(await partition.getMany(['gone', 'kept'])).keys()]).to.deep.equal(['kept']);
      expect(await collect(partition.keys())).to.deep.equal(['kept']);
      expect(await partition.size()).to.equal(1);
    });

    it('setting again without expiresAt makes a value permanent', async () => {
      const partition = storage.partition('responses');
      await partition.set('k', bytes('old'), { expiresAt: Date.now() - 10_000 });
      await partition.set('k', bytes('new'));
      expect(text(await partition.get('k'))).to.equal('new');
    });
  });

  describe('concurrency', () => {
    it('500 concurrent set/get pairs see no cross-talk', async function () {
      this.timeout(60_000);
      const partition = storage.partition('responses');
      const results = await Promise.all(
        Array.from({ length: 500 }, async (_, i) => {
          const value = bytes(`value-${i}-${randomBytes(8).toString('hex')}`);
          await partition.set(`key-${i}`, value);
          const read = await partition.get(`key-${i}`);
          return text(read) === text(value);
        }),
      );
      expect(results.filter((ok) => !ok).length).to.equal(0);
      expect(await partition.size()).to.equal(500);
    });

    it('concurrent writers to one key leave one of the written values', async () => {
      const partition = storage.partition('responses');
      const written = Array.from({ length: 50 }, (_, i) => `writer-${i}`);
      await Promise.all(written.map((value) => partition.set('contended', bytes(value))));
      expect(written).to.include(text(await partition.get('contended')));
    });
  });
}
