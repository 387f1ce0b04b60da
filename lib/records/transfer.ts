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
 * The records of an export, line by line; a TypeError says what is wrong
 * with a file that is not one. Lines past `maxLine` characters come as SkippedLine.
 */
export async function* readExport(input: Readable, maxLine = Number.POSITIVE_INFINITY): AsyncIterable<Dumped | SkippedLine> {
  let number = 0;
  for await (const line of boundedLines(input, maxLine)) {
    number += 1;
    if (line === undefined) {
      if (number === 1) throw new TypeError('not a cachette export (its first line is too long to be one)');
      yield { skipped: 'too-large' };
      continue;
    }
    if (number === 1) {
      const header = parse(line, number) as { kind?: unknown; version?: unknown; recordFormat?: unknown };
      if (header?.kind !== KIND) throw new TypeError('not a cachette export (its first line names no cachette-export)');
      if (header.version !== VERSION)
        throw new TypeError(`cachette export version ${String(header.version)} is not supported (this cachette reads ${VERSION})`);
      continue;
    }
    if (line.trim() === '') continue;
    const item = parse(line, number) as { p?: unknown; k?: unknown; e?: unknown; v?: unknown };
    const partition = item?.p;
    if (
      (partition !== 'responses' && partition !== 'redirects') ||
      typeof item.k !== 'string' ||
      !(item.e === null || (typeof item.e === 'number' && Number.isFinite(item.e))) ||
      typeof item.v !== 'string'
    ) {
      throw new TypeError(`line ${number} of the export is not a record`);
    }
    yield { partition, key: item.k, expiresAt: item.e, bytes: Buffer.from(item.v, 'base64') };
  }
  if (number === 0) throw new TypeError('not a cachette export (the file is empty)');
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
async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}
