/** The state one cache shares between its interceptor, its writer and its public API. */
import type { ResolvedOptions } from '../options.js';
import type { KeyPolicy } from '../policy/key.js';
import type { FailOpenPartition } from '../storage/fail-open.js';
import type { Reporter } from '../diagnostics.js';
import type { EntryWriter } from './writer.js';
import type { Flights } from './single-flight.js';

export interface CacheContext {
  options: ResolvedOptions;
  keys: KeyPolicy;
  /** The request path's fail-open views of the two partitions. */
  responses: FailOpenPartition;
  redirects: FailOpenPartition;
  reporter: Reporter;
  writer: EntryWriter;
  /** Requests under way to the origin, by key, for collapsing. */
  flights: Flights;
}
