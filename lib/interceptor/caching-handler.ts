/**
 * The handler for a request the cache forwarded to the origin. What it does
 * depends on the response:
 *
 * - a response to pass on: every chunk goes to the caller as it arrives, a
 *   copy of it taken first is kept (bounded by `maxEntrySize`), and the writer
 *   stores it after the caller has seen its end (never when it errored, was
 *   aborted or ended short);
 * - a 304 to our conditional request (RFC 9111 §4.3.3): the stored entry is
 *   updated with its headers, stored again, and replayed to the caller;
 * - a 5xx, or no response at all, while a stale entry may stand in for it
 *   (stale-if-error, RFC 5861 §4): the stale entry is replayed instead.
 *
 * The outcome is handed to the requests collapsed onto this one.
 */
import type { Dispatcher } from 'undici';
import { correctedInitialAge, currentAge } from '../policy/freshness.js';
import { copyFields, type ResponseHeaders } from '../policy/headers.js';
import type { CacheRequest } from '../policy/request.js';
import { isShareable, type ResponseView, readResponse } from '../policy/response.js';
import { type StoreDecision, type StorePlan, storeDecision } from '../policy/storable.js';
import { identifiesStored, updateStoredHeaders } from '../policy/update.js';
import type { StoredResponse, StoredVariants } from '../records/model.js';
import { OwnedBody } from '../records/owned-body.js';
import { namesOf } from '../records/variants.js';
import { announce, announcedRaw, type CacheStatus, type ForwardReason, formatCacheStatus } from './cache-status.js';
import type { CacheContext } from './context.js';
import { newEntry } from './entry.js';
import { ERROR_STATUSES, isBodylessLengthMismatch, isOriginFailure } from './origin-errors.js';
import { replay } from './replay.js';
import { ageField, storedHeaders } from './served.js';
import type { Flight, FlightOutcome, SharedResponse } from './single-flight.js';
import { undiciAdapter } from './undici/index.js';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

export interface StaleEntry {
  entry: StoredResponse;
  /** The key it is stored under (a variant's own). */
  key: string;
  /** We sent If-None-Match / If-Modified-Since from it. */
  conditional: boolean;
  /** It may answer in place of an origin error. */
  fallbackOnError: boolean;
}

export interface ForwardInfo {
  fwd: ForwardReason;
  /** The Vary index met at lookup, reused when storing a new variant. */
  variants?: StoredVariants | undefined;
  stale?: StaleEntry | undefined;
  /** A refresh in the background (stale-while-revalidate): nobody is served its answer. */
  background?: boolean | undefined;
  flight?: Flight | undefined;
  /** Called once when this forward is over: with the write's landing, when the response was stored. */
  onFinished?: ((landed: Promise<void> | undefined) => void) | undefined;
  /** Sends the request again without validators, to the same caller (a 304 that answered another response). */
  retryUnconditionally?: (() => void) | undefined;
}

/**
 * What this response is to the caller, decided at its headers: passed on
 * (`forward`), the stale entry freshened by a 304 (`not-modified`), the stale
 * entry in place of an error status (`error-fallback`, stale-if-error), or
 * nothing, the request going again without validators (`retry`). The two
 * that answer with the stale entry carry it.
 */
type Mode = { kind: 'forward' } | { kind: 'not-modified'; stale: StaleEntry } | { kind: 'error-fallback'; stale: StaleEntry } | { kind: 'retry' };

const FORWARD: Mode = { kind: 'forward' };
const RETRY: Mode = { kind: 'retry' };

export class CachingHandler implements Handler {
  readonly #ctx: CacheContext;
  readonly #request: CacheRequest;
  readonly #downstream: Handler;
  #info: ForwardInfo;
  readonly #requestTime: number;
  /** The cache's count of invalidations when the request was sent (single-flight.ts, Flights#invalidate). */
  readonly #sentAt: number;
  #mode: Mode | undefined;
  #plan: StorePlan | undefined;
  #shareable = false;
  /** The body kept, to store or for followers: copied as it arrives (records/owned-body.ts). */
  #body: OwnedBody | undefined;
  #expectedLength: number | undefined;
  #status = 0;
  #statusText = '';
  #headers: ResponseHeaders = {};
  #response: ResponseView | undefined;
  #cacheStatus: CacheStatus = {};
  #responseTime = 0;
  #landed: Promise<void> | undefined;
  #finished = false;
  /** undici sent the request elsewhere than its key names, or it is not known where (see origin.ts): its response is nobody else's. */
  #elsewhere: 'origin-mismatch' | 'origin-unverified' | undefined;

