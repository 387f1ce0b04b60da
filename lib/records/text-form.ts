/**
 * A cache's records as text a team commits and reviews (`export(out, {
 * format: 'text' })`): JSON Lines, a header, then one record per line with
 * its fields spelled out — header fields as [name, value] pairs, times as
 * ISO dates, a body as text when it is UTF-8 (base64 otherwise) — sorted by
 * URL, then method, then key, so that recording the same traffic again
 * changes only the lines of what changed. It holds every field of a record:
 * importing it gives back the same records, byte for byte.
 *
 * Sorting needs every record at once: a text export holds the records of the
 * cache in memory (recordings are small; `format: 'cachette'` streams).
 */
import { jsonLine } from '../printable.js';
import { encodeRecord } from './codec.js';
import type { StoredRecord, StoredResponse } from './model.js';
import type { Dumped, SkippedLine } from './transfer.js';

export const TEXT_KIND = 'cachette-recording';
export const TEXT_VERSION = 1;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The body as text when its bytes are UTF-8 that nothing encodes (text round-trips to the same bytes); undefined otherwise. */
export function bodyText(body: Uint8Array, headers: readonly string[]): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'content-encoding' && headers[i + 1] !== 'identity') return undefined;
  try {
    return utf8.decode(body);
  } catch {
    return undefined;
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** One record as the object a line holds (fields in a fixed order: diffs stay line-sized). */
function lineOf(item: Dumped, record: StoredRecord): Record<string, unknown> {
  const head = { partition: item.partition, key: item.key, expires: record.expiresAt === null ? null : iso(record.expiresAt), kind: record.kind };
  if (record.kind === 'variants') return { ...head, names: record.names, generation: record.generation, keys: record.keys };
  if (record.kind === 'aliases') return { ...head, keys: record.keys };
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < record.headers.length; i += 2) pairs.push([record.headers[i] as string, record.headers[i + 1] as string]);
  const text = bodyText(record.body, record.headers);
  return {
    ...head,
    method: record.method,
    url: record.url,
    // A variant answers the key of its URL's Vary index: said only when it is not the key it is stored under.
    ...(record.key === item.key ? {} : { answers: record.key }),
    status: record.status,
    statusText: record.statusText,
    headers: pairs,
    ...(text === undefined ? { bodyBase64: Buffer.from(record.body).toString('base64') } : { body: text }),
    requestTime: iso(record.requestTime),
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
  };
}

/** Writes the records as the text form, sorted; returns how many were written and how many left out. */
export async function writeTextForm(
  records: AsyncIterable<Dumped | SkippedLine>,
  decode: (bytes: Uint8Array) => StoredRecord | undefined,
  write: (text: string) => Promise<void>,
  namespace: string | undefined,
): Promise<{ records: number; skipped: number }> {
  const lines: Array<{ order: string[]; line: Record<string, unknown> }> = [];
  let skipped = 0;
  for await (const item of records) {
    const record = 'skipped' in item ? undefined : decode(item.bytes);
    if (record === undefined || 'skipped' in item) {
      skipped += 1;
      continue;
    }
    const url = record.kind === 'response' ? record.url : '';
    const method = record.kind === 'response' ? record.method : '';
    lines.push({ order: [item.partition, url, method, item.key], line: lineOf(item, record) });
  }
  lines.sort((a, b) => compareParts(a.order, b.order));
  await write(`${jsonLine({ kind: TEXT_KIND, version: TEXT_VERSION, namespace: namespace ?? null })}\n`);
  for (const { line } of lines) await write(`${jsonLine(line)}\n`);
  return { records: lines.length, skipped };
}

function compareParts(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * A line of the text form back as a record's bytes (checked as every
 * imported record is, when it is loaded); a SkippedLine for one that cannot
 * be a record.
 */
export function recordOfLine(item: unknown): Dumped | SkippedLine {
  if (item === null || typeof item !== 'object') return { skipped: 'unreadable' };
  const line = item as Record<string, unknown>;
  const partition = line['partition'];
  const key = line['key'];
  const expires = line['expires'] === null ? null : dateOf(line['expires']);
  if ((partition !== 'responses' && partition !== 'redirects') || typeof key !== 'string' || expires === undefined) return { skipped: 'unreadable' };
  let record: StoredRecord;
  try {
    record = recordOf(line, expires);
  } catch {
    return { skipped: 'unreadable' };
  }
  let bytes: Uint8Array;
  try {
    bytes = encodeRecord(record);
  } catch {
    return { skipped: 'unreadable' };
  }
  return { partition, key, expiresAt: expires, bytes };
}

function recordOf(line: Record<string, unknown>, expiresAt: number | null): StoredRecord {
  const kind = line['kind'];
  if (kind === 'variants') {
    return { kind, expiresAt, names: line['names'] as string[], generation: line['generation'] as string, keys: line['keys'] as string[] };
  }
  if (kind === 'aliases') return { kind, expiresAt, keys: line['keys'] as string[] };
  if (kind !== 'response') throw new TypeError('not a record');
  const pairs = line['headers'];
  if (!Array.isArray(pairs)) throw new TypeError('no headers');
  const headers: string[] = [];
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError('not a field');
    headers.push(pair[0] as string, pair[1] as string);
  }
  const body =
    typeof line['body'] === 'string'
      ? new Uint8Array(Buffer.from(line['body'], 'utf8'))
      : typeof line['bodyBase64'] === 'string'
        ? new Uint8Array(Buffer.from(line['bodyBase64'], 'base64'))
        : undefined;
  const requestTime = dateOf(line['requestTime']);
  const responseTime = dateOf(line['responseTime']);
  if (body === undefined || requestTime === undefined || responseTime === undefined) throw new TypeError('not a response');
  const response: StoredResponse = {
    kind,
    expiresAt,
    status: line['status'] as number,
    statusText: line['statusText'] as string,
    headers,
    body,
    method: line['method'] as string,
    url: line['url'] as string,
    key: (line['answers'] ?? line['key']) as string,
    redirect: line['redirect'] as string | null,
    vary: line['vary'] as Array<string | null> | null,
    requestTime,
    responseTime,
    initialAge: line['initialAge'] as number,
    lifetime: line['lifetime'] === null ? Number.POSITIVE_INFINITY : (line['lifetime'] as number),
    flags: line['flags'] as number,
    staleWhileRevalidate: line['staleWhileRevalidate'] as number,
    staleIfError: line['staleIfError'] as number,
    hiddenFields: line['hiddenFields'] as string[] | null,
    tags: line['tags'] as string[],
  };
  return response;
}

/** Epoch ms of an ISO date; undefined for anything else. */
function dateOf(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}
