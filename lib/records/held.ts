/**
 * A record handed to a storage that keeps values in this process (see
 * `HoldingPartition`): kept as it is, so storing it costs no encoding and
 * reading it back no decoding. Its bytes are made only if a reader other
 * than the record layer asks (a listing, an export, a memory tier).
 */
import type { HeldValue } from '../storage/contract.js';
import { encodeRecord } from './codec.js';
import type { StoredRecord } from './model.js';

/** A rough cost of a record's fields and their object besides its strings and body. */
const RECORD_OVERHEAD_BYTES = 160;

export class HeldRecord implements HeldValue {
  readonly record: StoredRecord;
  readonly byteLength: number;

  constructor(record: StoredRecord) {
    this.record = record;
    this.byteLength = sizeOf(record);
  }

  encode(): Uint8Array {
    return encodeRecord(this.record);
  }
}

/** About what the record takes in memory: its body, and two bytes per character of its strings. */
function sizeOf(record: StoredRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES;
  const strings = (list: ReadonlyArray<string | null> | null): void => {
    if (list !== null) for (const item of list) bytes += item === null ? 8 : 2 * item.length;
  };
  if (record.kind === 'response') {
    bytes += record.body.byteLength + 2 * (record.url.length + record.statusText.length + record.method.length);
    strings(record.headers);
    strings(record.vary);
    strings(record.hiddenFields);
    strings(record.tags);
  } else {
    strings(record.keys);
    if (record.kind === 'variants') strings(record.names);
  }
  return bytes;
}
