/** A stored response for the pure decisions' specs: a 200 of `https://api.example.com/items`, stored at `at`. */
import type { StoredResponse } from '../../lib/records/model.js';

export interface StoredShape {
  /** Seconds of freshness. */
  lifetime: number;
  flags?: number;
  /** stale-while-revalidate and stale-if-error windows, seconds; -1: none. */
  swr?: number;
  sie?: number;
  /** Header fields, flat: name, value, name, value. */
  headers?: string[];
  body?: Uint8Array;
}

export function storedAt(at: number, shape: StoredShape): StoredResponse {
  return {
    kind: 'response',
    expiresAt: null,
    status: 200,
    statusText: 'OK',
    headers: shape.headers ?? [],
    body: shape.body ?? new Uint8Array(0),
    method: 'GET',
    url: 'https://api.example.com/items',
    key: 'k',
    redirect: null,
    vary: null,
    requestTime: at,
    responseTime: at,
    initialAge: 0,
    lifetime: shape.lifetime * 1000,
    flags: shape.flags ?? 0,
    staleWhileRevalidate: shape.swr ?? -1,
    staleIfError: shape.sie ?? -1,
    hiddenFields: null,
    tags: [],
  };
}
