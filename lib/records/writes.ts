/**
 * Writes of records, off the response path, and what they will have written:
 * the records of a write are known the moment it is queued, and lookups see
 * them at once (a caller who fetches twice in a row gets a hit) without
 * waiting for the storage — which may be slow, or failing. Writes of one key
 * land in order; `flush()` waits for all of them.
 *
 * Bounded, whatever the storage does:
 *
 * - a write has the write deadline from the moment it is queued: one that
 *   has not started by then is dropped, and one still under way then stops
 *   holding its keys (the writes after it go on, and `flush()` returns);
 * - a write of keys that later writes all cover is dropped before it starts
 *   (the later ones say what the keys hold): a key with several writes queued
 *   behind a hung one waits for one more, not for all;
 * - a write whose storage call lands after its deadline (the storage cannot
 *   be told to stop) can have overwritten what came after it — a newer write
 *   of its keys, a deletion, a purge: then the newest write of each of its
 *   keys is made again, or, when what came after was a deletion, the keys are
 *   deleted again. An entry purged or replaced is never brought back.
 */
import type { Clock } from '../clock.js';
import type { LateWatch } from '../storage/deadline.js';
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

/**
 * The work of a write. `late` is to be told of each storage call of it that
 * its deadline gives up on, and of its landing after that (FailOpenPartition's `trySet`).
 */
export type WriteOperation = (late: LateWatch) => Promise<unknown> | unknown;

interface Write {
  readonly seq: number;
  readonly records: ReadonlyArray<readonly [string, InFlight]>;
  readonly operation: WriteOperation;
  readonly name: string;
  readonly dropped: (() => void) | undefined;
}

export interface WriteQueueOptions {
  onError: (operation: string, error: unknown) => void;
  /** How long a write may take from the moment it is queued, ms. */
  deadlineMs: number;
  /** Deletes keys again (a late write landed after their deletion). */
  redelete: (keys: string[]) => Promise<unknown>;
  clock: Clock;
}

/** A write that gave up at its deadline: its storage calls may still land. */
class WriteDeadlineError extends Error {
  override readonly name = 'WriteDeadlineError';
}

export class WriteQueue {
  /** The chain of writes of each key, for ordering and for flush(). */
  readonly #chains = new Map<string, Promise<void>>();
  /** What each key will hold once the writes in flight land. */
  readonly #inFlight = new Map<string, InFlight>();
  /** The newest write of each key, while it is under way or a late one may still land over it. */
  readonly #newest = new Map<string, Write>();
  /** Writes past their deadline whose storage calls have not landed yet, by key. */
  readonly #late = new Map<string, Set<Write>>();
  /** The sequence number of the last deletion made outside the queue, by key, and of everything (a purge, a clear). */
  readonly #deletedAt = new Map<string, number>();
  #wipedAt = 0;
  #seq = 0;
  /** Writes whose late landing was dealt with (a write may be told of it by each of its storage calls, and by its own end). */
  readonly #repaired = new WeakSet<Write>();
  readonly #onError: (operation: string, error: unknown) => void;
  readonly #deadlineMs: number;
  readonly #redelete: (keys: string[]) => Promise<unknown>;
  readonly #clock: Clock;
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

  constructor(options: WriteQueueOptions) {
    this.#onError = options.onError;
    this.#deadlineMs = options.deadlineMs;
    this.#redelete = options.redelete;
    this.#clock = options.clock;
  }

  /** The record a write in flight is about to store under `key` (a Deletion for a deletion), if any. */
  inFlight(key: string): InFlight | undefined {
    return this.#inFlight.get(key);
  }

