/**
 * The management view of a partition (`cache.delete`, `inspect`, `entries`,
 * `export`, `import`, a purge by tag): errors reach the caller, as they
 * should for an operator, but a storage that hangs does not hold the call
 * forever. Each call on keys, and each page of a listing, has a deadline (the
 * write timeout); past it the call throws a StorageDeadlineError naming the
 * operation. `getMany` and `bulkDelete` go to the storage a page of keys at a
 * time, each page with its own deadline: deleting 100,000 keys is many calls
 * that each can finish in time, not one that cannot. The sweeps of a whole
 * partition (`clear`, `size`, `deleteExpired`, `deleteCreatedBefore`) are
 * passed on without one: on a large table they take as long as they must
 * (10,000 DynamoDB entries take seconds), and each backend bounds its own
 * requests within them.
 */

import type { CompletePartition, PartitionCapabilities, SetOptions } from './contract.js';
import { declares } from './contract.js';
import type { Deadlines } from './deadline.js';

/** Keys per storage call of `getMany` and `bulkDelete`. */
const KEYS_PER_CALL = 100;

function* pages(keys: Iterable<string>): Iterable<string[]> {
  let page: string[] = [];
  for (const key of keys) {
    page.push(key);
    if (page.length === KEYS_PER_CALL) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

export function withDeadlines(partition: CompletePartition, deadlines: Deadlines, timeoutMs: number): CompletePartition {
  const run = <T>(operation: string, call: () => Promise<T>): Promise<T> => deadlines.run(call, timeoutMs, operation);
  const getMany = async (keys: string[]): Promise<Map<string, Uint8Array>> => {
    if (keys.length <= KEYS_PER_CALL) return run('getMany', () => partition.getMany(keys));
    const found = new Map<string, Uint8Array>();
    for (const page of pages(keys)) for (const [key, value] of await run('getMany', () => partition.getMany(page))) found.set(key, value);
    return found;
  };
  const bulkDelete = async (keys: Iterable<string>): Promise<number> => {
    let deleted = 0;
    for (const page of pages(keys)) deleted += await run('bulkDelete', () => partition.bulkDelete(page));
    return deleted;
  };
  const listing = <T>(operation: string, list: () => AsyncIterable<T>): AsyncIterable<T> => ({
    [Symbol.asyncIterator]() {
      const iterator = list()[Symbol.asyncIterator]();
      return {
        next: () => run(operation, () => iterator.next()),
        // Stopping early (a break) lets the storage release what the listing holds.
        return: async (value?: unknown) => (await iterator.return?.(value)) ?? { done: true, value: undefined },
      };
    },
  });
  // The capabilities the storage declares that management uses, and only those.
  const capabilities: PartitionCapabilities = {
    syncReads: declares(partition, 'syncReads'),
    heldValues: declares(partition, 'heldValues'),
    sweeps: declares(partition, 'sweeps'),
    deleteByAge: declares(partition, 'deleteByAge'),
  };
  const view: CompletePartition = {
    capabilities,
    get: (key) => run('get', () => partition.get(key)),
    getMany,
    set: (key: string, value: Uint8Array, opts?: SetOptions) => run('set', () => partition.set(key, value, opts)),
    delete: (key) => run('delete', () => partition.delete(key)),
    has: (key) => run('has', () => partition.has(key)),
    bulkDelete,
    keys: () => listing('keys', () => partition.keys()),
    entries: () => listing('entries', () => partition.entries()),
    clear: () => partition.clear(),
    size: () => partition.size(),
  };
  if (declares(partition, 'syncReads')) view.getSync = (key) => partition.getSync(key);
  if (declares(partition, 'sweeps')) view.deleteExpired = (now) => partition.deleteExpired(now);
  if (declares(partition, 'deleteByAge')) view.deleteCreatedBefore = (cutoff) => partition.deleteCreatedBefore(cutoff);
  // In this process, at once: no deadline to put on them.
  if (declares(partition, 'heldValues')) {
    view.hold = (key, value, opts) => partition.hold(key, value, opts);
    view.getHeld = (key) => partition.getHeld(key);
  }
  return view;
}
