/**
 * `cachette/testing`: `FakeClock`, to drive a cache's time in tests,
 * `openRecording`, to record an API's traffic into a file once and replay it
 * offline (docs/testing.md), and the storage conformance suite every cachette backend passes, for yours. Runner-agnostic: it returns the cases, each a function
 * that makes a fresh storage with your `create`, checks it with node:assert,
 * and closes it. Hand them to your runner:
 *
 *   for (const check of storageConformanceTests({ create: () => new MyStorage() })) {
 *     it(`${check.suite}: ${check.name}`, check.run);    // mocha, vitest, jest; node:test's test() alike
 *   }
 *
 * The parts of the contract a storage declares (`capabilities`: syncReads,
 * heldValues, leases, sweeps, deleteByAge) are checked when `capabilities`
 * here says the storage is meant to declare them, and a case checks that it
 * declares exactly those. Partitions are read as the cache reads them: what
 * a partition leaves out of the Map-like surface comes from BasePartition's
 * defaults, and a capability declared without its methods (or methods left
 * undeclared) fails the case. Expiries
 * in the cases are at least ten seconds from now, so a storage that keeps
 * them in whole seconds (as DynamoDB's TTL attribute does) passes as is.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  type CompletePartition,
  completePartition,
  declares,
  type HeldValue,
  type Partition,
  type PartitionCapabilities,
  type Storage,
} from './storage/contract.js';

export { FakeClock } from './fake-clock.js';
export { openRecording, type RecordingFile, type RecordingFileOptions } from './recording-file.js';

export interface ConformanceOptions {
  /** A fresh, empty storage, for each case. */
  create: () => Storage | Promise<Storage>;
  /** The capabilities your storage's partitions declare, to check (each: false by default). */
  capabilities?: PartitionCapabilities;
}

/** One case: its group, its name, how long it may take, and the check itself. */
export interface ConformanceCase {
  suite: string;
  name: string;
  /** A budget for runners that take one (large values, 2,500 entries). */
  timeoutMs: number;
  run: () => Promise<void>;
}

const FAST = 20_000;
const SLOW = 60_000;

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** A partition as the cache sees it: checked against what it declares, the defaults filled in. */
const partitionOf = (storage: Storage, name: string): CompletePartition => completePartition(storage.partition(name), name);

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : new TextDecoder().decode(value));

