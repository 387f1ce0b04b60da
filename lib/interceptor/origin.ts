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
 */
import { channel } from 'node:diagnostics_channel';
import type { Dispatcher } from 'undici';

type Handler = Dispatcher.DispatchHandler;
type Options = Dispatcher.DispatchOptions;

const requestCreated = channel('undici:request:create');

interface CreatedRequest {
  request?: { origin?: unknown; path?: unknown; method?: unknown };
}

/** What one composition of the interceptor knows of the origin its dispatcher sends requests to. */
export class DispatcherOrigin {
  #origin: string | undefined;

  /** @param composed what undici 8 passes an interceptor at compose time: the origin, null (originless), or nothing. */
  constructor(composed: unknown) {
    this.#origin = typeof composed === 'string' && composed !== '' ? composed : undefined;
  }

  get known(): string | undefined {
    return this.#origin;
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
