/**
 * The handler for a response coming from the origin. It passes every chunk
 * to the caller as it arrives, keeps a copy in a buffer bounded by
 * `maxEntrySize`, and hands the whole response to the writer after the
 * caller has seen its end. Errors, aborts and short bodies are never stored.
 */
import type { Dispatcher } from 'undici';
import type { CacheContext } from './context.js';
import type { CacheRequest } from '../policy/request.js';
import { storeDecision, type StorePlan } from '../policy/storable.js';
import { headerValue, type ResponseHeaders } from '../policy/headers.js';
import type { StoredVariants } from '../serialize.js';
import { announce, formatCacheStatus, type ForwardReason } from './cache-status.js';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

export interface ForwardInfo {
  fwd: ForwardReason;
  /** The variants index met at lookup, reused when storing a new variant. */
  variants?: StoredVariants | undefined;
  collapsed?: boolean;
  /** Called once with the outcome, for single-flight followers and background refreshes. */
  onSettled?: ((stored: boolean) => void) | undefined;
}

export class CachingHandler implements Handler {
  readonly #ctx: CacheContext;
  readonly #request: CacheRequest;
  readonly #downstream: Handler;
  readonly #info: ForwardInfo;
  readonly #requestTime: number;
  #plan: StorePlan | undefined;
  #chunks: Buffer[] | undefined;
  #size = 0;
  #expectedLength: number | undefined;
  #status = 0;
  #statusText = '';
  #headers: ResponseHeaders = {};
  #responseTime = 0;
  #settled = false;

  constructor(ctx: CacheContext, request: CacheRequest, downstream: Handler, info: ForwardInfo) {
    this.#ctx = ctx;
    this.#request = request;
    this.#downstream = downstream;
    this.#info = info;
    this.#requestTime = Date.now();
  }

  onRequestStart(controller: Controller, context: unknown): void {
    // A retried request starts over.
    this.#chunks = undefined;
    this.#plan = undefined;
    this.#size = 0;
    this.#downstream.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: ResponseHeaders, socket: import('node:stream').Duplex): void {
    this.#downstream.onRequestUpgrade?.(controller, statusCode, headers as never, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    if (statusCode < 200) {
      this.#downstream.onResponseStart?.(controller, statusCode, headers as never, statusMessage);
      return;
    }
    const ctx = this.#ctx;
    const request = this.#request;
    this.#responseTime = Date.now();
    this.#status = statusCode;
    this.#statusText = statusMessage ?? '';
    this.#headers = headers;

    let detail: string | undefined;
    const decision = request.method === 'HEAD'
      ? { store: false as const, reason: 'head' }
      : storeDecision({
        options: ctx.options,
        method: request.method,
        url: request.url.storedUrl,
        requestDirectives: request.directives,
        authorized: request.authorized,
        status: statusCode,
        headers,
        requestTime: this.#requestTime,
        responseTime: this.#responseTime,
      });
    if (decision.store) {
      this.#expectedLength = contentLength(headers);
      if (this.#expectedLength !== undefined && this.#expectedLength > ctx.options.maxEntrySize) {
        detail = 'too-large';
      } else {
        this.#plan = decision;
        this.#chunks = [];
      }
    } else {
      detail = decision.reason;
    }
    if (detail !== undefined) this.#notStored(detail);

    const plan = this.#plan;
    const member = formatCacheStatus({
      fwd: this.#info.fwd,
      fwdStatus: statusCode,
      stored: plan !== undefined,
      collapsed: this.#info.collapsed,
      ttl: plan === undefined ? undefined : (plan.lifetime - plan.initialAge) / 1000,
      detail,
    });
    this.#downstream.onResponseStart?.(controller, statusCode, announce(controller, headers, member) as never, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#chunks !== undefined) {
      this.#size += chunk.byteLength;
      if (this.#size > this.#ctx.options.maxEntrySize) {
        this.#chunks = undefined;
        this.#notStored('too-large');
      } else {
        this.#chunks.push(chunk);
      }
    }
    this.#downstream.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: ResponseHeaders): void {
    this.#downstream.onResponseEnd?.(controller, trailers as never);
    const chunks = this.#chunks;
    const plan = this.#plan;
    this.#chunks = undefined;
    if (chunks === undefined || plan === undefined) return this.#settle(false);
    if (this.#expectedLength !== undefined && this.#size !== this.#expectedLength && this.#status !== 204) {
      this.#notStored('incomplete');
      return this.#settle(false);
    }
    this.#ctx.writer.save({
      request: this.#request,
      plan,
      status: this.#status,
      statusText: this.#statusText,
      headers: this.#headers,
      body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.#size),
      requestTime: this.#requestTime,
      responseTime: this.#responseTime,
      variants: this.#info.variants,
    });
    this.#settle(true);
  }

  onResponseError(controller: Controller, error: Error): void {
    if (this.#chunks !== undefined) {
      this.#chunks = undefined;
      this.#notStored(controller.aborted ? 'aborted' : 'error');
    }
    this.#settle(false);
    this.#downstream.onResponseError?.(controller, error);
  }

  #notStored(reason: string): void {
    this.#ctx.reporter.store({ method: this.#request.method, url: this.#request.url.storedUrl, key: this.#request.key, stored: false, reason });
  }

  #settle(stored: boolean): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#info.onSettled?.(stored);
  }
}

/** The declared body length, when there is exactly one valid Content-Length. */
function contentLength(headers: ResponseHeaders): number | undefined {
  const value = headerValue(headers, 'content-length');
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}
