/**
 * HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), the archive
 * browsers' developer tools, Polly.js, mitmproxy and Playwright write.
 *
 * Export: one entry per stored response (chronological), with what HAR has
 * fields for, and what it has none for (the key, the lifetime, tags…) in an
 * `_cachette` member of the entry, as HAR allows custom fields: a HAR that
 * cachette wrote imports back as the same records, byte for byte; the Vary
 * indexes and redirect records are in `log._cachette.records`.
 *
 * Import of a HAR written by anything else: each entry becomes a response
 * stored under the key the importing cache gives its request (method, URL,
 * request headers and body, with the cache's options), kept as a recording
 * keeps it (for ever, when the cache records) or stale (revalidated on first
 * use, kept a day) when it does not. A HAR is someone's file: fields that
 * cannot be stored are dropped (pseudo-headers, hop-by-hop fields,
 * Set-Cookie, a Content-Length, a Content-Encoding that its text is not
 * encoded with: browsers save bodies decoded), and an entry that cannot be a
 * stored response (a 1xx, 206, 304, a HEAD, a body not captured) is skipped.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { jsonDocument } from '../printable.js';
import { encodeRecord } from './codec.js';
import type { StoredRecord, StoredResponse } from './model.js';
import { bodyText, recordOfLine } from './text-form.js';
import type { Dumped, SkippedLine } from './transfer.js';

/** What a foreign entry's request is stored under, as the importing cache keys it; undefined when it cannot be (not a URL it caches). */
export type HarKeyOf = (request: {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
}) => { key: string; url: string } | undefined;

export interface HarImport {
  keyOf: HarKeyOf;
  /** The lifetime (ms) and expiry (epoch ms, null: never) of a foreign entry received at `responseTime`. */
  keep: (responseTime: number) => { lifetime: number; expiresAt: number | null };
  /** Response fields never stored (lower case). */
  dropped: ReadonlySet<string>;
}

