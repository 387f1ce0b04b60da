/**
 * `cache.fetch`'s requests that fetch-hits.ts reads as the runtime's fetch
 * would dispatch them, when no fresh hit answers at once: dispatched through
 * the cache's dispatcher as fetch would dispatch them, and answered with a
 * Response made as fetch makes it (a differential spec holds them side by
 * side: spec/fetch/through.spec.ts). Through fetch, the misses of the mixed
 * load workload cost more CPU than the same requests through fetch with no
 * cache at all; fetch's own algorithm is most of a miss's cost
 * (docs/performance.md, "cache.fetch under load").
 *
 * Only the common answer is made so: a status with a body, no content coding,
 * fields and a status text that Response takes as they are. Anything else — a
 * redirect, an encoded body, a null-body status, a 407 or 421 (see
 * fetch-hits.ts, NOT_AT_ONCE), an error before the answer — is handed
 * to the runtime's fetch as it stands: fetch is called with a dispatcher that
 * gives it the answer already in flight, and does what it does (follows,
 * decodes, rejects). No request is sent twice.
 */
import type { Dispatcher } from 'undici';
import { type FetchRequest, fetchedResponse, passedOn } from './fetch-hits.js';
import { toRawHeaders } from './interceptor/undici/index.js';
import type { ResponseHeaders } from './policy/headers.js';

type Controller = Dispatcher.DispatchController;

/** The v1 handler protocol Node's bundled fetch speaks (the v7 one is taken too). */
interface FetchHandler {
  onConnect?(abort: (reason?: Error) => void, context?: unknown): void;
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean | undefined;
  onData?(chunk: Buffer): boolean | undefined;
  onComplete?(trailers: Buffer[] | null): void;
  onError?(error: Error): void;
  onRequestStart?(controller: Controller, context: unknown): void;
  onResponseStart?(controller: Controller, statusCode: number, headers: ResponseHeaders, statusText?: string): void;
  onResponseData?(controller: Controller, chunk: Buffer): void;
  onResponseEnd?(controller: Controller, trailers: ResponseHeaders): void;
  onResponseError?(controller: Controller, error: Error): void;
}

/** One cache's fetch calls answered through its dispatcher: a Response collected unread lets its connection go. */
export class FetchThrough {
  readonly #unread = new FinalizationRegistry<WeakRef<ReadableStream<Uint8Array>>>((body) => {
    // A body still held and read elsewhere is left alone; one nobody reads would hold its connection paused.
    const stream = body.deref();
    if (stream === undefined || stream.locked || disturbed(stream)) return;
    stream.cancel(new Error('cachette: the Response was collected unread')).catch(() => {});
  });

  /** The Response fetch would give `request` (made at once for the common answer, fetch's own otherwise). */
  fetch(dispatcher: Dispatcher, request: FetchRequest, input: string | URL, init: object | undefined): Promise<Response> {
    const runtimeFetch = globalThis.fetch;
    return new Promise<Response>((resolve) => {
      const handler = new ThroughHandler(
        request.url,
        (response) => {
          if (response.body !== null) this.#unread.register(response, new WeakRef(response.body));
          resolve(response);
        },
        (relay) => {
          const next = { dispatch: (opts: Dispatcher.DispatchOptions, h: FetchHandler) => dispatcher.dispatch(opts, h as Dispatcher.DispatchHandler) };
          const handOff = {
            dispatch(opts: Dispatcher.DispatchOptions, fetchHandler: FetchHandler): boolean {
              // The first request fetch sends is the one in flight; what it sends after (a redirect's target) goes through the cache.
              if (relay.attached || opts.path !== request.opts.path || opts.origin?.toString() !== request.opts.origin) {
                relay.abandon();
                return next.dispatch(opts, fetchHandler);
              }
              relay.attach(fetchHandler);
              return true;
            },
            close: () => Promise.resolve(),
            destroy: () => Promise.resolve(),
          };
          // Node's fetch takes `dispatcher` in its init (RequestInit's DOM type does not name it), and calls only its dispatch().
          const fetched = runtimeFetch(input, Object.create(init ?? null, { dispatcher: { value: handOff, enumerable: true } }) as RequestInit);
          // Settled without taking the answer in flight (a request it refuses before sending): that answer is nobody's.
          fetched.then(
            () => relay.abandon(),
            () => relay.abandon(),
          );
          resolve(fetched);
        },
      );
      try {
        dispatcher.dispatch(request.opts, handler);
      } catch (error) {
        handler.onResponseError(undefined, error as Error);
      }
    });
  }
}

