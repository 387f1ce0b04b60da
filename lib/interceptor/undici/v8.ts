/**
 * undici 8. Its dispatchers no longer understand v1 handlers, which Node's
 * bundled fetch (undici 7 inside Node 24) still passes: undici 8 ships the
 * adapter (Dispatcher1Wrapper), for a dispatcher and for a handler. Its
 * fetch and request read a response's headers from `controller.rawHeaders`
 * when it is set, and ignore the parsed object then.
 */

import type { Dispatcher } from 'undici';
import * as undici from 'undici';
import type { UndiciAdapter } from './adapter.js';

interface Dispatcher1WrapperClass {
  new (dispatcher: Dispatcher): Dispatcher;
  wrapHandler(handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler;
}

/** undici 8's adapter for v1 handlers; undefined on undici 7 (then this module is not the one in use). */
export const Dispatcher1Wrapper: Dispatcher1WrapperClass | undefined = (undici as { Dispatcher1Wrapper?: Dispatcher1WrapperClass }).Dispatcher1Wrapper;

export const v8: UndiciAdapter = {
  major: 8,
  modernHandler: (handler) =>
    typeof handler.onRequestStart === 'function' || Dispatcher1Wrapper === undefined ? handler : Dispatcher1Wrapper.wrapHandler(handler),
  forEveryConsumer: (dispatcher) => (Dispatcher1Wrapper === undefined ? dispatcher : new Dispatcher1Wrapper(dispatcher)),
  consumersReadRawHeaders: true,
  startResponse(handler, controller, statusCode, headers, statusText) {
    handler.onResponseStart?.(controller, statusCode, headers, statusText);
  },
};
