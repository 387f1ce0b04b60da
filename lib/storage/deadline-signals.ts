/**
 * Abort signals for the calls a storage makes through its client (the AWS
 * SDK's, node-redis's), shared by the calls that start together. Apart from
 * shared-timers.ts, which the core loads: this needs `node:events`, and only
 * the DynamoDB and Redis storages use it.
 */
import { setMaxListeners } from 'node:events';
import { systemClock } from '../clock.js';
import { SharedTimers } from './shared-timers.js';

/**
 * Deadline signals, shared by the calls of one storage that start together
 * (SharedTimers): one controller and one timer for many SDK calls or Redis
 * commands, instead of a timer and a signal of their own each.
 */
export class DeadlineSignals {
  readonly #timers = new SharedTimers<AbortController>(
    systemClock,
    () => {
      const controller = new AbortController();
      // Every call under way listens to it: many at once is expected, not a leak.
      setMaxListeners(0, controller.signal);
      return controller;
    },
    (controller) => controller.abort(Object.assign(new Error('deadline exceeded'), { name: 'TimeoutError' })),
  );

  signal(timeout: number): AbortSignal {
    return this.#timers.current(timeout).signal;
  }
}
