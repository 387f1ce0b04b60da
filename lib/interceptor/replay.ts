/**
 * Answers a handler without the network: a stored response (a hit), or a
 * response the cache makes itself (504 for only-if-cached). Honours the
 * handler's pause/resume and abort like a real connection does.
 */
import type { Dispatcher } from 'undici';
import type { ResponseHeaders } from '../policy/headers.js';
import { abortError } from './abort-error.js';
import { toRawHeaders, undiciAdapter } from './undici/index.js';

type Handler = Dispatcher.DispatchHandler;

/**
 * What a replay holds once it has ended (or failed). Its handler and the
 * response it played are let go then: undici's consumers keep the controller
 * referenced after the end (a body readable's resume and abort callbacks), and
 * V8's young-generation collector keeps whatever it reaches alive for longer
 * than the request — on Node 24 a 2 KB hit promoted ~1 KB per request to the
 * old generation while the replay kept them (ARCHITECTURE.md, "Memos").
 */
const ENDED: Handler = { onRequestStart() {}, onResponseStart() {}, onResponseData() {}, onResponseEnd() {}, onResponseError() {} };
const PLAYED: ReplayResponse = { status: 0, statusText: '', headers: {}, body: undefined, rawHeaders: undefined };

/** Chunk size for replayed bodies, so that a paused consumer stops a large body mid-way. */
const CHUNK_BYTES = 64 * 1024;

export interface ReplayResponse {
  status: number;
  statusText: string;
  headers: ResponseHeaders;
  /** Omitted or empty for bodiless responses (HEAD, 204, 304). */
  body?: Uint8Array | undefined;
  /** Builds the headers as raw Buffer pairs, for consumers that take them (undici 8's from the controller, undici 7's v1 handlers). */
  rawHeaders?: (() => Buffer[]) | undefined;
}

/**
 * Plays `response` to `handler`: onRequestStart, onResponseStart, the body in
 * chunks, onResponseEnd — or onResponseError once if the handler aborts or throws.
 */
export function replay(handler: Handler, response: ReplayResponse): void {
  new Replay(handler, response).start();
}

/** One replay: the controller its handler holds, and the state of the body it plays. */
class Replay implements Dispatcher.DispatchController {
  rawTrailers: Buffer[] | null = null;
  #rawHeaders: Buffer[] | null | undefined;
  #handler: Handler;
  #response: ReplayResponse;
  #offset = 0;
  #done = false;
  #aborted = false;
  #paused = false;
  #reason: Error | null = null;

  constructor(handler: Handler, response: ReplayResponse) {
    this.#handler = handler;
    this.#response = response;
    if (undiciAdapter.consumersReadRawHeaders) this.rawTrailers = [];
  }

  /** Built on first read, for undici 8 consumers that read it (fetch); null for undici 7, which never does. */
  get rawHeaders(): Buffer[] | null {
    if (this.#rawHeaders === undefined) {
      this.#rawHeaders = undiciAdapter.consumersReadRawHeaders ? (this.#response.rawHeaders?.() ?? toRawHeaders(this.#response.headers)) : null;
    }
    return this.#rawHeaders;
  }

  set rawHeaders(value: Buffer[] | null) {
    this.#rawHeaders = value;
  }

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
    this.#fail(this.#reason);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    // A consumer may resume after the end (undici's body readable does, on a read): nothing is left to play.
    if (this.#done) return;
    queueMicrotask(() => this.#pump());
  }

  start(): void {
    const handler = this.#handler;
    const response = this.#response;
    try {
      handler.onRequestStart?.(this, {});
      if (this.#aborted) return;
      undiciAdapter.startResponse(handler, this, response.status, response.headers, response.statusText, response.rawHeaders);
    } catch (error) {
      this.#fail(toError(error));
      return;
    }
    this.#pump();
  }

  #pump(): void {
    const body = this.#response.body;
    try {
      if (body !== undefined) {
        while (this.#offset < body.byteLength) {
          if (this.#done || this.#aborted || this.#paused) return;
          const end = Math.min(this.#offset + CHUNK_BYTES, body.byteLength);
          // Stored bodies usually are Buffers already: a small one goes as it is, without a new view.
          const chunk =
            this.#offset === 0 && end === body.byteLength && Buffer.isBuffer(body)
              ? body
              : Buffer.from(body.buffer, body.byteOffset + this.#offset, end - this.#offset);
          this.#offset = end;
          this.#handler.onResponseData?.(this, chunk);
        }
      }
      if (this.#done || this.#aborted) return;
      this.#done = true;
      this.#end().onResponseEnd?.(this, {});
    } catch (error) {
      this.#fail(toError(error));
    }
  }

  #fail(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#end().onResponseError?.(this, error);
  }

  /**
   * Lets go of the handler and the response (see ENDED), the raw headers
   * made first should a consumer still ask for them; returns the handler, for its last call.
   */
  #end(): Handler {
    const handler = this.#handler;
    this.#handler = ENDED;
    if (this.#rawHeaders === undefined) this.#rawHeaders = this.rawHeaders;
    this.#response = PLAYED;
    return handler;
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
