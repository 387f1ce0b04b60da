/**
 * Decoded records, remembered (one per cache): decoding and checking a record
 * is most of what a hit costs otherwise.
 *
 * - A storage that keeps bytes in memory (a memory tier; MemoryStorage once a
 *   listing made a held record's bytes, see held.ts) hands back the same
 *   bytes on every hit: the record they decoded to is kept with them, for as
 *   long as they live.
 * - A storage that reads from disk or the network (SQLite, DynamoDB) hands
 *   back new bytes on every hit: for small records read again and again,
 *   comparing the bytes with the last ones read under that key (a memcmp) is
 *   cheaper than decoding them (and checking their CRC) anew.
 */
import { decodeRecord } from './codec.js';
import type { StoredRecord } from './model.js';

/** Keys whose last bytes read are kept, and the largest bytes kept: 64 × 64 KB at most. */
const RECENT_ENTRIES = 64;
const RECENT_MAX_BYTES = 64 * 1024;

export class DecodedRecords {
  readonly #bySameBytes = new WeakMap<Uint8Array, StoredRecord>();
  readonly #recent = new Map<string, { bytes: Uint8Array; record: StoredRecord }>();

  /** The record these bytes (read under `key`) decode to; undefined when they are not a record. */
  decode(key: string, bytes: Uint8Array): StoredRecord | undefined {
    const known = this.#bySameBytes.get(bytes);
    if (known !== undefined) return known;
    const last = this.#recent.get(key);
    if (last !== undefined && Buffer.from(last.bytes.buffer, last.bytes.byteOffset, last.bytes.byteLength).equals(bytes)) return last.record;
    const record = decodeRecord(bytes);
    if (record === undefined) return undefined;
    this.#bySameBytes.set(bytes, record);
    if (bytes.byteLength <= RECENT_MAX_BYTES) {
      if (this.#recent.size >= RECENT_ENTRIES && !this.#recent.has(key)) this.#recent.delete(this.#recent.keys().next().value as string);
      this.#recent.set(key, { bytes, record });
    }
    return record;
  }
}
