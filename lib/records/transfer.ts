/**
 * Moving a cache: its records as a stream of self-describing lines (JSON
 * Lines: a header, then one record per line with its partition, key, expiry
 * and bytes in base64), read back record by record. The bytes are the
 * records' own (checksummed), so an import checks each one as a lookup would.
 */

import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
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
export async function writeExport(records: AsyncIterable<Dumped>, out: Writable, namespace: string | undefined): Promise<number> {
  const header = { kind: KIND, version: VERSION, recordFormat: FORMAT_VERSION, namespace: namespace ?? null, exportedAt: new Date().toISOString() };
  await write(out, `${JSON.stringify(header)}\n`);
  let count = 0;
  for await (const record of records) {
    const line = { p: record.partition, k: record.key, e: record.expiresAt, v: Buffer.from(record.bytes).toString('base64') };
    await write(out, `${JSON.stringify(line)}\n`);
    count += 1;
  }
  return count;
}

/** The records of an export, line by line; a TypeError says what is wrong with a file that is not one. */
export async function* readExport(input: Readable): AsyncIterable<Dumped> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  for await (const line of lines) {
    number += 1;
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

/** Writes, waiting for `drain` when the stream is full (an error on the stream rejects). */
async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}