  /** The keys with writes (or deletions) still in flight. */
  pendingKeys(): string[] {
    return [...this.#chains.keys()];
  }

  /** Resolves when every write queued has landed or given up (each gives up at most the deadline after it was queued). */
  async flush(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }

  /** Deletions made outside the queue (management), of these keys or of everything: a late write must not undo them. */
  deletedOutside(keys: readonly string[] | 'all'): void {
    const seq = ++this.#seq;
    if (keys === 'all') this.#wipedAt = seq;
    else if (this.#late.size > 0) for (const key of keys) if (this.#late.has(key)) this.#deletedAt.set(key, seq);
  }

  /**
   * Runs `operation` after the writes already queued for these keys, and shows
   * `records` to lookups meanwhile. An operation done at once returns no
   * promise. `dropped` is called if it never runs (superseded, or queued past its deadline).
   */
  enqueue(records: ReadonlyArray<readonly [string, InFlight]>, operation: WriteOperation, name: string, dropped?: () => void): Promise<void> {
    const write: Write = { seq: ++this.#seq, records, operation, name, dropped };
    const queuedAt = this.#clock.monotonic();
    const previous: Array<Promise<void>> = [];
    for (const [key, record] of records) {
      this.#inFlight.set(key, record);
      this.#newest.set(key, write);
      const chain = this.#chains.get(key);
      if (chain !== undefined) previous.push(chain);
    }
    const done = new Promise<void>((resolve) => {
      const failed = (error: unknown): void => {
        this.#onError(name, error);
        resolve();
      };
      const start = (): void => {
        // Every key written again since: the later writes say what they hold.
        if (records.every(([key]) => (this.#newest.get(key)?.seq ?? 0) > write.seq)) {
          write.dropped?.();
          resolve();
          return;
        }
        const left = queuedAt + this.#deadlineMs - this.#clock.monotonic();
        if (left <= 0) {
          write.dropped?.();
          failed(new WriteDeadlineError(`${name} given up: queued behind writes of its keys past its deadline (${this.#deadlineMs} ms)`));
          return;
        }
        let result: unknown;
        const watch: LateWatch = { expired: () => this.#markLate(write), landed: () => this.#landedLate(write) };
        try {
          result = operation(watch);
        } catch (error) {
          failed(error);
          return;
        }
        if (!isThenable(result)) {
          resolve();
          return;
        }
        // Past its deadline, the write stops holding its keys; what it does later is watched (#landedLate).
        let late = false;
        const timer = this.#clock.setTimer(() => {
          late = true;
          this.#markLate(write);
          failed(new WriteDeadlineError(`${name} did not land within ${this.#deadlineMs} ms of being queued`));
        }, left);
        const settled = (error?: unknown): void => {
          timer.cancel();
          // Done after it stopped holding its keys: it may have written over what came after.
          if (late) this.#landedLate(write);
          else if (error === undefined) resolve();
          else failed(error);
        };
        result.then(
          () => settled(),
          (error: unknown) => settled(error ?? new Error(`${name} failed`)),
        );
      };
      const run = (): void => {
        if (previous.length > 0) Promise.all(previous).then(start, start);
        else start();
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
        if (this.#newest.get(key) === write && !this.#late.has(key)) this.#newest.delete(key);
      });
    }
    return done;
  }

  #markLate(write: Write): void {
    for (const [key] of write.records) {
      let writes = this.#late.get(key);
      if (writes === undefined) {
        writes = new Set();
        this.#late.set(key, writes);
      }
      writes.add(write);
    }
  }

  /**
   * A storage call of `write` landed after its deadline. Whatever came after
   * it on its keys is made again: the newest write of each key, or the
   * deletion made outside the queue.
   */
  #landedLate(write: Write): void {
    if (this.#repaired.has(write)) return;
    this.#repaired.add(write);
    const again = new Set<Write>();
    const redelete: string[] = [];
    for (const [key] of write.records) {
      const newest = this.#newest.get(key);
      if (newest !== undefined && newest.seq > write.seq) again.add(newest);
      else if ((this.#deletedAt.get(key) ?? 0) > write.seq || this.#wipedAt > write.seq) redelete.push(key);
      const writes = this.#late.get(key);
      writes?.delete(write);
      if (writes?.size === 0) {
        this.#late.delete(key);
        this.#deletedAt.delete(key);
        if (this.#newest.get(key) === write) this.#newest.delete(key);
      }
    }
    for (const newest of again) void this.enqueue(newest.records, newest.operation, `${newest.name} (again: a write before it landed late)`);
    if (redelete.length > 0) {
      void this.enqueue(
        redelete.map((key) => [key, { kind: 'deleted' }] as const),
        () => this.#redelete(redelete),
        'delete again (a write before it landed late)',
      );
    }
  }
}