export function storageConformanceTests(options: ConformanceOptions): ConformanceCase[] {
  if (options === null || typeof options !== 'object' || typeof options.create !== 'function') {
    throw new TypeError('storageConformanceTests() takes { create: () => a fresh Storage }');
  }
  const { create } = options;
  const expected = options.capabilities ?? {};
  if (expected === null || typeof expected !== 'object') throw new TypeError('storageConformanceTests() capabilities must be an object like { sweeps: true }');
  if ('getSync' in expected) throw new TypeError('storageConformanceTests() capabilities.getSync became capabilities.syncReads in 1.0');
  const cases: ConformanceCase[] = [];
  let suite = '';
  const add = (name: string, timeoutMs: number, check: (storage: Storage) => Promise<void>): void => {
    const group = suite;
    cases.push({
      suite: group,
      name,
      timeoutMs,
      run: async () => {
        const storage = await create();
        try {
          await check(storage);
        } finally {
          await storage.close();
        }
      },
    });
  };

  suite = 'capabilities';
  add('declares exactly the capabilities it is expected to, each with its methods', FAST, async (storage) => {
    const names = ['syncReads', 'heldValues', 'leases', 'sweeps', 'deleteByAge'] as const;
    const partition: Partition = partitionOf(storage, 'responses');
    const declared = names.filter((name) => declares(partition, name));
    assert.deepEqual(
      declared,
      names.filter((name) => expected[name] === true),
      'the capabilities declared are the ones expected',
    );
  });

  suite = 'get / set / delete / has';
  add('misses a key never set', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    assert.equal(await partition.get('absent'), undefined);
    assert.equal(await partition.has('absent'), false);
  });

  add('returns what was set, and the latest value after an overwrite', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    await partition.set('k', bytes('one'));
    assert.equal(text(await partition.get('k')), 'one');
    await partition.set('k', bytes('two'));
    assert.equal(text(await partition.get('k')), 'two');
    assert.equal(await partition.has('k'), true);
  });

  add('delete says whether the key existed', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    await partition.set('k', bytes('v'));
    assert.equal(await partition.delete('k'), true);
    assert.equal(await partition.get('k'), undefined);
    assert.equal(await partition.delete('k'), false);
  });

  add('holds keys with any characters', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    const keys = ['with space', 'ünïcödé ✓', 'slashes/and?query=1&b', 'x'.repeat(200), 'GET https://example.com/a'];
    for (const key of keys) await partition.set(key, bytes(key));
    for (const key of keys) assert.equal(text(await partition.get(key)), key);
  });

  add('keeps its own copy of a value', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    const value = bytes('original');
    await partition.set('k', value);
    value.fill(0);
    assert.equal(text(await partition.get('k')), 'original');
  });

  add('refuses a value that is not bytes, with a TypeError', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    let error: unknown;
    try {
      await partition.set('k', 'text' as never);
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof TypeError);
  });

  suite = 'getMany / bulkDelete';
  add('getMany returns the present keys and leaves out the missing ones', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    await partition.set('a', bytes('A'));
    await partition.set('c', bytes('C'));
    const found = await partition.getMany(['a', 'b', 'c', 'd']);
    assert.deepEqual([...found.keys()].sort(), ['a', 'c']);
    assert.equal(text(found.get('a')), 'A');
    assert.equal(text(found.get('c')), 'C');
    assert.equal((await partition.getMany([])).size, 0);
  });

  add('getMany reads more keys than one batch holds', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    const keys = Array.from({ length: 250 }, (_, i) => `key-${i}`);
    await Promise.all(keys.map((key) => partition.set(key, bytes(key))));
    const found = await partition.getMany([...keys, 'missing']);
    assert.equal(found.size, 250);
    for (const key of keys) assert.equal(text(found.get(key)), key);
  });

  add('bulkDelete ignores missing keys and counts what it deleted', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    for (const key of ['a', 'b', 'c']) await partition.set(key, bytes(key));
    assert.equal(await partition.bulkDelete(['a', 'missing', 'c']), 2);
    assert.equal(await partition.has('a'), false);
    assert.equal(await partition.has('b'), true);
    assert.equal(await partition.bulkDelete(new Set<string>()), 0);
  });

  add('bulkDelete takes any iterable, larger than one batch', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    const keys = Array.from({ length: 120 }, (_, i) => `key-${i}`);
    await Promise.all(keys.map((key) => partition.set(key, bytes(key))));
    function* generate(): Generator<string> {
      yield* keys;
    }
    assert.equal(await partition.bulkDelete(generate()), 120);
    assert.equal(await partition.size(), 0);
  });

  suite = 'partitions';
  add('isolate the same key', FAST, async (storage) => {
    const one = partitionOf(storage, 'one');
    const two = partitionOf(storage, 'two');
    await one.set('k', bytes('from one'));
    await two.set('k', bytes('from two'));
    assert.equal(text(await one.get('k')), 'from one');
    assert.equal(text(await two.get('k')), 'from two');
    await one.delete('k');
    assert.equal(text(await two.get('k')), 'from two');
  });

  add('clear() empties only its own partition', FAST, async (storage) => {
    const one = partitionOf(storage, 'one');
    const two = partitionOf(storage, 'two');
    for (let i = 0; i < 30; i++) {
      await one.set(`k${i}`, bytes('1'));
      await two.set(`k${i}`, bytes('2'));
    }
    await one.clear();
    assert.equal(await one.size(), 0);
    assert.deepEqual(await collect(one.keys()), []);
    assert.equal(await two.size(), 30);
    assert.equal(text(await two.get('k7')), '2');
  });

  add('a partition is the same data however many times it is opened', FAST, async (storage) => {
    await partitionOf(storage, 'p').set('k', bytes('v'));
    assert.equal(text(await partitionOf(storage, 'p').get('k')), 'v');
  });

  suite = 'listing';
  add('keys(), entries() and size() cover 2,500 entries, each once', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    const other = partitionOf(storage, 'other');
    await other.set('not-mine', bytes('x'));
    const expected = new Map<string, string>();
    for (let i = 0; i < 2500; i++) expected.set(`key-${String(i).padStart(4, '0')}`, `value ${i} ${'x'.repeat(i % 50)}`);
    // Written 100 at a time: this case is about listing (a network backend would drop a flood of 2,500).
    const all = [...expected];
    for (let i = 0; i < all.length; i += 100) await Promise.all(all.slice(i, i + 100).map(([key, value]) => partition.set(key, bytes(value))));

    const keys = await collect(partition.keys());
    assert.equal(keys.length, 2500);
    assert.equal(new Set(keys).size, 2500);
    assert.equal(
      keys.every((key) => expected.has(key)),
      true,
    );

    const entries = await collect(partition.entries());
    assert.equal(entries.length, 2500);
    for (const [key, value] of entries) assert.equal(text(value), expected.get(key));

    assert.equal(await partition.size(), 2500);
  });

  add('lists nothing for an empty partition', FAST, async (storage) => {
    const partition = partitionOf(storage, 'empty');
    assert.deepEqual(await collect(partition.keys()), []);
    assert.deepEqual(await collect(partition.entries()), []);
    assert.equal(await partition.size(), 0);
  });

  add('lets the caller delete while iterating', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    for (let i = 0; i < 50; i++) await partition.set(`k${i}`, bytes('v'));
    for await (const key of partition.keys()) await partition.delete(key);
    assert.equal(await partition.size(), 0);
  });

  suite = 'values';
  for (const [label, size] of [
    ['empty', 0],
    ['1 byte', 1],
    ['64 KiB', 64 * 1024],
    ['5 MB', 5 * 1024 * 1024],
  ] as const) {
    add(`come back byte-identical: ${label}`, SLOW, async (storage) => {
      const partition = partitionOf(storage, 'responses');
      const value = new Uint8Array(randomBytes(size));
      await partition.set('v', value);
      const read = await partition.get('v');
      assert.ok(read instanceof Uint8Array);
      assert.equal(Buffer.from(read as Uint8Array).equals(Buffer.from(value)), true);
      const many = await partition.getMany(['v']);
      assert.equal(Buffer.from(many.get('v') as Uint8Array).equals(Buffer.from(value)), true);
      const [entry] = await collect(partition.entries());
      assert.equal(Buffer.from((entry as [string, Uint8Array])[1]).equals(Buffer.from(value)), true);
    });
  }

  add('compressible large values come back byte-identical', SLOW, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    const value = bytes('{"id":1,"name":"same text again"}'.repeat(100_000));
    await partition.set('v', value);
    assert.equal(Buffer.from((await partition.get('v')) as Uint8Array).equals(Buffer.from(value)), true);
  });

  suite = 'expiresAt';
  add('keeps values that expire in the future', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    await partition.set('later', bytes('v'), { expiresAt: Date.now() + 3600_000 });
    await partition.set('never', bytes('v'), {});
    assert.equal(text(await partition.get('later')), 'v');
    assert.equal(text(await partition.get('never')), 'v');
    assert.equal(await partition.size(), 2);
  });

  add('hides values past expiresAt from every read', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    await partition.set('gone', bytes('v'), { expiresAt: Date.now() - 10_000 });
    await partition.set('kept', bytes('v'), { expiresAt: Date.now() + 3600_000 });
    assert.equal(await partition.get('gone'), undefined);
    assert.equal(await partition.has('gone'), false);
    assert.deepEqual([...(await partition.getMany(['gone', 'kept'])).keys()], ['kept']);
    assert.deepEqual(await collect(partition.keys()), ['kept']);
    assert.equal(await partition.size(), 1);
  });

  add('setting again without expiresAt makes a value permanent', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    await partition.set('k', bytes('old'), { expiresAt: Date.now() - 10_000 });
    await partition.set('k', bytes('new'));
    assert.equal(text(await partition.get('k')), 'new');
  });

  suite = 'concurrency';
  add('500 concurrent set/get pairs see no cross-talk', SLOW, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    const results = await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        const value = bytes(`value-${i}-${randomBytes(8).toString('hex')}`);
        await partition.set(`key-${i}`, value);
        const read = await partition.get(`key-${i}`);
        return text(read) === text(value);
      }),
    );
    assert.equal(results.filter((ok) => !ok).length, 0);
    assert.equal(await partition.size(), 500);
  });

  add('concurrent writers to one key leave one of the written values', FAST, async (storage) => {
    const partition = partitionOf(storage, 'responses');
    const written = Array.from({ length: 50 }, (_, i) => `writer-${i}`);
    await Promise.all(written.map((value) => partition.set('contended', bytes(value))));
    assert.ok(written.includes(text(await partition.get('contended')) ?? ''));
  });

  optionalParts(options, add, (name) => {
    suite = name;
  });
  return cases;
}

