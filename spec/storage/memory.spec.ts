import { expect } from 'chai';
import { declares, type Offering } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { storageConformance } from './conformance.js';

describe('MemoryStorage', () => {
  describe('conformance', () => {
    storageConformance({ create: () => new MemoryStorage(), capabilities: { sweeps: true, syncReads: true, heldValues: true, deleteByAge: true } });
  });

  describe('LRU bounds', () => {
    const value = (size: number): Uint8Array => new Uint8Array(size).fill(7);

    it('evicts the least recently used entry past maxEntries', async () => {
      const storage = new MemoryStorage({ maxEntries: 3 });
      const partition = storage.partition('p');
      await partition.set('a', value(1));
      await partition.set('b', value(1));
      await partition.set('c', value(1));
      await partition.get('a'); // a is now the most recently used
      await partition.set('d', value(1));
      expect(await partition.has('b')).to.equal(false);
      expect(await partition.has('a')).to.equal(true);
      expect(await partition.has('c')).to.equal(true);
      expect(await partition.has('d')).to.equal(true);
    });

    it('stays within maxBytes, counting the bytes it holds', async () => {
      const storage = new MemoryStorage({ maxBytes: 100_000 });
      const partition = storage.partition('p');
      for (let i = 0; i < 100; i++) await partition.set(`k${i}`, value(10_000));
      expect(storage.usage.bytes).to.be.at.most(100_000);
      expect(storage.usage.entries).to.be.within(8, 9);
      // The newest survive.
      expect(await partition.has('k99')).to.equal(true);
      expect(await partition.has('k0')).to.equal(false);
    });

    it('shares one bound between partitions', async () => {
      const storage = new MemoryStorage({ maxEntries: 2 });
      await storage.partition('one').set('a', value(1));
      await storage.partition('two').set('b', value(1));
      await storage.partition('two').set('c', value(1));
      expect(await storage.partition('one').has('a')).to.equal(false);
      expect(await storage.partition('two').size()).to.equal(2);
    });

    it('does not keep a value larger than the whole store, and keeps the rest', async () => {
      const storage = new MemoryStorage({ maxBytes: 1000 });
      const partition = storage.partition('p');
      await partition.set('small', value(10));
      await partition.set('huge', value(5000));
      expect(await partition.has('huge')).to.equal(false);
      expect(await partition.has('small')).to.equal(true);
    });

    it('overwriting a key replaces its bytes in the count', async () => {
      const storage = new MemoryStorage();
      const partition = storage.partition('p');
      await partition.set('k', value(5000));
      const before = storage.usage.bytes;
      await partition.set('k', value(1000));
      expect(storage.usage.bytes).to.equal(before - 4000);
      expect(storage.usage.entries).to.equal(1);
      await partition.delete('k');
      expect(storage.usage).to.deep.equal({ entries: 0, bytes: 0 });
    });

    it('deleteExpired removes only what has expired', async () => {
      const storage = new MemoryStorage();
      const partition = storage.partition('p') as Offering<'sweeps'>;
      await partition.set('old', value(1), { expiresAt: Date.now() - 1 });
      await partition.set('new', value(1), { expiresAt: Date.now() + 60_000 });
      await partition.set('forever', value(1));
      expect(await partition.deleteExpired(Date.now())).to.equal(1);
      expect(storage.usage.entries).to.equal(2);
    });

    it('rejects bad limits with a TypeError naming the option', () => {
      expect(() => new MemoryStorage({ maxBytes: -1 })).to.throw(TypeError, /maxBytes/);
      expect(() => new MemoryStorage({ maxEntries: 1.5 })).to.throw(TypeError, /maxEntries/);
      expect(() => new MemoryStorage({ maxBytes: '10MB' as unknown as number })).to.throw(TypeError, /maxBytes must be a positive integer, got "10MB"/);
    });
  });
});

describe('MemoryStorage synchronous reads', () => {
  it('getSync answers at once, like get, expiry included', async () => {
    const storage = new MemoryStorage();
    const partition = storage.partition('p') as Offering<'syncReads'>;
    await partition.set('k', new Uint8Array([1, 2]));
    await partition.set('old', new Uint8Array([3]), { expiresAt: Date.now() - 1 });
    expect([...(partition.getSync('k') ?? [])]).to.deep.equal([1, 2]);
    expect(partition.getSync('old')).to.equal(undefined);
    expect(partition.getSync('missing')).to.equal(undefined);
  });
});

