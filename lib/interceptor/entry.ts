/**
 * A response the policy decided to store, as the record layer takes it: the
 * stored record (headers that may be kept, the numbers reuse needs) and, for
 * a redirect, the key of its target.
 */

import { headerValue, type ResponseHeaders, storableHeaderPairs } from '../policy/headers.js';
import type { CacheRequest } from '../policy/request.js';
import type { StorePlan } from '../policy/storable.js';
import { normalizeAbsoluteUrl } from '../policy/url.js';
import type { StoredVariants } from '../records/model.js';
import type { NewEntry } from '../records/store.js';
import { mergeTags, tagsOfField } from '../records/tags.js';
import type { CacheContext } from './context.js';

export interface Received {
  status: number;
  statusText: string;
  headers: ResponseHeaders;
  body: Uint8Array;
  requestTime: number;
  responseTime: number;
}

export function newEntry(ctx: CacheContext, request: CacheRequest, plan: StorePlan, response: Received, variants: StoredVariants | undefined): NewEntry {
  const redirect = response.status >= 300 && response.status < 400 ? redirectTarget(ctx, request, response.headers) : undefined;
  return {
    key: request.key,
    requestHeaders: request.headers,
    record: {
      kind: 'response',
      expiresAt: plan.expiresAt ?? null,
      status: response.status,
      statusText: response.statusText,
      headers: storableHeaderPairs(response.headers, plan.omit),
      body: response.body,
      method: request.lookupMethod,
      url: request.url.storedUrl,
      key: request.key,
      redirect: redirect ?? null,
      vary: null,
      requestTime: response.requestTime,
      responseTime: response.responseTime,
      initialAge: plan.initialAge,
      lifetime: plan.lifetime,
      flags: plan.flags,
      staleWhileRevalidate: plan.staleWhileRevalidate,
      staleIfError: plan.staleIfError,
      hiddenFields: plan.hiddenFields,
      tags: tagsOf(ctx, request, response.headers),
    },
    varyNames: plan.vary,
    variants,
    redirectTarget: redirect,
    freshness: plan.freshness,
  };
}

/** The tags of the response's `cacheTagsHeader`, and those the request asked for. */
function tagsOf(ctx: CacheContext, request: CacheRequest, headers: ResponseHeaders): readonly string[] {
  const header = ctx.options.cacheTagsHeader;
  const own = request.control.tags;
  if (header === undefined) return own;
  const listed = tagsOfField(headers[header]);
  return listed.length === 0 ? own : mergeTags(listed, own);
}

/** The key its Location would be stored under, fetched with this request's headers. */
function redirectTarget(ctx: CacheContext, request: CacheRequest, headers: ResponseHeaders): string | undefined {
  const location = headerValue(headers, 'location');
  if (location === undefined) return undefined;
  try {
    // Relative to where the request went (the Location of a request with a Host of its own is followed there too).
    const target = normalizeAbsoluteUrl(new URL(location, request.url.keyUrl), ctx.options.urls);
    return ctx.keys.keyFor({ method: 'GET', url: target.keyUrl, headers: request.headers });
  } catch {
    return undefined;
  }
}
