/**
 * The AWS Lambda invocation a cache is serving, when the handler registers
 * its context (`cache.registerLambdaContext(context)`, as Powertools'
 * idempotency does): a lease taken to collapse misses across instances never
 * outlives the invocation, nor does a wait for another instance's lease. An
 * instance runs one invocation at a time, so the latest context is the one.
 */
import { describe } from '../describe.js';

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

export class Invocation {
  #context: LambdaContextLike | undefined;

  register(context: LambdaContextLike): void {
    if (context === null || typeof context !== 'object' || typeof context.getRemainingTimeInMillis !== 'function') {
      throw new TypeError(`registerLambdaContext() takes the handler's context (with getRemainingTimeInMillis), got ${describe(context)}`);
    }
    this.#context = context;
  }

  /** The lease and wait, cut to the invocation's remaining time (0: no time left to lead or wait). */
  limit(limits: { leaseMs: number; waitMs: number }): { leaseMs: number; waitMs: number } {
    if (this.#context === undefined) return limits;
    const left = Math.max(0, Math.floor(Number(this.#context.getRemainingTimeInMillis()) || 0));
    return { leaseMs: Math.min(limits.leaseMs, left), waitMs: Math.min(limits.waitMs, left) };
  }
}