describe('MemoryStorage and handed-over bytes', () => {
  it('keeps bytes handed over (transfer) as they are, and copies the others', async () => {
    const partition = new MemoryStorage().partition('p');
    const owned = Buffer.allocUnsafeSlow(4).fill(1);
    await partition.set('owned', owned, { transfer: true });
    expect(await partition.get('owned')).to.equal(owned);
    const view = Buffer.alloc(16).subarray(4, 8);
    await partition.set('view', view, { transfer: true });
    expect(await partition.get('view'), 'a view into a larger buffer is copied anyway').to.not.equal(view);
    const lent = new Uint8Array([2, 2]);
    await partition.set('lent', lent);
    expect(await partition.get('lent')).to.not.equal(lent);
  });
});

describe('MemoryStorage and held values', () => {
  /** A held value that counts how often its bytes were made. */
  function heldValue(bytes: Uint8Array, byteLength = bytes.byteLength) {
    const value = {
      byteLength,
      encoded: 0,
      encode(): Uint8Array {
        value.encoded += 1;
        return bytes;
      },
    };
    return value;
  }

  it('keeps a held value as it was given, without making its bytes', async () => {
    const storage = new MemoryStorage();
    const partition = storage.partition('p');
    expect(declares(partition, 'heldValues')).to.equal(true);
    const value = heldValue(Buffer.from('abc'), 1000);
    (partition as Offering<'heldValues'>).hold('k', value);
    expect((partition as Offering<'heldValues'>).getHeld('k')).to.equal(value);
    expect(value.encoded).to.equal(0);
    expect(storage.usage.bytes, 'its byteLength is what counts toward maxBytes').to.be.greaterThanOrEqual(1000);
  });

  it('gives every other reader its bytes, made once, which then take its place', async () => {
    const storage = new MemoryStorage();
    const partition = storage.partition('p') as Offering<'heldValues'>;
    const bytes = Buffer.from('encoded');
    const value = heldValue(bytes, 100_000);
    partition.hold('k', value);
    expect(await partition.get('k')).to.equal(bytes);
    expect(partition.getSync('k')).to.equal(bytes);
    expect((await partition.getMany(['k'])).get('k')).to.equal(bytes);
    const listed = [];
    for await (const entry of partition.entries()) listed.push(entry);
    expect(listed).to.deep.equal([['k', bytes]]);
    expect(value.encoded).to.equal(1);
    expect(partition.getHeld('k')).to.equal(bytes);
    expect(storage.usage.bytes, 'counted at the size of its bytes from then on').to.be.lessThan(1000);
  });

  it('expires and evicts held values like bytes', async () => {
    const storage = new MemoryStorage({ maxBytes: 10_000 });
    const partition = storage.partition('p') as Offering<'heldValues'>;
    partition.hold('gone', heldValue(Buffer.from('x')), { expiresAt: Date.now() - 1 });
    expect(partition.getHeld('gone')).to.equal(undefined);
    partition.hold('old', heldValue(Buffer.from('x'), 6000));
    partition.hold('new', heldValue(Buffer.from('x'), 6000));
    expect(partition.getHeld('old'), 'evicted past maxBytes').to.equal(undefined);
    expect(partition.getHeld('new')).to.not.equal(undefined);
  });

  it('drops a held value that cannot give its bytes, and refuses one that is not a held value', async () => {
    const partition = new MemoryStorage().partition('p') as Offering<'heldValues'>;
    partition.hold('throws', {
      byteLength: 1,
      encode: () => {
        throw new Error('broken');
      },
    });
    expect(() => partition.getSync('throws')).to.throw('broken');
    expect(partition.getHeld('throws')).to.equal(undefined);
    partition.hold('not-bytes', { byteLength: 1, encode: () => 'text' as never });
    expect(() => partition.getSync('not-bytes')).to.throw(TypeError, /must return bytes/);
    expect(await partition.has('not-bytes')).to.equal(false);
    expect(() => partition.hold('k', { byteLength: 1 } as never)).to.throw(TypeError, /encode\(\) and a byteLength/);
  });
});
