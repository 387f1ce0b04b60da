/**
 * What differs between the two undici majors this package supports, for an
 * interceptor: one adapter per major (v7.ts, v8.ts), chosen once by a feature
 * of the undici in use (no request is made to find out).
 */
import type { Dispatcher } from 'undici';

export type Headers = Record<string, string | string[] | undefined>;

export interface UndiciAdapter {
  readonly major: 7 | 8;
  /** A handler with the v7+ API (onRequestStart, onResponseStart...), adapting a v1 one where undici leaves that to us. */
  modernHandler(handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler;
  /** A dispatcher that also answers consumers speaking the v1 handler protocol (Node's bundled fetch). */
  forEveryConsumer(dispatcher: Dispatcher): Dispatcher;
  /** Consumers read a response's headers from `controller.rawHeaders` (Buffer pairs) when it is set. */
  readonly consumersReadRawHeaders: boolean;
  /**
   * Hands a response's status and headers to a handler; `raw` gives the same
   * headers as flat Buffer pairs, when the caller holds them already.
   */
  startResponse(
    handler: Dispatcher.DispatchHandler,
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Headers,
    statusText: string | undefined,
    raw?: () => Buffer[],
  ): void;
}

/** Headers as flat Buffer pairs, one pair per field line (a repeated field gives several). */
export function toRawHeaders(headers: Headers): Buffer[] {
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
