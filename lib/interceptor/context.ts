/** The state one cache shares between its interceptor and its public API. */

import type { Background } from '../background.js';
import type { Clock } from '../clock.js';
import type { Reporter } from '../diagnostics.js';
import type { ResolvedOptions } from '../options.js';
import type { KeyPolicy } from '../policy/key.js';
import type { RecordStore } from '../records/store.js';
import type { HitHeaders } from './served.js';
import type { Flights } from './single-flight.js';

export interface CacheContext {
  options: ResolvedOptions;
  /** The time this cache reads (the `clock` option). */
  clock: Clock;
  /** Work done for no caller (background refreshes...), which settled() and close() wait for. */
  background: Background;
  keys: KeyPolicy;
  /** What is stored: finding, saving, invalidating records. */
  records: RecordStore;
  reporter: Reporter;
  /** Requests under way to the origin, by key, for collapsing. */
  flights: Flights;
  /** The headers of stored responses, prepared for hits. */
  hitHeaders: HitHeaders;
}
