/**
 * Work a cache does for no caller — a stale-while-revalidate refresh on its
 * way to the origin, a lease released after its write, a damaged record
 * deleted — tracked so that `settled()` and `close()` can wait for it (an
 * AWS Lambda instance frozen mid-refresh would resume it minutes later, its
 * socket long dead).
 */
export class Background {
  readonly #running = new Set<Promise<void>>();

  /** Tracks `work` until it settles (its outcome is its own to report). */
  track(work: Promise<unknown>): void {
    const done = work.then(
      () => undefined,
      () => undefined,
    );
    this.#running.add(done);
    void done.then(() => this.#running.delete(done));
  }

  get idle(): boolean {
    return this.#running.size === 0;
  }

  /** How many pieces of work are under way. */
  get size(): number {
    return this.#running.size;
  }

  /** Resolves once nothing is running, including what the work running now starts before it ends. */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }
}
