/**
 * Answers a handler without the network: a stored response (a hit), or a
 * response the cache makes itself (504 for only-if-cached). Honours the
 * handler's pause/resume and abort like a real connection does.
 */
import type { Dispatcher } from 'undici';
import type { ResponseHeaders } from '../policy/headers.js';
import { consumersReadRawHeaders, toRawHeaders } from './undici-compat.js';

type Handler = Dispatcher.DispatchHandler;

/** Chunk size for replayed bodies, so that a paused consumer stops a large body mid-way. */
const CHUNK_BYTES = 64 * 1024;

class ReplayController implements Dispatcher.DispatchController {
  rawHeaders: Buffer[] | null = null;
  rawTrailers: Buffer[] | null = null;
  #aborted = false;
  #paused = false;
  #reason: Error | null = null;
  #onResume: (() => void) | undefined;
  #onAbort: ((reason: Error) => void) | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return this.#reason;
  }

  abort(reason?: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason ?? abortError();
    this.#onAbort?.(this.#reason);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#onResume?.();
  }

  /** @internal */
  bind(onResume: () => void, onAbort: (reason: Error) => void): void {
    this.#onResume = onResume;
    this.#onAbort = onAbort;
  }
}

export interface ReplayResponse {
  status: number;
  statusText: string;
  headers: ResponseHeaders;
  /** Omitted or empty for bodiless responses (HEAD, 204, 304). */
  body?: Uint8Array | undefined;
}

/**
 * Plays `response` to `handler`: onRequestStart, onResponseStart, the body in
 * chunks, onResponseEnd — or onResponseError once if the handler aborts or throws.
 */
export function replay(handler: Handler, response: ReplayResponse): void {
  const controller = new ReplayController();
  const body = response.body;
  let offset = 0;
  let done = false;

  const fail = (error: Error): void => {
    if (done) return;
    done = true;
    handler.onResponseError?.(controller, error);
  };

  const pump = (): void => {
    try {
      if (body !== undefined) {
        while (offset < body.byteLength) {
          if (done || controller.aborted) return;
          if (controller.paused) return;
          const end = Math.min(offset + CHUNK_BYTES, body.byteLength);
          const chunk = Buffer.from(body.buffer, body.byteOffset + offset, end - offset);
          offset = end;
          handler.onResponseData?.(controller, chunk);
        }
      }
      if (done || controller.aborted) return;
      done = true;
      handler.onResponseEnd?.(controller, {});
    } catch (error) {
      fail(toError(error));
    }
  };

  controller.bind(() => queueMicrotask(pump), fail);
  if (consumersReadRawHeaders) {
    controller.rawHeaders = toRawHeaders(response.headers);
    controller.rawTrailers = [];
  }

  try {
    handler.onRequestStart?.(controller, {});
    if (controller.aborted) return;
    handler.onResponseStart?.(controller, response.status, response.headers, response.statusText);
  } catch (error) {
    fail(toError(error));
    return;
  }
  pump();
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function abortError(): Error {
  const error = new Error('Request aborted');
  error.name = 'AbortError';
  return error;
}