/**
 * Whether a stream was read from (or cancelled): the runtime's Response
 * refuses such a body, the check fetch's own finalizer makes before it
 * cancels a body nobody holds.
 */
function disturbed(stream: ReadableStream<Uint8Array>): boolean {
  try {
    new Response(stream);
    return false;
  } catch {
    return true;
  }
}

/** A response going to fetch instead: what arrived before fetch took it, then the rest as it comes. */
class Relay {
  attached = false;
  #handler: FetchHandler | undefined;
  readonly #queue: Array<(handler: FetchHandler) => boolean> = [];
  readonly #source: () => Controller | undefined;
  #abandoned = false;

  constructor(source: () => Controller | undefined) {
    this.#source = source;
  }

  /** fetch's handler, given what arrived so far; the response flows once it asks for more. */
  attach(handler: FetchHandler): void {
    this.attached = true;
    this.#handler = handler;
    let flowing = true;
    for (const event of this.#queue.splice(0)) flowing = event(handler) && flowing;
    if (flowing) this.#source()?.resume();
  }

  /** fetch sent something else first: the response in flight is nobody's. */
  abandon(): void {
    if (this.attached || this.#abandoned) return;
    this.#abandoned = true;
    this.#source()?.abort(new Error('cachette: fetch sent another request'));
  }

  /** Hands `event` to fetch's handler, or keeps it until fetch takes over; false: pause the response. */
  send(event: (handler: FetchHandler) => boolean): void {
    if (this.#abandoned) return;
    if (this.#handler === undefined) this.#queue.push(event);
    else if (!event(this.#handler)) this.#source()?.pause();
  }
}

/** A controller for fetch's handler when the response failed before the cache gave one. */
const NO_CONTROLLER: Controller = {
  abort() {},
  pause() {},
  resume() {},
  aborted: false,
  paused: false,
  reason: null,
};

class ThroughHandler implements Dispatcher.DispatchHandler {
  readonly #url: string;
  /** Who waits for the Response: let go once answered (the body stream, held by the request in flight, must not hold the Response). */
  #answer: ((response: Response) => void) | undefined;
  #handOff: ((relay: Relay) => void) | undefined;
  #controller: Controller | undefined;
  #state: 'waiting' | 'ours' | 'fetch' = 'waiting';
  #body: ReadableByteStreamController | undefined;
  #cancelled = false;
  #relay: Relay | undefined;

  constructor(url: string, answer: (response: Response) => void, handOff: (relay: Relay) => void) {
    this.#url = url;
    this.#answer = answer;
    this.#handOff = handOff;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#controller = controller;
    const abort = (reason?: Error) => controller.abort(reason ?? new Error('aborted'));
    this.#started = (handler) => {
      if (handler.onRequestStart === undefined || handler.onHeaders !== undefined) handler.onConnect?.(abort, context);
      else handler.onRequestStart(this.#controllerFor(), context);
      return true;
    };
  }

  /** What fetch's handler is told when it takes over: the request started (and how to abort it). */
  #started: ((handler: FetchHandler) => boolean) | undefined;

  onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, statusText?: string): void {
    this.#controller = controller;
    if (this.#state === 'waiting') {
      const fields = passedOn(statusCode, headers);
      if (fields !== undefined && this.#answerWith(statusCode, statusText ?? '', fields)) return;
      this.#toFetch();
    }
    if (this.#state !== 'fetch') return;
    this.#relay?.send((handler) => {
      if (handler.onHeaders === undefined && handler.onResponseStart !== undefined) {
        handler.onResponseStart(this.#controllerFor(), statusCode, headers, statusText);
        return true;
      }
      return handler.onHeaders?.(statusCode, toRawHeaders(headers), () => this.#controller?.resume(), statusText ?? '') !== false;
    });
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.#controller = controller;
    if (this.#state === 'ours') {
      const body = this.#body as ReadableByteStreamController;
      if (this.#cancelled) return;
      try {
        // A copy: the chunk may be the socket's buffer or the bytes the cache stores.
        body.enqueue(new Uint8Array(chunk));
      } catch (error) {
        this.#broken(error);
        return;
      }
      if ((body.desiredSize ?? 0) <= 0) controller.pause();
      return;
    }
    this.#relay?.send((handler) => {
      if (handler.onData === undefined && handler.onResponseData !== undefined) {
        handler.onResponseData(this.#controllerFor(), chunk);
        return true;
      }
      return handler.onData?.(chunk) !== false;
    });
  }

  onResponseEnd(controller: Controller, trailers: ResponseHeaders): void {
    this.#controller = controller;
    if (this.#state === 'ours') {
      if (this.#cancelled) return;
      const body = this.#body as ReadableByteStreamController;
      try {
        body.close();
        // A reader waiting with its own buffer (BYOB) is told the body ended.
        body.byobRequest?.respond(0);
      } catch (error) {
        // A BYOB reader's buffer left part-filled (its element wider than the bytes left): the stream says so.
        this.#broken(error);
      }
      return;
    }
    this.#relay?.send((handler) => {
      if (handler.onComplete === undefined && handler.onResponseEnd !== undefined) handler.onResponseEnd(this.#controllerFor(), trailers);
      else handler.onComplete?.(toRawHeaders(trailers));
      return true;
    });
  }

  onResponseError(controller: Controller | undefined, error: Error): void {
    if (controller !== undefined) this.#controller = controller;
    if (this.#state === 'ours') {
      // fetch's body stream fails so when its response breaks off.
      if (!this.#cancelled) this.#body?.error(new TypeError('terminated', { cause: error }));
      return;
    }
    // Before any answer: fetch makes of the error what it makes of one.
    if (this.#state === 'waiting') this.#toFetch();
    this.#relay?.send((handler) => {
      if (handler.onError === undefined && handler.onResponseError !== undefined) handler.onResponseError(this.#controllerFor(), error);
      else handler.onError?.(error);
      return true;
    });
  }

  /** The body stream refused what came (its reader's doing): the stream fails with the reason, the request stops. */
  #broken(error: unknown): void {
    this.#cancelled = true;
    const reason = error instanceof Error ? error : new TypeError(String(error));
    try {
      this.#body?.error(reason);
    } catch {
      // already closed or failed
    }
    this.#controller?.abort(reason);
  }

  /** The controller fetch's handler gets, when it speaks the v7 protocol. */
  #controllerFor(): Controller {
    return this.#controller ?? NO_CONTROLLER;
  }

  /** Answers with a Response made here; false if Response refuses the status text or a field (fetch takes them as they come). */
  #answerWith(status: number, statusText: string, fields: Array<[string, string]>): boolean {
    let response: Response;
    try {
      const stream = new ReadableStream(
        {
          type: 'bytes',
          start: (body: ReadableByteStreamController) => {
            this.#body = body;
          },
          pull: () => {
            this.#controller?.resume();
          },
          cancel: (reason: unknown) => {
            this.#cancelled = true;
            this.#controller?.abort(reason instanceof Error ? reason : new Error('cachette: the body was cancelled'));
          },
        },
        { highWaterMark: 65536 },
      );
      response = fetchedResponse(stream, { status, statusText, headers: fields }, this.#url);
    } catch {
      return false;
    }
    this.#state = 'ours';
    const answer = this.#answer;
    this.#answer = undefined;
    this.#handOff = undefined;
    answer?.(response);
    return true;
  }

  /** fetch takes the response over: paused until it asks for it, with what arrived kept for it. */
  #toFetch(): void {
    this.#state = 'fetch';
    this.#controller?.pause();
    const relay = new Relay(() => this.#controller);
    this.#relay = relay;
    relay.send(
      this.#started ??
        ((handler) => {
          // Failed before the request started: fetch's handler is told it started, then how it failed.
          handler.onConnect?.(() => this.#controller?.abort(new Error('aborted')));
          return true;
        }),
    );
    const handOff = this.#handOff;
    this.#answer = undefined;
    this.#handOff = undefined;
    handOff?.(relay);
  }
}
