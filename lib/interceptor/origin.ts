/**
 * The origin of requests dispatched without one. undici's Client, Pool and
 * BalancedPool take dispatch options without `origin` (they know where they
 * connect); a cache needs it for the key. undici 8 tells interceptors at
 * compose time and fills `opts.origin` for a Client or Pool; undici 7 does
 * neither, and no undici says it for a BalancedPool. There, the first request
 * without an origin teaches it: undici announces every request it creates on
 * the `undici:request:create` diagnostics channel (a documented API), with
 * its origin, synchronously inside the dispatch call. That first request
 * could not be looked up (its key was unknown), but its response is stored;
 * every later one is cached as through an Agent.
 *
 * A Client or Pool sends every request to its own origin, whatever the
 * request's `origin` option says: the key must name where it went. Once the
 * dispatcher's origin is known, it is the one keyed. Where it is not known
 * (undici 7: nothing says what the interceptor was composed on), each request
 * the cache forwards naming an origin is watched on the same channel until
 * one has been seen going there: a response from elsewhere (a Client's own
 * origin, or an interceptor inside the cache's that rewrote it, such as
 * undici's dns) is neither stored nor shared, and later requests naming that
 * origin bypass the cache; a response whose request undici did not create at
 * once (a Pool queued it) is not stored either, while that is all it knows.
 */
import type { Dispatcher } from 'undici';

const { channel } = process.getBuiltinModule('node:diagnostics_channel'); // not an import (a cold start: scripts/bundle.mjs)

type Handler = Dispatcher.DispatchHandler;
type Options = Dispatcher.DispatchOptions;

const requestCreated = channel('undici:request:create');

interface CreatedRequest {
  request?: { origin?: unknown; path?: unknown; method?: unknown };
}

/** Where requests naming an origin were seen to go: there, or elsewhere. */
export type Verdict = 'own' | 'elsewhere';

/** Named origins whose verdict is remembered, per composition. */
const MAX_VERDICTS = 1024;

/** What one composition of the interceptor knows of the origin its dispatcher sends requests to. */
export class DispatcherOrigin {
  #origin: string | undefined;
  /** The dispatcher sends each request where its `origin` option says (an Agent). */
  readonly #routesByOrigin: boolean;
  readonly #verdicts = new Map<string, Verdict>();

  /**
   * @param composed what undici 8 passes an interceptor at compose time: the origin, null (originless: an Agent), or nothing.
   * @param routesByOrigin the cache composed it on an Agent of its own.
   */
  constructor(composed: unknown, routesByOrigin = false) {
    this.#origin = typeof composed === 'string' && composed !== '' ? new URL(composed).origin : undefined;
    this.#routesByOrigin = routesByOrigin || composed === null;
  }

  /** Where the dispatcher sends every request, when it is a Client or a Pool and that is known. */
  get known(): string | undefined {
    return this.#origin;
  }

  /**
   * Where requests naming `origin` go, as far as this composition knows:
   * 'own' when the dispatcher is known to route by origin (or they were seen
   * going there), 'elsewhere', or undefined when not known yet.
   */
  verdict(origin: string | URL): Verdict | undefined {
    if (this.#routesByOrigin) return 'own';
    return this.#verdicts.get(typeof origin === 'string' ? origin : origin.origin);
  }

  /**
   * Dispatches a request that names an origin through `next`, watching where
   * undici creates it, and remembers what that says of its origin. Returns,
   * with dispatch's own result, where it went: undefined when undici did not
   * create it at once.
   */
  dispatchWatching(next: Dispatcher.Dispatch, opts: Options, handler: Handler): { result: boolean; went: Verdict | undefined } {
    let created: string | undefined;
    const listener = (message: unknown): void => {
      const request = (message as CreatedRequest).request;
      if (created !== undefined || request === undefined || request.path !== opts.path) return;
      if (typeof request.origin === 'string' || request.origin instanceof URL) created = new URL(String(request.origin)).origin;
    };
    requestCreated.subscribe(listener);
    let result: boolean;
    try {
      result = next(opts, handler);
    } finally {
      requestCreated.unsubscribe(listener);
    }
    const named = opts.origin;
    if (created === undefined || named == null || named === '') return { result, went: undefined };
    const went: Verdict = created === new URL(String(named)).origin ? 'own' : 'elsewhere';
    if (this.#verdicts.size >= MAX_VERDICTS) this.#verdicts.clear();
    this.#verdicts.set(typeof named === 'string' ? named : named.origin, went);
    return { result, went };
  }

  /**
   * Dispatches a request that has no origin through `next`, learning the
   * origin undici gives it on the way. `handlerFor` is called on the request's
   * first event, with the origin learned, or undefined when undici did not
   * create the request at once (a pool queuing it): the next request tries again.
   */
  dispatchLearning(next: Dispatcher.Dispatch, opts: Options, handlerFor: (origin: string | undefined) => Handler): boolean {
    let learned: string | undefined;
    const listener = (message: unknown): void => {
      const request = (message as CreatedRequest).request;
      if (learned !== undefined || request === undefined || request.path !== opts.path) return;
      if (typeof request.origin === 'string' || request.origin instanceof URL) learned = new URL(String(request.origin)).origin;
    };
    requestCreated.subscribe(listener);
    let result: boolean;
    try {
      result = next(opts, new DeferredHandler(() => handlerFor(learned)));
    } finally {
      requestCreated.unsubscribe(listener);
    }
    this.#origin ??= learned;
    return result;
  }
}

/** A handler that becomes another on its first event (when what it must be is known). */
class DeferredHandler implements Handler {
  readonly #make: () => Handler;
  #handler: Handler | undefined;

  constructor(make: () => Handler) {
    this.#make = make;
  }

  get #target(): Handler {
    if (this.#handler === undefined) this.#handler = this.#make();
    return this.#handler;
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#target.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Parameters<NonNullable<Handler['onRequestUpgrade']>>[2],
    socket: import('node:stream').Duplex,
  ): void {
    this.#target.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Parameters<NonNullable<Handler['onResponseStart']>>[2],
    statusMessage?: string,
  ): void {
    this.#target.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#target.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Parameters<NonNullable<Handler['onResponseEnd']>>[1]): void {
    this.#target.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.#target.onResponseError?.(controller, error);
  }
}
