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
