/**
 * What the cache decides and what goes wrong is published on
 * `node:diagnostics_channel` channels named `cachette:*`, and optionally sent
 * to a logger. Nothing is printed by default; publishing costs nothing when
 * no one subscribes.
 */
import diagnostics from 'node:diagnostics_channel';
import { StorageRequestError } from './storage/contract.js';

export interface Logger {
  debug?(message: string, details?: Record<string, unknown>): void;
  info?(message: string, details?: Record<string, unknown>): void;
  warn?(message: string, details?: Record<string, unknown>): void;
  error?(message: string, details?: Record<string, unknown>): void;
}

export const channels = {
  /** Every lookup outcome and its reason: `{ method, url, key, outcome, reason }`. */
  decision: diagnostics.channel('cachette:decision'),
  /** Every store decision: `{ method, url, key, stored, reason, bytes? }`. */
  store: diagnostics.channel('cachette:store'),
  /** A storage call failed and the cache went on without it: `{ operation, partition, error }`. */
  storageError: diagnostics.channel('cachette:storage-error'),
  /** The storage circuit breaker changed state: `{ state, failures }`. */
  breaker: diagnostics.channel('cachette:breaker'),
} as const;

/** Routes events to the channels and to an optional logger. */
export class Reporter {
  readonly #logger: Logger | undefined;

  constructor(logger: Logger | undefined) {
    this.#logger = logger;
  }

  get wantsDecisions(): boolean {
    return channels.decision.hasSubscribers || this.#logger?.debug !== undefined;
  }

  decision(details: Record<string, unknown>): void {
    if (channels.decision.hasSubscribers) channels.decision.publish(details);
    this.#logger?.debug?.(
      `cachette: ${String(details['outcome'])} (${String(details['reason'])}) ${String(details['method'])} ${String(details['url'])}`,
      details,
    );
  }

  store(details: Record<string, unknown>): void {
    if (channels.store.hasSubscribers) channels.store.publish(details);
    this.#logger?.debug?.(
      `cachette: ${details['stored'] === true ? 'stored' : `not stored (${String(details['reason'])})`} ${String(details['method'])} ${String(details['url'])}`,
      details,
    );
  }

  storageError(details: { operation: string; partition: string; error: unknown }): void {
    if (channels.storageError.hasSubscribers) channels.storageError.publish(details);
    const message = details.error instanceof Error ? details.error.message : String(details.error);
    // A refused request is a bug to fix (ours or the configuration's), not weather: say it loudly.
    const log = details.error instanceof StorageRequestError ? this.#logger?.error : this.#logger?.warn;
    log?.call(this.#logger, `cachette: storage ${details.operation} on ${details.partition} failed: ${message}`, details);
  }

  breaker(details: { state: string; failures: number }): void {
    if (channels.breaker.hasSubscribers) channels.breaker.publish(details);
    const log = details.state === 'open' ? this.#logger?.warn : this.#logger?.info;
    log?.call(this.#logger, `cachette: storage circuit ${details.state}`, details);
  }
}