/** The optional parts, each checked when the storage offers it (or when asked to). */
function optionalParts(
  options: ConformanceOptions,
  add: (name: string, timeoutMs: number, check: (storage: Storage) => Promise<void>) => void,
  group: (name: string) => void,
): void {
  const wanted = options.capabilities ?? {};
  /** The responses partition, which must declare `capability`. */
  const offering = <C extends keyof PartitionCapabilities>(capability: C, storage: Storage) => {
    const partition = partitionOf(storage, 'responses');
    assert.ok(declares(partition, capability), `capabilities.${capability} is expected, but the storage does not declare it`);
    return partition;
  };

  if (wanted.sweeps === true) {
    group('optional: sweeps');
    add('deleteExpired removes what expired and counts it', FAST, async (storage) => {
      const partition = offering('sweeps', storage);
      // Swept as of a minute from now: 'gone' has not expired yet by the clock, so a storage that also
      // expires entries by itself (DynamoDB's TTL, at any moment after) cannot take it first.
      const now = Date.now();
      await partition.set('gone', bytes('v'), { expiresAt: now + 30_000 });
      await partition.set('kept', bytes('v'), { expiresAt: now + 3600_000 });
      await partition.set('never', bytes('v'));
      assert.equal(await partition.deleteExpired(now + 60_000), 1);
      assert.deepEqual((await collect(partition.keys())).sort(), ['kept', 'never']);
    });
  }

  if (wanted.deleteByAge === true) {
    group('optional: deleteByAge');
    add('deleteCreatedBefore removes what was set at or before the cutoff and counts it', FAST, async (storage) => {
      const partition = offering('deleteByAge', storage);
      await partition.set('old', bytes('v'));
      // Stored times may be kept in whole milliseconds or coarser: the cutoff is taken well after.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const cutoff = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 20));
      await partition.set('new', bytes('v'));
      assert.equal(await partition.deleteCreatedBefore(cutoff), 1);
      assert.deepEqual(await collect(partition.keys()), ['new']);
    });
  }

  if (wanted.syncReads === true) {
    group('optional: getSync');
    add('getSync answers at once: the value, undefined, or null for "ask get()"', FAST, async (storage) => {
      const partition = offering('syncReads', storage);
      await partition.set('k', bytes('v'));
      const found = partition.getSync('k');
      assert.ok(found === null || text(found) === 'v', 'getSync returns the value set, or null');
      const missing = partition.getSync('absent');
      assert.ok(missing === null || missing === undefined, 'getSync of a key never set is undefined (or null)');
    });
  }

  if (wanted.heldValues === true) {
    group('optional: held values');
    add('a held value is kept as given; its bytes are made once, when another reader asks, and take its place', FAST, async (storage) => {
      const partition = offering('heldValues', storage);
      let made = 0;
      const value: HeldValue = {
        byteLength: 1,
        encode: () => {
          made += 1;
          return bytes('v');
        },
      };
      partition.hold('k', value, { expiresAt: Date.now() + 3600_000 });
      partition.hold('gone', value, { expiresAt: Date.now() - 10_000 });
      assert.equal(partition.getHeld('k'), value, 'hold is done when it returns, and getHeld gives the value back as it was held');
      assert.equal(partition.getHeld('gone'), undefined, 'an expired held value is gone');
      assert.deepEqual(await collect(partition.keys()), ['k'], 'listing keys makes no bytes');
      assert.equal(made, 0, 'no bytes made before a reader asks');
      assert.equal(text((await partition.get('k')) as Uint8Array), 'v');
      assert.deepEqual(
        (await collect(partition.entries())).map(([key, value]) => [key, text(value)]),
        [['k', 'v']],
      );
      const now = partition.getHeld('k');
      assert.ok(now instanceof Uint8Array && text(now) === 'v', 'the bytes took its place');
      assert.equal(made, 1, 'the bytes are made once');
    });
  }

  if (wanted.leases === true) {
    group('optional: leases');
    add('one holder at a time; released only by its token', FAST, async (storage) => {
      const partition = offering('leases', storage);
      const first = await partition.acquireLease('k', 30_000);
      assert.ok('token' in first, 'the first attempt gets the lease');
      const second = await partition.acquireLease('k', 30_000);
      assert.ok('heldUntil' in second && second.heldUntil > Date.now(), 'a second attempt says until when it is held');
      await partition.releaseLease('k', 'not-the-token');
      assert.ok('heldUntil' in (await partition.acquireLease('k', 30_000)), 'a wrong token releases nothing');
      await partition.releaseLease('k', first.token);
      assert.ok('token' in (await partition.acquireLease('k', 30_000)), 'released by its token, the lease can be taken again');
    });
  }
}
