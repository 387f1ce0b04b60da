/**
 * Work done one at a time per key: each piece runs after the one queued
 * before it on the same key, and a key is forgotten once its queue is empty.
 * Read-modify-write updates of one stored record (a redirect's aliases,
 * UndiciCacheStore's variants of a URL) go through it, so two at once never
 * each overwrite the other's change.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `work` after what is queued on `key`; its result or error is the caller's alone, never the next one's. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const result = (this.#tails.get(key) ?? Promise.resolve()).then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Settles once what is queued on `key` now has run (at once when nothing is). */
  idle(key: string): Promise<void> {
    return this.#tails.get(key) ?? Promise.resolve();
  }

  /** Settles once no key has anything queued, including what is queued meanwhile. */
  async drained(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }

  get size(): number {
    return this.#tails.size;
  }
}
