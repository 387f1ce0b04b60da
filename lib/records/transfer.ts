/**
 * Moving a cache: its records as a stream of self-describing lines (JSON
 * Lines: a header, then one record per line with its partition, key, expiry
 * and bytes in base64), read back record by record. The bytes are the
 * records' own (checksummed), so an import checks each one as a lookup would.
 *
 * An export file is trusted as a writer of the storage is (docs/security.md):
 * what it can do is bounded — a line longer than any record the importing
 * cache would keep is skipped without being held in memory, a record past
 * its `maxEntrySize` is skipped, and a record filed under another request's
 * key is never served for it (the lookup checks whom a record answers).
 */

import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { jsonLine } from '../printable.js';
import { FORMAT_VERSION } from './codec.js';
import { type HarImport, isHar, readHar } from './har.js';
import { recordOfLine, TEXT_KIND, TEXT_VERSION } from './text-form.js';

/** One record on its way from a storage to another. */
export interface Dumped {
  partition: 'responses' | 'redirects';
  key: string;
  /** Epoch ms after which it is of no use; null: never. */
  expiresAt: number | null;
  bytes: Uint8Array;
}

const KIND = 'cachette-export';
const VERSION = 1;

/** Writes the records to `out` as they come (waiting when it is full); returns how many. */
export async function writeExport(
  records: AsyncIterable<Dumped | SkippedLine>,
  out: Writable,
  namespace: string | undefined,
  now: number,
): Promise<{ records: number; skipped: number }> {
  const header = { kind: KIND, version: VERSION, recordFormat: FORMAT_VERSION, namespace: namespace ?? null, exportedAt: new Date(now).toISOString() };
  await write(out, `${jsonLine(header)}\n`);
  let count = 0;
  let skipped = 0;
  for await (const record of records) {
    if ('skipped' in record) {
      skipped += 1;
      continue;
    }
    const line = { p: record.partition, k: record.key, e: record.expiresAt, v: Buffer.from(record.bytes).toString('base64') };
    // A key is whatever a writer of the storage made it: written so that a terminal the export goes to shows it, never obeys it.
    await write(out, `${jsonLine(line)}\n`);
    count += 1;
  }
  return { records: count, skipped };
}

/** A line of an export too long for any record the importing cache keeps: skipped, never held whole. */
/** A record left out of a transfer, and why. */
export interface SkippedLine {
  skipped: 'too-large' | 'expired' | 'unreadable';
}

/** The longest line worth reading for records of at most `maxRecordBytes` (base64, and the JSON around it). */
export function maxLineLength(maxRecordBytes: number): number {
  return Math.ceil(Math.min(maxRecordBytes, 2 ** 40) / 3) * 4 + 64 * 1024;
}

/**
 * The records of an export (cachette's own, or its text form), line by line,
 * or of a HAR document (`har` says how the importing cache keys and keeps a
 * foreign entry); a TypeError says what is wrong with a file that is none of
 * them. Lines past `maxLine` characters come as SkippedLine.
 */
export async function* readExport(input: Readable, maxLine = Number.POSITIVE_INFINITY, har?: HarImport): AsyncIterable<Dumped | SkippedLine> {
  const lines = boundedLines(input, maxLine)[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done === true) throw new TypeError('not a cachette export (the file is empty)');
  if (first.value === undefined) throw new TypeError('not a cachette export (its first line is too long to be one)');
  const header = parseOrUndefined(first.value) as { kind?: unknown; version?: unknown } | undefined;
  if (header?.kind === KIND || header?.kind === TEXT_KIND) {
    const text = header.kind === TEXT_KIND;
    const version = text ? TEXT_VERSION : VERSION;
    if (header.version !== version) {
      throw new TypeError(
        `${text ? 'cachette text recording' : 'cachette export'} version ${String(header.version)} is not supported (this cachette reads ${version})`,
      );
    }
    let number = 1;
    for (let next = await lines.next(); next.done !== true; next = await lines.next()) {
      number += 1;
      const line = next.value;
      if (line === undefined) {
        yield { skipped: 'too-large' };
        continue;
      }
      if (line.trim() === '') continue;
      yield text ? recordOfLine(parse(line, number)) : binaryRecord(parse(line, number), number);
    }
    return;
  }
  // One JSON document over many lines: a HAR?
  const parts = [first.value];
  let size = first.value.length;
  for (let next = await lines.next(); next.done !== true; next = await lines.next()) {
    if (next.value !== undefined) size += next.value.length + 1;
    if (next.value === undefined || size > MAX_DOCUMENT) {
      throw new TypeError('not a cachette export (a document of more than 512 MiB, or with a line too long to be one)');
    }
    parts.push(next.value);
  }
  let document: unknown;
  try {
    document = JSON.parse(parts.join('\n'));
  } catch {
    throw new TypeError(
      header === undefined ? 'line 1 of the export is not JSON: not a cachette export?' : 'not a cachette export (its first line names no cachette-export)',
    );
  }
  if (har === undefined || !isHar(document)) {
    throw new TypeError('not a cachette export (its first line names no cachette-export), nor a HAR (no log.entries)');
  }
  yield* readHar(document, har);
}

/** The most a HAR may hold, read whole (V8's longest string is about 512 MiB). */
const MAX_DOCUMENT = 512 * 1024 * 1024 - 1024;

/** A line of cachette's own export: a record's bytes in base64. */
function binaryRecord(value: unknown, number: number): Dumped {
  const item = value as { p?: unknown; k?: unknown; e?: unknown; v?: unknown } | null;
  const partition = item?.p;
  if (
    item === null ||
    (partition !== 'responses' && partition !== 'redirects') ||
    typeof item.k !== 'string' ||
    !(item.e === null || (typeof item.e === 'number' && Number.isFinite(item.e))) ||
    typeof item.v !== 'string'
  ) {
    throw new TypeError(`line ${number} of the export is not a record`);
  }
  return { partition, key: item.k, expiresAt: item.e, bytes: Buffer.from(item.v, 'base64') };
}

function parseOrUndefined(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function parse(line: string, number: number): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new TypeError(`line ${number} of the export is not JSON: not a cachette export?`);
  }
}

/**
 * The lines of a stream (LF or CRLF), as text; undefined for a line longer
 * than `max`, whose bytes are dropped as they come (a file of one endless
 * line costs no more memory than `max`).
 */
async function* boundedLines(input: Readable, max: number): AsyncIterable<string | undefined> {
  let parts: Buffer[] = [];
  let length = 0;
  let overlong = false;
  const end = (): string | undefined => {
    const line = overlong ? undefined : Buffer.concat(parts, length).toString('utf8').replace(/\r$/, '');
    parts = [];
    length = 0;
    overlong = false;
    return line;
  };
  for await (const chunk of input) {
    let data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    for (let newline = data.indexOf(10); newline !== -1; newline = data.indexOf(10)) {
      if (!overlong) {
        parts.push(data.subarray(0, newline));
        length += newline;
        overlong = length > max;
      }
      yield end();
      data = data.subarray(newline + 1);
    }
    if (overlong || data.length === 0) continue;
    if (length + data.length > max) {
      overlong = true;
      parts = [];
      continue;
    }
    parts.push(Buffer.from(data));
    length += data.length;
  }
  if (overlong || length > 0) yield end();
}

/** Writes, waiting for `drain` when the stream is full (an error on the stream rejects). */
export async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}
