/**
 * The management view of a partition (`cache.delete`, `inspect`, `entries`,
 * `export`, `import`, a purge by tag): errors reach the caller, as they
 * should for an operator, but a storage that hangs does not hold the call
 * forever. Each call on keys, and each page of a listing, has a deadline (the
 * write timeout); past it the call throws a StorageDeadlineError naming the
 * operation. The sweeps of a whole partition (`clear`, `size`,
 * `deleteExpired`, `deleteCreatedBefore`) are passed on without one: on a
 * large table they take as long as they must (10,000 DynamoDB entries take
 * seconds), and each backend bounds its own requests within them.
 */

import type { Partition, SetOptions, SweepablePartition, SyncReadablePartition } from './contract.js';
import { canDeleteByAge, isSweepable, readsSync } from './contract.js';
import type { Deadlines } from './deadline.js';

export function withDeadlines(partition: Partition, deadlines: Deadlines, timeoutMs: number): Partition {
  const run = <T>(operation: string, call: () => Promise<T>): Promise<T> => deadlines.run(call, timeoutMs, operation);
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
  const view: Partition = {
    get: (key) => run('get', () => partition.get(key)),
    getMany: (keys) => run('getMany', () => partition.getMany(keys)),
    set: (key: string, value: Uint8Array, opts?: SetOptions) => run('set', () => partition.set(key, value, opts)),
    delete: (key) => run('delete', () => partition.delete(key)),
    has: (key) => run('has', () => partition.has(key)),
    bulkDelete: (keys) => run('bulkDelete', () => partition.bulkDelete(keys)),
    keys: () => listing('keys', () => partition.keys()),
    entries: () => listing('entries', () => partition.entries()),
    clear: () => partition.clear(),
    size: () => partition.size(),
  };
  // The optional parts the storage offers, and only those (the cache looks for them by name).
  if (readsSync(partition)) (view as SyncReadablePartition).getSync = (key) => partition.getSync(key);
  if (isSweepable(partition)) (view as SweepablePartition).deleteExpired = (now) => partition.deleteExpired(now);
  if (canDeleteByAge(partition)) (view as SweepablePartition).deleteCreatedBefore = (cutoff) => partition.deleteCreatedBefore(cutoff);
  return view;
}
