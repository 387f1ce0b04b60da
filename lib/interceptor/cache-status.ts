/**
 * The RFC 9211 Cache-Status member this cache adds to every response it
 * handles, appended after any member from caches nearer the origin (§2).
 */
import { copyFields, type ResponseHeaders } from '../policy/headers.js';

const CACHE_NAME = 'cachette';

/** RFC 9211 §2.2 forward reasons. */
export type ForwardReason = 'bypass' | 'method' | 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale' | 'partial';

export interface CacheStatus {
  hit?: boolean;
  fwd?: ForwardReason;
  fwdStatus?: number;
  stored?: boolean;
  collapsed?: boolean;
  /** Remaining freshness in seconds (negative when stale). */
  ttl?: number;
  detail?: string;
}

const TOKEN = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/;

export function formatCacheStatus(status: CacheStatus): string {
  let value = CACHE_NAME;
  if (status.hit === true) value += '; hit';
  if (status.fwd !== undefined) value += `; fwd=${status.fwd}`;
  if (status.fwdStatus !== undefined) value += `; fwd-status=${status.fwdStatus}`;
  if (status.stored === true) value += '; stored';
  if (status.collapsed === true) value += '; collapsed';
  if (status.ttl !== undefined && Number.isFinite(status.ttl)) value += `; ttl=${Math.round(status.ttl) || 0}`;
  if (status.detail !== undefined) {
    value += TOKEN.test(status.detail) ? `; detail=${status.detail}` : `; detail=${JSON.stringify(status.detail)}`;
  }
  return value;
}

/**
 * `headers` with our member appended to Cache-Status: a copy, or, when they
 * are `owned` (a copy of the caller's that nothing keeps), themselves. undici 8
 * consumers (fetch, request) read `controller.rawHeaders` when it is set, so
 * the member goes there too.
 */
export function announce(controller: { rawHeaders?: unknown }, headers: ResponseHeaders, member: string, owned = false): ResponseHeaders {
  const raw = controller.rawHeaders;
  if (Array.isArray(raw)) {
    // A second Cache-Status field line: consumers join repeated lines in order (RFC 9110 §5.3).
    controller.rawHeaders = [...raw, CACHE_STATUS_NAME, Buffer.from(member, 'latin1')];
  } else if (raw !== null && typeof raw === 'object') {
    controller.rawHeaders = withCacheStatus(raw as ResponseHeaders, member);
  }
  return owned ? appendCacheStatus(headers, member) : withCacheStatus(headers, member);
}

const CACHE_STATUS_NAME = Buffer.from('cache-status', 'latin1');

/**
 * The controller's raw headers once announce() has added our member to them,
 * when they are flat Buffer pairs (undici's own, from the origin): a consumer
 * that reads raw headers (Node's bundled fetch) gets them as they are, instead
 * of pairs rebuilt from the header object, a Buffer per name and value.
 */
export function announcedRaw(controller: { rawHeaders?: unknown }): (() => Buffer[]) | undefined {
  const raw = controller.rawHeaders;
  return Array.isArray(raw) ? () => raw as Buffer[] : undefined;
}

/** A copy of `headers` with our member appended to Cache-Status. */
export function withCacheStatus(headers: ResponseHeaders, member: string): ResponseHeaders {
  return appendCacheStatus(copyFields(headers), member);
}

/** `headers` themselves with our member appended to Cache-Status: only for a map that is the caller's own and that nothing else keeps. */
function appendCacheStatus(headers: ResponseHeaders, member: string): ResponseHeaders {
  const previous = headers['cache-status'];
  headers['cache-status'] = previous === undefined ? member : `${Array.isArray(previous) ? previous.join(', ') : previous}, ${member}`;
  return headers;
}
