/**
 * What one cache has done since it was made (or since `resetStats()`):
 * counters, always on, each a plain increment on the path that decides it.
 */
import type { DecisionOutcome } from './diagnostics.js';

/** A snapshot of a cache's counters (`cache.stats()`). */
export interface CacheStats {
  /** Lookups answered from storage without asking the origin (fresh, or stale where allowed). */
  hits: number;
  /** Lookups that found nothing usable (and forced reloads, ranges and conditionals sent on): the origin answered in full. */
  misses: number;
  /** Lookups that found a stored response needing validation, by the origin's answer. */
  revalidations: { total: number; notModified: number; replaced: number; failed: number };
  /** Stale responses served: within max-stale or stale-while-revalidate, or because the origin failed (stale-if-error). */
  staleServed: number;
  /** Requests answered by an identical one under way (no origin request of their own). */
  collapsed: number;
  /** Requests the cache took no part in, by reason (`method`, `authorization`, `request-no-store`, `bypass`...). */
  bypassed: Record<string, number>;
  /** Responses written to the storage. */
  stored: number;
  /** Responses not stored, by reason (`no-store`, `status`, `too-large`, `storage`...). */
  notStored: Record<string, number>;
  /** Storage calls that failed or passed their deadline (the requests went on without them). */
  storageErrors: number;
  /** Times the storage circuit breaker opened. */
  breakerTrips: number;
  /** Body bytes served from storage (hits, 304-refreshed entries, stale answers). */
  bytesServed: number;
  /** Fresh entries refreshed in the background before they expired (`refreshAhead`). */
  refreshedAhead: number;
  /** Requests a replay could not answer (not in the recording): each one failed with a RecordingMissError. */
  recordingMisses: number;
  /** hits / (hits + misses + revalidations); 0 before any lookup. */
  hitRatio: number;
}

/** The live counters behind `cache.stats()`. */
export class StatsCounter {
  hits = 0;
  misses = 0;
  revalidations = 0;
  notModified = 0;
  replaced = 0;
  failedRevalidations = 0;
  staleServed = 0;
  collapsed = 0;
  stored = 0;
  storageErrors = 0;
  breakerTrips = 0;
  bytesServed = 0;
  refreshedAhead = 0;
  recordingMisses = 0;
  readonly #bypassed = new Map<string, number>();
  readonly #notStored = new Map<string, number>();

  /** A lookup's outcome, as `decide` publishes it: what it counts as. */
  decided(outcome: DecisionOutcome, reason: string): void {
    if (outcome === 'hit') this.hits += 1;
    else if (outcome === 'miss') this.misses += 1;
    else if (outcome === 'revalidate') this.revalidations += 1;
    // Sent on whatever is stored (fetch's reload, a client's own conditional, a range): the origin answers in full.
    else if (outcome === 'forward' && (reason === 'reload' || reason === 'conditional' || reason === 'range')) this.misses += 1;
  }

  /** A stored response (or bytes of it) served to a caller; `stale` when past its freshness. */
  served(bytes: number, stale: boolean): void {
    this.bytesServed += bytes;
    if (stale) this.staleServed += 1;
  }

  bypass(reason: string): void {
    this.#bypassed.set(reason, (this.#bypassed.get(reason) ?? 0) + 1);
  }

  recordingMiss(): void {
    this.recordingMisses += 1;
  }

  refused(reason: string): void {
    this.#notStored.set(reason, (this.#notStored.get(reason) ?? 0) + 1);
  }

  snapshot(): CacheStats {
    const lookups = this.hits + this.misses + this.revalidations;
    return {
      hits: this.hits,
      misses: this.misses,
      revalidations: { total: this.revalidations, notModified: this.notModified, replaced: this.replaced, failed: this.failedRevalidations },
      staleServed: this.staleServed,
      collapsed: this.collapsed,
      bypassed: Object.fromEntries(this.#bypassed),
      stored: this.stored,
      notStored: Object.fromEntries(this.#notStored),
      storageErrors: this.storageErrors,
      breakerTrips: this.breakerTrips,
      bytesServed: this.bytesServed,
      refreshedAhead: this.refreshedAhead,
      recordingMisses: this.recordingMisses,
      hitRatio: lookups === 0 ? 0 : this.hits / lookups,
    };
  }

  reset(): void {
    this.hits = this.misses = this.revalidations = this.notModified = this.replaced = this.failedRevalidations = 0;
    this.staleServed = this.collapsed = this.stored = this.storageErrors = this.breakerTrips = this.bytesServed = 0;
    this.refreshedAhead = this.recordingMisses = 0;
    this.#bypassed.clear();
    this.#notStored.clear();
  }
}
