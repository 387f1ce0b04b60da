/**
 * Writes of records, off the response path, and what they will have written:
 * the records of a write are known the moment it is queued, and lookups see
 * them at once (a caller who fetches twice in a row gets a hit) without
 * waiting for the storage — which may be slow, or failing. Writes of one key
 * land in order; `flush()` waits for all of them. Each storage call has a
 * deadline (the partitions'), so every write lands or gives up.
 */
import { isThenable } from '../thenable.js';
import type { StoredRecord } from './model.js';

/** What a lookup finds for a key whose deletion is in flight: one object per deletion, so each ends only its own. */
export interface Deletion {
  readonly kind: 'deleted';
}

export type InFlight = StoredRecord | Deletion;

export function isDeletion(record: InFlight): record is Deletion {
  return record.kind === 'deleted';
}

export class WriteQueue {
  /** The chain of writes of each key, for ordering and for flush(). */
  readonly #chains = new Map<string, Promise<void>>();
  /** What each key will hold once the writes in flight land. */
  readonly #inFlight = new Map<string, InFlight>();
  readonly #onError: (operation: string, error: unknown) => void;
  /** Writes waiting to start: one timer starts them all (see enqueue). */
  #queued: Array<() => void> = [];
  readonly #runQueued = (): void => {
    const queued = this.#queued;
    this.#queued = [];
    for (const run of queued) run();
  };
  readonly #runQueuedNextTurn = (): void => {
    setImmediate(this.#runQueued);
  };

  constructor(onError: (operation: string, error: unknown) => void) {
    this.#onError = onError;
  }

  /** The record a write in flight is about to store under `key` (a Deletion for a deletion), if any. */
  inFlight(key: string): InFlight | undefined {
    return this.#inFlight.get(key);
  }

  /** The keys with writes (or deletions) still in flight. */
  pendingKeys(): string[] {
    return [...this.#chains.keys()];
  }

  /** Resolves when every write in flight has finished. */
  async flush(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }

  /**
   * Runs `operation` after the writes already queued for these keys, and shows
   * `records` to lookups meanwhile. An operation done at once returns no promise.
   */
  enqueue(records: ReadonlyArray<readonly [string, InFlight]>, operation: () => Promise<unknown> | unknown, name: string): Promise<void> {
    const previous: Array<Promise<void>> = [];
    for (const [key, record] of records) {
      this.#inFlight.set(key, record);
      const chain = this.#chains.get(key);
      if (chain !== undefined) previous.push(chain);
    }
    const done = new Promise<void>((resolve) => {
      const failed = (error: unknown): void => {
        this.#onError(name, error);
        resolve();
      };
      const run = (): void => {
        if (previous.length > 0) {
          Promise.all(previous)
            .then(operation)
            .then(() => resolve(), failed);
          return;
        }
        let result: unknown;
        try {
          result = operation();
        } catch (error) {
          failed(error);
          return;
        }
        if (isThenable(result)) result.then(() => resolve(), failed);
        else resolve();
      };
      // Off the response path: encoding and I/O start a turn of the event loop after the response
      // ended. undici writes the next request on a kept-alive connection in the check phase that
      // follows a response (a setImmediate it schedules after our handler ran): a write started in
      // that same phase would go first and hold that request back; one started in the next turn
      // runs while it is on its way.
      this.#queued.push(run);
      if (this.#queued.length === 1) setImmediate(this.#runQueuedNextTurn);
    });
    for (const [key, record] of records) {
      this.#chains.set(key, done);
      void done.then(() => {
        if (this.#chains.get(key) === done) this.#chains.delete(key);
        if (this.#inFlight.get(key) === record) this.#inFlight.delete(key);
      });
    }
    return done;
  }
}
