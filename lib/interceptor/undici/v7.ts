/**
 * undici 7. Its compose() wraps the v1 handler of undici.request, undici's
 * fetch or Node's bundled fetch in an adapter (WrapHandler) before our
 * interceptor sees it. That adapter offers both protocols, and its
 * onResponseStart turns each header back into a Buffer — a repeated field
 * (an array) into a nested array, which v1 consumers read as one value joined
 * by commas (two Set-Cookie fields become "a=1,b=2"). Such a handler is given
 * the headers through its v1 onHeaders instead, as flat Buffer pairs; a hit
 * hands it the pairs the cache already holds, a forwarded response the
 * origin's own pairs with our Cache-Status line added (cache-status.ts, announcedRaw).
 */
import type { Dispatcher } from 'undici';
import { toRawHeaders, type UndiciAdapter } from './adapter.js';

interface V1Headers {
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean | undefined;
}

/** undici 7's WrapHandler: the only handler of undici's that offers both the v1 and the v7 methods. */
function wrapsV1Handler(handler: Dispatcher.DispatchHandler): handler is Dispatcher.DispatchHandler & V1Headers {
  return typeof (handler as Partial<V1Headers>).onHeaders === 'function' && typeof handler.onResponseStart === 'function';
}

export const v7: UndiciAdapter = {
  major: 7,
  modernHandler: (handler) => handler,
  forEveryConsumer: (dispatcher) => dispatcher,
  consumersReadRawHeaders: false,
  startResponse(handler, controller, statusCode, headers, statusText, raw) {
    if (!wrapsV1Handler(handler)) {
      handler.onResponseStart?.(controller, statusCode, headers, statusText);
      return;
    }
    if (handler.onHeaders(statusCode, raw === undefined ? toRawHeaders(headers) : raw(), () => controller.resume(), statusText ?? '') === false)
      controller.pause();
  },
};