  constructor(ctx: CacheContext, request: CacheRequest, downstream: Handler, info: ForwardInfo) {
    this.#ctx = ctx;
    this.#request = request;
    this.#downstream = downstream;
    this.#info = info;
    this.#requestTime = ctx.clock.now();
    this.#sentAt = ctx.flights.stamp();
  }

  /** undici created the request for another origin than the one it named, or not at once: its response is neither stored nor shared. */
  wentElsewhere(reason: 'origin-mismatch' | 'origin-unverified'): void {
    this.#elsewhere = reason;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    // A retried request starts over.
    this.#mode = undefined;
    this.#body = undefined;
    this.#plan = undefined;
    this.#downstream.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: ResponseHeaders, socket: import('node:stream').Duplex): void {
    this.#downstream.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    if (statusCode < 200) {
      undiciAdapter.startResponse(this.#downstream, controller, statusCode, headers, statusMessage);
      return;
    }
    this.#responseTime = this.#ctx.clock.now();
    this.#status = statusCode;
    this.#statusText = statusMessage ?? '';
    // Read by field name from here on: a map without a prototype, whatever the origin named its fields.
    headers = copyFields(headers);
    this.#headers = headers;
    const ctx = this.#ctx;
    const response = readResponse(statusCode, headers, ctx.options.targetedCacheControl);
    this.#response = response;
    const stale = this.#info.stale;

    if (stale?.conditional && statusCode === 304) {
      // RFC 9111 §4.3.4: a 304 naming another representation updates nothing; ask for the response itself.
      const retry = this.#info.retryUnconditionally;
      this.#mode = retry !== undefined && !identifiesStored(response.etag, stale.entry.headers) ? RETRY : { kind: 'not-modified', stale };
      return;
    }
    if (stale?.fallbackOnError && ERROR_STATUSES.has(statusCode)) {
      this.#mode = { kind: 'error-fallback', stale };
      return;
    }
    this.#mode = FORWARD;
    if (stale !== undefined) this.#ctx.reporter.stats.replaced += 1;

    const decision: StoreDecision | { store: false; reason: string } =
      this.#elsewhere !== undefined ? { store: false, reason: this.#elsewhere } : this.#decide(response);
    // The origin answered with what replaces the stored response, and it may not be kept: the stored one goes too.
    // (Not for a HEAD's answer, which is never stored, nor for an error of the origin's, which replaces nothing.)
    if (stale !== undefined && !decision.store && decision.reason !== 'head' && this.#elsewhere === undefined && statusCode < 500) {
      this.#ctx.records.invalidate([stale.key]);
    }
    let detail: string | undefined;
    if (decision.store) {
      this.#expectedLength = response.contentLength;
      if (this.#expectedLength !== undefined && this.#expectedLength > ctx.options.maxEntrySize) detail = 'too-large';
      else this.#plan = decision;
    } else {
      detail = decision.reason;
    }
    if (detail !== undefined) this.#notStored(detail);
    // Worth keeping a copy of an unstorable response only when others are already waiting for it.
    const followers = this.#info.flight?.followers ?? 0;
    // Not what a follower would get: too large to keep, sent elsewhere, or carrying back what only this request sent.
    this.#shareable =
      this.#plan === undefined &&
      followers > 0 &&
      detail !== 'too-large' &&
      detail !== 'echoes-redacted' &&
      this.#elsewhere === undefined &&
      isShareable(response, ctx.options.shared);
    if (this.#plan !== undefined || this.#shareable) this.#body = new OwnedBody(response.contentLength);

    const plan = this.#plan;
    this.#cacheStatus = {
      fwd: this.#info.fwd,
      fwdStatus: statusCode,
      stored: plan !== undefined,
      ttl: plan === undefined ? undefined : (plan.lifetime - plan.initialAge) / 1000,
      detail,
    };
    // Kept by no one (an event stream, a no-store response, a long poll): identical requests stop waiting for its end.
    if (this.#body === undefined) this.#releaseFollowers();
    // Kept (to store, or for followers) the fields stay as the origin sent them; kept by nothing, they are the caller's.
    const announced = announce(controller, headers, formatCacheStatus(this.#cacheStatus), this.#body === undefined);
    undiciAdapter.startResponse(this.#downstream, controller, statusCode, announced, statusMessage, announcedRaw(controller));
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#mode?.kind !== 'forward') return; // a 304 or a replaced error: nothing for the caller
    const body = this.#body;
    if (body !== undefined) {
      if (body.size + chunk.byteLength > this.#ctx.options.maxEntrySize) {
        this.#body = undefined;
        if (this.#plan !== undefined) this.#notStored('too-large');
        this.#plan = undefined;
        this.#releaseFollowers();
      } else {
        // Copied before the caller has it: what the caller does to its chunk is not done to the stored body.
        body.append(chunk);
      }
    }
    this.#downstream.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: ResponseHeaders): void {
    const mode = this.#mode;
    switch (mode?.kind) {
      case 'not-modified':
        this.#serveUpdated(mode.stale);
        return;
      case 'error-fallback':
        this.#serveStale(mode.stale, `stale-if-error`, this.#status);
        return;
      case 'retry':
        this.#retry(controller);
        return;
      default:
        break;
    }
    this.#downstream.onResponseEnd?.(controller, trailers);
    const kept = this.#body;
    this.#body = undefined;
    // Nothing kept: waiting followers go on their own (and for a while, so do later requests).
    if (kept === undefined) {
      this.#settle((this.#info.flight?.followers ?? 0) > 0 ? { kind: 'solo' } : { kind: 'done' });
      return;
    }
    if (this.#expectedLength !== undefined && kept.size !== this.#expectedLength && this.#status !== 204 && this.#request.method !== 'HEAD') {
      if (this.#plan !== undefined) this.#notStored('incomplete');
      this.#settle({ kind: 'failed', error: new Error('the origin response ended short of its content-length') });
      return;
    }
    const body = kept.finish();
    const plan = this.#stillStorable(this.#plan);
    if (plan !== undefined) {
      const received = {
        status: this.#status,
        statusText: this.#statusText,
        headers: this.#headers,
        body,
        requestTime: this.#requestTime,
        responseTime: this.#responseTime,
      };
      this.#landed = this.#ctx.records.save(newEntry(this.#ctx, this.#request, plan, received, this.#info.variants));
    }
    const flight = this.#info.flight;
    if (flight === undefined || flight.followers === 0) {
      this.#settle({ kind: 'done' });
    } else if (plan !== undefined || this.#shareable) {
      this.#settle({
        kind: 'response',
        response: this.#shared(this.#status, this.#statusText, this.#headers, body, plan?.vary ?? this.#response?.varyNames ?? [], plan?.omit),
      });
    } else {
      this.#settle({ kind: 'solo' });
    }
  }

  onResponseError(controller: Controller, error: Error): void {
    if (this.#mode !== undefined && isBodylessLengthMismatch(this.#status, error)) {
      // The response was complete; undici only objects to its Content-Length (see isBodylessLengthMismatch).
      this.onResponseEnd(controller, {});
      return;
    }
    const stale = this.#info.stale;
    const failed = isOriginFailure(error);
    if (this.#mode === undefined && stale?.fallbackOnError === true && failed) {
      this.#serveStale(stale, 'stale-if-error', undefined);
      return;
    }
    if (this.#plan !== undefined) this.#notStored(controller.aborted ? 'aborted' : 'error');
    this.#plan = undefined;
    this.#body = undefined;
    if (failed && this.#mode?.kind === 'forward' && stale?.fallbackOnError === true) {
      // The caller already has this response's headers and must get its error; those waiting on it can have the stale entry.
      const answer = this.#staleAnswer(stale, 'stale-if-error', this.#status);
      this.#settle({ kind: 'response', response: this.#shared(answer.status, answer.statusText, answer.headers, answer.body, answer.varyNames) });
    } else {
      this.#settle(failed ? { kind: 'failed', error } : { kind: 'abandoned' });
    }
    this.#downstream.onResponseError?.(controller, error);
  }

  #decide(response: ResponseView): StoreDecision | { store: false; reason: 'head' } {
    const request = this.#request;
    if (request.method === 'HEAD') return { store: false, reason: 'head' };
    return storeDecision({
      options: this.#ctx.options,
      method: request.method,
      url: request.url.storedUrl,
      requestDirectives: request.directives,
      authorized: request.authorized,
      perCredential: request.perCredential,
      response,
      requestTime: this.#requestTime,
      responseTime: this.#responseTime,
      expireAfter: request.control.expireAfter,
      staleIfError: request.control.staleIfError,
      secrets: request.secrets,
    });
  }

  /** RFC 9111 §4.3.4: freshen the stored response with the 304's headers, store it again, serve it. */
  #serveUpdated(stale: StaleEntry): void {
    const entry = stale.entry;
    const stats = this.#ctx.reporter.stats;
    stats.notModified += 1;
    if (this.#info.background !== true) stats.served(this.#request.method === 'HEAD' ? 0 : entry.body.byteLength, false);
    const headers = updateStoredHeaders(entry.headers, this.#headers);
    const updated = readResponse(entry.status, headers, this.#ctx.options.targetedCacheControl);
    const decision = storeDecision({
      options: this.#ctx.options,
      method: this.#request.method,
      url: this.#request.url.storedUrl,
      requestDirectives: this.#request.directives,
      authorized: this.#request.authorized,
      perCredential: this.#request.perCredential,
      response: updated,
      requestTime: this.#requestTime,
      responseTime: this.#responseTime,
      expireAfter: this.#request.control.expireAfter,
      staleIfError: this.#request.control.staleIfError,
      secrets: this.#request.secrets,
    });
    let detail: string | undefined;
    // Invalidated while the request was out (a POST, a purge): served to this caller, not stored again.
    const storing = decision.store && this.#stillStorable(decision) !== undefined;
    if (decision.store && !storing) {
      detail = 'invalidated';
    } else if (decision.store) {
      const received = {
        status: entry.status,
        statusText: entry.statusText,
        headers,
        body: entry.body,
        requestTime: this.#requestTime,
        responseTime: this.#responseTime,
      };
      this.#landed = this.#ctx.records.save(newEntry(this.#ctx, this.#request, decision, received, this.#info.variants));
    } else {
      // RFC 9111 §4.3.4: the stored response, freshened, is no longer one the origin lets a cache keep.
      detail = decision.reason;
      this.#notStored(detail);
      this.#ctx.records.invalidate([stale.key]);
    }
    this.#cacheStatus = {
      fwd: this.#info.fwd,
      fwdStatus: 304,
      stored: storing,
      ttl: storing && decision.store ? (decision.lifetime - decision.initialAge) / 1000 : undefined,
      detail,
    };
    const served = copyFields(headers);
    served['age'] = ageField(correctedInitialAge(headers, this.#requestTime, this.#responseTime));
    // The followers' answer only if the freshened response may be theirs: stored (less the fields the store leaves
    // out), or shareable as it is — not one made private or no-store by the 304, nor one carrying back what only this
    // request sent.
    const shareable = (decision.store || isShareable(updated, this.#ctx.options.shared)) && detail !== 'echoes-redacted';
    this.#replay(entry.status, entry.statusText, served, entry.body, updated.varyNames, shareable, decision.store ? decision.omit : undefined);
  }

  /** RFC 5861 §4: the origin failed, the stale entry answers. */
  #serveStale(stale: StaleEntry, detail: string, fwdStatus: number | undefined): void {
    const answer = this.#staleAnswer(stale, detail, fwdStatus);
    const stats = this.#ctx.reporter.stats;
    stats.failedRevalidations += 1;
    stats.served(this.#request.method === 'HEAD' ? 0 : answer.body.byteLength, true);
    this.#replay(answer.status, answer.statusText, answer.headers, answer.body, answer.varyNames, true);
  }

  /** The stale entry as the answer to an origin failure (its Cache-Status becomes this forward's). */
  #staleAnswer(stale: StaleEntry, detail: string, fwdStatus: number | undefined) {
    const entry = stale.entry;
    const now = this.#ctx.clock.now();
    const ageMs = currentAge(entry, now);
    this.#cacheStatus = { fwd: this.#info.fwd, fwdStatus, ttl: (entry.lifetime - ageMs) / 1000, detail };
    const headers = storedHeaders(entry);
    headers['age'] = ageField(ageMs);
    this.#ctx.reporter.decision({ outcome: 'stale', reason: detail, method: this.#request.method, url: this.#request.url.storedUrl, key: this.#request.key });
    const varyNames = entry.vary === null ? [] : namesOf(entry.vary);
    return { status: entry.status, statusText: entry.statusText, headers, body: entry.body, varyNames };
  }

  #replay(
    status: number,
    statusText: string,
    headers: ResponseHeaders,
    body: Uint8Array,
    varyNames: readonly string[],
    shareable: boolean,
    omit?: ReadonlySet<string>,
  ): void {
    replay(this.#downstream, {
      status,
      statusText,
      headers: announceless(headers, formatCacheStatus(this.#cacheStatus)),
      body: this.#request.method === 'HEAD' ? undefined : body,
    });
    const followers = this.#info.flight?.followers ?? 0;
    if (followers > 0 && shareable) {
      this.#settle({ kind: 'response', response: this.#shared(status, statusText, headers, body, varyNames, omit) });
    } else {
      this.#settle(followers > 0 ? { kind: 'solo' } : { kind: 'done' });
    }
  }

  /** @param omit fields the store leaves out (private="…"): not the followers' either. */
  #shared(
    status: number,
    statusText: string,
    headers: ResponseHeaders,
    body: Uint8Array,
    names: readonly string[],
    omit?: ReadonlySet<string>,
  ): SharedResponse {
    // A cookie set for the leader's caller is not the followers'.
    const forFollowers = copyFields(headers);
    delete forFollowers['set-cookie'];
    if (omit !== undefined) for (const name of omit) delete forFollowers[name];
    return {
      status,
      statusText,
      headers: forFollowers,
      body,
      cacheStatus: this.#cacheStatus,
      vary: names.length === 0 ? undefined : this.#ctx.records.varyPairs(names, this.#request.headers),
    };
  }

  #retry(controller: Controller): void {
    // The retry's handler carries on with this one's flight and onFinished.
    this.#finished = true;
    try {
      this.#info.retryUnconditionally?.();
    } catch (error) {
      this.#finished = false;
      this.#settle({ kind: 'abandoned' });
      this.#downstream.onResponseError?.(controller, error as Error);
    }
  }

  /**
   * Nothing of this response will be stored or shared: the requests waiting
   * for it go to the origin on their own now, rather than when it ends (and
   * for a few seconds, later ones do not wait either).
   */
  #releaseFollowers(): void {
    const flight = this.#info.flight;
    if (flight === undefined) return;
    this.#info = { ...this.#info, flight: undefined };
    flight.settle({ kind: 'solo' });
  }

  /** The plan, unless the key was invalidated while the request was out (then it is reported not stored). */
  #stillStorable<P>(plan: P | undefined): P | undefined {
    if (plan === undefined || !this.#ctx.flights.invalidatedSince(this.#request.key, this.#sentAt)) return plan;
    this.#notStored('invalidated');
    return undefined;
  }

  #notStored(reason: string): void {
    this.#ctx.reporter.store({ method: this.#request.method, url: this.#request.url.storedUrl, key: this.#request.key, stored: false, reason });
  }

  #settle(outcome: FlightOutcome): void {
    this.#info.flight?.settle(outcome);
    if (!this.#finished) {
      this.#finished = true;
      this.#info.onFinished?.(this.#landed);
    }
  }
}

/** Appends our Cache-Status member to a response the cache builds itself. */
function announceless(headers: ResponseHeaders, member: string): ResponseHeaders {
  return announce({}, headers, member);
}