interface HarHeader {
  name: string;
  value: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The records as a HAR 1.2 document, entries in the order their requests were made. */
export async function writeHar(
  records: AsyncIterable<Dumped | SkippedLine>,
  decode: (bytes: Uint8Array) => StoredRecord | undefined,
  write: (text: string) => Promise<void>,
  version: string,
): Promise<{ records: number; skipped: number }> {
  const entries: Array<{ at: number; url: string; entry: unknown }> = [];
  const others: unknown[] = [];
  let skipped = 0;
  for await (const item of records) {
    const record = 'skipped' in item ? undefined : decode(item.bytes);
    if (record === undefined || 'skipped' in item) {
      skipped += 1;
      continue;
    }
    if (record.kind === 'response') entries.push({ at: record.requestTime, url: record.url, entry: entryOf(item, record) });
    else others.push({ partition: item.partition, key: item.key, expires: record.expiresAt === null ? null : iso(record.expiresAt), ...record });
  }
  entries.sort((a, b) => a.at - b.at || (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
  const log = {
    version: '1.2',
    creator: { name: 'cachette', version },
    entries: entries.map(({ entry }) => entry),
    _cachette: { records: others },
  };
  await write(`${jsonDocument({ log })}\n`);
  return { records: entries.length + others.length, skipped };
}

function entryOf(item: Dumped, record: StoredResponse): unknown {
  const headers: HarHeader[] = [];
  let mimeType = 'x-unknown';
  let location = '';
  for (let i = 0; i < record.headers.length; i += 2) {
    const name = record.headers[i] as string;
    const value = record.headers[i + 1] as string;
    headers.push({ name, value });
    if (name === 'content-type') mimeType = value;
    if (name === 'location') location = value;
  }
  const requestHeaders: HarHeader[] = [];
  for (let i = 0; record.vary !== null && i < record.vary.length; i += 2) {
    const value = record.vary[i + 1];
    if (value !== null && value !== undefined) requestHeaders.push({ name: record.vary[i] as string, value });
  }
  const text = bodyText(record.body, record.headers);
  const time = Math.max(0, record.responseTime - record.requestTime);
  let queryString: HarHeader[] = [];
  try {
    queryString = [...new URL(record.url).searchParams].map(([name, value]) => ({ name, value }));
  } catch {
    // a stored URL is absolute: nothing to list otherwise
  }
  return {
    startedDateTime: iso(record.requestTime),
    time,
    request: {
      method: record.method,
      url: record.url,
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: requestHeaders,
      queryString,
      headersSize: -1,
      bodySize: -1,
    },
    response: {
      status: record.status,
      statusText: record.statusText,
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers,
      content: {
        size: record.body.byteLength,
        mimeType,
        ...(text === undefined ? { text: Buffer.from(record.body).toString('base64'), encoding: 'base64' } : { text }),
      },
      redirectURL: location,
      headersSize: -1,
      bodySize: record.body.byteLength,
    },
    cache: {},
    timings: { send: 0, wait: time, receive: 0 },
    _cachette: {
      partition: item.partition,
      key: item.key,
      expires: record.expiresAt === null ? null : iso(record.expiresAt),
      ...(record.key === item.key ? {} : { answers: record.key }),
      responseTime: iso(record.responseTime),
      initialAge: record.initialAge,
      lifetime: Number.isFinite(record.lifetime) ? record.lifetime : null,
      flags: record.flags,
      staleWhileRevalidate: record.staleWhileRevalidate,
      staleIfError: record.staleIfError,
      hiddenFields: record.hiddenFields,
      vary: record.vary,
      redirect: record.redirect,
      tags: record.tags,
    },
  };
}

/** Whether a parsed JSON document is a HAR (a `log` with `entries`). */
export function isHar(document: unknown): document is { log: { entries: unknown[]; _cachette?: { records?: unknown } } } {
  const log = (document as { log?: { entries?: unknown } } | null)?.log;
  return log !== null && typeof log === 'object' && Array.isArray(log.entries);
}

/** The records of a HAR document, entry by entry (see the module's comment). */
export function* readHar(document: { log: { entries: unknown[]; _cachette?: { records?: unknown } } }, importing: HarImport): Iterable<Dumped | SkippedLine> {
  for (const entry of document.log.entries) yield entryRecord(entry, importing);
  const others = document.log._cachette?.records;
  if (Array.isArray(others)) for (const other of others) yield recordOfLine(other);
}

function entryRecord(value: unknown, importing: HarImport): Dumped | SkippedLine {
  if (value === null || typeof value !== 'object') return { skipped: 'unreadable' };
  const entry = value as {
    startedDateTime?: unknown;
    time?: unknown;
    request?: Record<string, unknown>;
    response?: Record<string, unknown>;
    _cachette?: unknown;
  };
  const request = entry.request;
  const response = entry.response;
  const started = typeof entry.startedDateTime === 'string' ? Date.parse(entry.startedDateTime) : Number.NaN;
  if (request === null || typeof request !== 'object' || response === null || typeof response !== 'object' || !Number.isFinite(started)) {
    return { skipped: 'unreadable' };
  }
  const time = typeof entry.time === 'number' && Number.isFinite(entry.time) && entry.time >= 0 ? Math.round(entry.time) : 0;
  const body = contentBytes(response['content']);
  if (body === undefined) return { skipped: 'unreadable' };
  const pairs = headerPairs(response['headers']);

  // cachette's own entry: every field is there.
  const own = entry._cachette;
  if (own !== null && typeof own === 'object') {
    const text = bodyText(body, pairs.flat());
    return recordOfLine({
      ...(own as Record<string, unknown>),
      kind: 'response',
      method: request['method'],
      url: request['url'],
      status: response['status'],
      statusText: response['statusText'],
      headers: pairs,
      ...(text === undefined ? { bodyBase64: Buffer.from(body).toString('base64') } : { body: text }),
      requestTime: iso(started),
    });
  }

  const method = typeof request['method'] === 'string' ? request['method'].toUpperCase() : '';
  const status = response['status'];
  if (
    method === '' ||
    method === 'HEAD' ||
    typeof status !== 'number' ||
    !Number.isInteger(status) ||
    status < 200 ||
    status > 599 ||
    status === 206 ||
    status === 304
  ) {
    return { skipped: 'unreadable' };
  }
  if (typeof request['url'] !== 'string') return { skipped: 'unreadable' };
  const requestHeaders: Record<string, string> = {};
  for (const [name, value] of headerPairs(request['headers'])) requestHeaders[name] = name in requestHeaders ? `${requestHeaders[name]}, ${value}` : value;
  const postData = request['postData'] as { text?: unknown } | undefined;
  const requestBody = typeof postData?.text === 'string' ? new Uint8Array(Buffer.from(postData.text, 'utf8')) : undefined;
  const keyed = importing.keyOf({ method, url: request['url'], headers: requestHeaders, body: method === 'GET' ? undefined : requestBody });
  if (keyed === undefined) return { skipped: 'unreadable' };

  const encoding = pairs.find(([name]) => name === 'content-encoding')?.[1];
  const encoded = encoding !== undefined && isEncodedWith(body, encoding);
  const headers: string[] = [];
  for (const [name, value] of pairs) {
    if (importing.dropped.has(name) || name === 'content-length' || (name === 'content-encoding' && !encoded)) continue;
    headers.push(name, value);
  }
  const responseTime = started + time;
  const { lifetime, expiresAt } = importing.keep(responseTime);
  const record: StoredResponse = {
    kind: 'response',
    expiresAt,
    status,
    statusText: typeof response['statusText'] === 'string' ? response['statusText'] : '',
    headers,
    body,
    method,
    url: keyed.url,
    key: keyed.key,
    redirect: null,
    vary: null,
    requestTime: started,
    responseTime,
    initialAge: 0,
    lifetime,
    flags: 0,
    staleWhileRevalidate: -1,
    staleIfError: -1,
    hiddenFields: null,
    tags: [],
  };
  return recordOfResponse(keyed.key, record);
}

function recordOfResponse(key: string, record: StoredResponse): Dumped | SkippedLine {
  try {
    return { partition: 'responses', key, expiresAt: record.expiresAt, bytes: encodeRecord(record) };
  } catch {
    return { skipped: 'unreadable' };
  }
}

/** A HAR's header list as lower-case [name, value] pairs, without HTTP/2 pseudo-headers and what is not a field. */
function headerPairs(value: unknown): Array<[string, string]> {
  if (!Array.isArray(value)) return [];
  const pairs: Array<[string, string]> = [];
  for (const header of value) {
    const { name, value: text } = (header ?? {}) as { name?: unknown; value?: unknown };
    if (typeof name !== 'string' || typeof text !== 'string' || !FIELD_NAME.test(name) || !FIELD_VALUE.test(text)) continue;
    pairs.push([name.toLowerCase(), text]);
  }
  return pairs;
}

const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The bytes of a HAR `content`: its text, base64 when `encoding` says so —
 * Polly.js saves an encoded body as a JSON array of base64 chunks — and empty
 * when the response had none; undefined when a body was not captured.
 */
function contentBytes(value: unknown): Uint8Array | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const content = value as { text?: unknown; encoding?: unknown; size?: unknown };
  if (typeof content.text !== 'string') return content.size === 0 ? new Uint8Array(0) : undefined;
  if (content.encoding !== 'base64') return new Uint8Array(Buffer.from(content.text, 'utf8'));
  if (content.text.startsWith('[')) {
    try {
      const chunks: unknown = JSON.parse(content.text);
      if (Array.isArray(chunks) && chunks.every((chunk) => typeof chunk === 'string')) {
        return new Uint8Array(Buffer.concat(chunks.map((chunk: string) => Buffer.from(chunk, 'base64'))));
      }
    } catch {
      // not chunks: plain base64 below
    }
  }
  return new Uint8Array(Buffer.from(content.text, 'base64'));
}

/** Whether the bytes are encoded with `coding` (they decode under it): a HAR of a browser's holds bodies decoded, under the field that said how they came. */
function isEncodedWith(body: Uint8Array, coding: string): boolean {
  const decode = { gzip: gunzipSync, 'x-gzip': gunzipSync, deflate: inflateSync, br: brotliDecompressSync }[coding.trim().toLowerCase()];
  if (decode === undefined) return false;
  try {
    decode(body, { maxOutputLength: MAX_DECODED_CHECK });
    return true;
  } catch (error) {
    // Past the bound it was decoding fine (a bomb is not decoded whole to find out).
    return (error as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE';
  }
}

/** How much of a body is decoded to learn whether it is encoded. */
const MAX_DECODED_CHECK = 16 * 1024 * 1024;
