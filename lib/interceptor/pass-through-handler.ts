/** Forwards a response untouched but for our Cache-Status member (for requests the cache does not handle). */
import type { Dispatcher } from 'undici';
import type { ResponseHeaders } from '../policy/headers.js';
import { announce, announcedRaw } from './cache-status.js';
import { isBodylessLengthMismatch } from './origin-errors.js';
import { undiciAdapter } from './undici/index.js';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

export class PassThroughHandler implements Handler {
  readonly #downstream: Handler;
  readonly #member: string;
  readonly #onResponse: ((status: number, headers: ResponseHeaders) => void) | undefined;
  #status = 0;

  constructor(downstream: Handler, member: string, onResponse?: (status: number, headers: ResponseHeaders) => void) {
    this.#downstream = downstream;
    this.#member = member;
    this.#onResponse = onResponse;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#downstream.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: ResponseHeaders, socket: import('node:stream').Duplex): void {
    this.#downstream.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    if (statusCode >= 200) {
      this.#status = statusCode;
      this.#onResponse?.(statusCode, headers);
      headers = announce(controller, headers, this.#member);
    }
    undiciAdapter.startResponse(this.#downstream, controller, statusCode, headers, statusMessage, statusCode >= 200 ? announcedRaw(controller) : undefined);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.#downstream.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: ResponseHeaders): void {
    this.#downstream.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, error: Error): void {
    if (isBodylessLengthMismatch(this.#status, error)) {
      this.#downstream.onResponseEnd?.(controller, {});
      return;
    }
    this.#downstream.onResponseError?.(controller, error);
  }
}
