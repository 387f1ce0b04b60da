/**
 * The two undici generations this package supports. Both hand interceptors
 * handlers with the v7+ API (onRequestStart, onResponseStart, ...) when the
 * caller uses them — except undici 8 given a v1 ("legacy") handler, which is
 * what Node's bundled fetch passes when it is handed an undici 8 dispatcher.
 * undici 8 ships the adapter for that case (Dispatcher1Wrapper).
 */
import * as undici from 'undici';
import type { Dispatcher } from 'undici';

interface Dispatcher1WrapperClass {
  new (dispatcher: Dispatcher): Dispatcher;
  wrapHandler(handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler;
}

const Dispatcher1Wrapper = (undici as unknown as { Dispatcher1Wrapper?: Dispatcher1WrapperClass }).Dispatcher1Wrapper;

/** A handler with the v7+ API, adapting a legacy one where undici offers the adapter. */
export function modernHandler(handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler {
  if (typeof handler.onRequestStart === 'function' || Dispatcher1Wrapper === undefined) return handler;
  return Dispatcher1Wrapper.wrapHandler(handler);
}

/**
 * A dispatcher that also works for consumers speaking the v1 dispatcher
 * protocol (Node's global fetch on Node 24 bundles undici 7 and passes legacy
 * handlers; an undici 8 dispatcher would otherwise never answer it).
 */
export function forEveryConsumer(dispatcher: Dispatcher): Dispatcher {
  return Dispatcher1Wrapper === undefined ? dispatcher : new Dispatcher1Wrapper(dispatcher);
}

/**
 * undici 8's fetch and request read the headers from `controller.rawHeaders`
 * (Buffer pairs) and ignore the parsed object when it is set; a controller
 * that answers from the cache must provide them.
 */
export const consumersReadRawHeaders = Dispatcher1Wrapper !== undefined;

/** A v1 handler's methods, which undici 7's adapter for it still exposes. */
export interface LegacyHeadersHandler {
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean | void;
}

/**
 * undici 7 hands interceptors a v1 handler (undici.request's, fetch's) inside
 * its adapter, whose onResponseStart turns the parsed headers back into
 * Buffers on every response. A cache holding the headers as Buffers already
 * can skip that by calling the adapter's onHeaders, which goes straight to
 * the v1 handler. The adapter's class is found by asking undici to wrap a
 * v1 handler once; undefined where it does not (undici 8, whose consumers
 * read `controller.rawHeaders` instead).
 */
const LegacyAdapter: (abstract new (...args: never[]) => object) | undefined = (() => {
  if (consumersReadRawHeaders) return undefined;
  let adapter: unknown;
  try {
    const probe = new undici.Dispatcher().compose(() => (_opts, handler) => {
      adapter = handler.constructor;
      return true;
    });
    probe.dispatch({ origin: 'http://localhost', path: '/', method: 'GET' }, { onHeaders: () => true, onError: () => {} } as never);
  } catch {
    return undefined;
  }
  if (typeof adapter !== 'function' || adapter === Object) return undefined;
  const proto = (adapter as { prototype: Record<string, unknown> }).prototype;
  return typeof proto['onHeaders'] === 'function' && typeof proto['onResponseStart'] === 'function'
    ? adapter as abstract new (...args: never[]) => object
    : undefined;
})();

/** The handler, when it is undici 7's adapter around a v1 handler (it takes the headers as Buffers). */
export function legacyHeadersHandler(handler: Dispatcher.DispatchHandler): LegacyHeadersHandler | undefined {
  return LegacyAdapter !== undefined && handler instanceof LegacyAdapter ? handler as unknown as LegacyHeadersHandler : undefined;
}

/**
 * Hands a response's status and headers to the handler. undici 7's adapter
 * around a v1 handler turns a repeated field (an array) into a nested array of
 * Buffers, which v1 consumers such as Node 20's global fetch read as one value
 * joined by commas (two Set-Cookie fields become "a=1,b=2"): such a handler
 * gets the fields as flat Buffer pairs, one pair per field line, instead.
 * `raw` gives those pairs when the caller holds them already.
 */
export function startResponse(
  handler: Dispatcher.DispatchHandler, controller: Dispatcher.DispatchController,
  statusCode: number, headers: Record<string, string | string[] | undefined>, statusText: string | undefined, raw?: () => Buffer[],
): void {
  const legacy = legacyHeadersHandler(handler);
  if (legacy === undefined) {
    handler.onResponseStart?.(controller, statusCode, headers as never, statusText);
    return;
  }
  if (legacy.onHeaders(statusCode, raw === undefined ? toRawHeaders(headers) : raw(), () => controller.resume(), statusText ?? '') === false) controller.pause();
}

export function toRawHeaders(headers: Record<string, string | string[] | undefined>): Buffer[] {
  const raw: Buffer[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const nameBytes = Buffer.from(name, 'latin1');
    if (Array.isArray(value)) for (const item of value) raw.push(nameBytes, Buffer.from(item, 'latin1'));
    else raw.push(nameBytes, Buffer.from(value, 'latin1'));
  }
  return raw;
}
