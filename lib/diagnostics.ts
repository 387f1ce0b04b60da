/**
 * What the cache decides and what goes wrong is published on
 * `node:diagnostics_channel` channels named `cachette:*`, and optionally sent
 * to a logger. Nothing is printed by default; publishing costs nothing when
 * no one subscribes.
 */
import type diagnostics from 'node:diagnostics_channel';
import { redactUrl } from './redact.js';
import type { StatsCounter } from './stats.js';
import { StorageRequestError } from './storage/contract.js';

const { channel } = process.getBuiltinModule('node:diagnostics_channel'); // not an import (a cold start: scripts/bundle.mjs)

export interface Logger {
  debug?(message: string, details?: Record<string, unknown>): void;
  info?(message: string, details?: Record<string, unknown>): void;
  warn?(message: string, details?: Record<string, unknown>): void;
  error?(message: string, details?: Record<string, unknown>): void;
}

export const channels: {
  /** Every lookup outcome and its reason: `{ method, url, key, outcome, reason }`. */
  readonly decision: diagnostics.Channel<unknown, unknown>;
  /** Every store decision: `{ method, url, key, stored, reason, bytes? }`. */
  readonly store: diagnostics.Channel<unknown, unknown>;
  /** A storage call failed and the cache went on without it: `{ operation, partition, error }`. */
  readonly storageError: diagnostics.Channel<unknown, unknown>;
  /** The storage circuit breaker changed state: `{ state, failures }`. */
  readonly breaker: diagnostics.Channel<unknown, unknown>;
} = {
  decision: channel('cachette:decision'),
  store: channel('cachette:store'),
  storageError: channel('cachette:storage-error'),
  breaker: channel('cachette:breaker'),
};

/**
 * What the cache did with a request: served it (`hit`), fetched it (`miss`),
 * asked the origin whether the stored response still holds (`revalidate`),
 * served the stored one after an origin failure (`stale`), sent it on for a
 * reason of the request's own (`forward`: a reload, a client's own
 * conditional or range, a lease), waited for another instance (`wait`),
 * left it alone (`bypass`), or deleted what an unsafe request changed
 * (`invalidate`).
 */
export type DecisionOutcome = 'hit' | 'miss' | 'revalidate' | 'stale' | 'forward' | 'wait' | 'bypass' | 'invalidate';

/** A lookup outcome of one cache (`cache.observe()`), as published on `cachette:decision`. */
export interface DecisionEvent {
  outcome: DecisionOutcome;
  reason: string;
  method: string;
  /** Undefined when the request had none the cache could read (`bypass`, `bad-url`). */
  url: string | undefined;
  key?: string;
}

/**
 * Routes events to the channels, to an optional logger, to the cache's
 * observers and counters. Every URL an event carries passes `redactUrl`
 * on its way out, whoever made the event.
 */
export class Reporter {
  readonly #logger: Logger | undefined;
  readonly stats: StatsCounter;
  readonly #observers = new Set<(event: DecisionEvent) => void>();
  readonly #redacted: ReadonlySet<string>;

  /** @param redacted names whose values never leave the cache (lower-case `ignoredParameters`). */
  constructor(logger: Logger | undefined, stats: StatsCounter, redacted: ReadonlySet<string> = new Set()) {
    this.#logger = logger;
    this.stats = stats;
    this.#redacted = redacted;
  }

  /** The URL as it may leave the cache. */
  shown(url: string): string {
    return redactUrl(url, this.#redacted);
  }

  get wantsDecisions(): boolean {
    return channels.decision.hasSubscribers || this.#logger?.debug !== undefined || this.#observers.size > 0;
  }

  /** Calls `observer` with each decision of this cache, until the returned function is called. */
  observe(observer: (event: DecisionEvent) => void): () => void {
    const own = (event: DecisionEvent): void => observer(event);
    this.#observers.add(own);
    return () => this.#observers.delete(own);
  }

  decision(event: DecisionEvent): void {
    const details = event.url === undefined ? event : { ...event, url: this.shown(event.url) };
    if (channels.decision.hasSubscribers) channels.decision.publish(details);
    for (const observer of this.#observers) {
      try {
        observer(details);
      } catch (error) {
        // An observer's bug must not fail a request.
        this.#logger?.warn?.(`cachette: an observer threw: ${(error as Error)?.message ?? String(error)}`);
      }
    }
    this.#logger?.debug?.(`cachette: ${details.outcome} (${details.reason}) ${details.method} ${String(details.url)}`, { ...details });
  }

  store(event: Record<string, unknown>): void {
    if (event['stored'] === true) this.stats.stored += 1;
    else this.stats.refused(String(event['reason']));
    if (!channels.store.hasSubscribers && this.#logger?.debug === undefined) return;
    const details = typeof event['url'] === 'string' ? { ...event, url: this.shown(event['url']) } : event;
    if (channels.store.hasSubscribers) channels.store.publish(details);
    this.#logger?.debug?.(
      `cachette: ${details['stored'] === true ? 'stored' : `not stored (${String(details['reason'])})`} ${String(details['method'])} ${String(details['url'])}`,
      details,
    );
  }

  storageError(details: { operation: string; partition: string; error: unknown }): void {
    this.stats.storageErrors += 1;
    if (channels.storageError.hasSubscribers) channels.storageError.publish(details);
    const message = details.error instanceof Error ? details.error.message : String(details.error);
    // A refused request is a bug to fix (ours or the configuration's), not weather: say it loudly.
    const log = details.error instanceof StorageRequestError ? this.#logger?.error : this.#logger?.warn;
    log?.call(this.#logger, `cachette: storage ${details.operation} on ${details.partition} failed: ${message}`, details);
  }

  breaker(details: { state: string; failures: number }): void {
    if (details.state === 'open') this.stats.breakerTrips += 1;
    if (channels.breaker.hasSubscribers) channels.breaker.publish(details);
    const log = details.state === 'open' ? this.#logger?.warn : this.#logger?.info;
    log?.call(this.#logger, `cachette: storage circuit ${details.state}`, details);
  }
}
