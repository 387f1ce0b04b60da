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

/**
 * Keys whose last bytes read are kept, least recently read out first, and the
 * bytes they may hold together. A working set larger than the entries misses
 * every time (a hundred URLs read in turn through 64 entries kept none): it
 * is sized for the hot keys of a process, bounded by bytes as well.
 */
const RECENT_ENTRIES = 2048;
const RECENT_TOTAL_BYTES = 8 * 1024 * 1024;
/** Larger records are decoded each time (their decoding is cheap next to reading them). */
const RECENT_MAX_BYTES = 64 * 1024;

interface Recent {
  bytes: Uint8Array;
  record: StoredRecord;
}

export class DecodedRecords {
  readonly #bySameBytes = new WeakMap<Uint8Array, StoredRecord>();
  readonly #recent = new Map<string, Recent>();
  #recentBytes = 0;

  /** The record these bytes (read under `key`) decode to; undefined when they are not a record. */
  decode(key: string, bytes: Uint8Array): StoredRecord | undefined {
    const known = this.#bySameBytes.get(bytes);
    if (known !== undefined) return known;
    const last = this.#recent.get(key);
    if (last !== undefined && Buffer.from(last.bytes.buffer, last.bytes.byteOffset, last.bytes.byteLength).equals(bytes)) {
      // Read again: the last to go.
      this.#recent.delete(key);
      this.#recent.set(key, last);
      return last.record;
    }
    if (bytes.byteLength > RECENT_MAX_BYTES) return this.#remember(bytes, decodeRecord(bytes));
    // Kept bytes are a copy of their own when they are a view of something larger (a socket's read, a response
    // of many items): the memo holds what it counts, and the record decoded from them refers to nothing else.
    const own = bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
    const record = this.#remember(bytes, decodeRecord(own));
    if (record === undefined) return undefined;
    if (last !== undefined) this.#forget(key, last);
    this.#recent.set(key, { bytes: own, record });
    this.#recentBytes += own.byteLength;
    while (this.#recent.size > RECENT_ENTRIES || this.#recentBytes > RECENT_TOTAL_BYTES) {
      const [oldest, entry] = this.#recent.entries().next().value as [string, Recent];
      this.#forget(oldest, entry);
    }
    return record;
  }

  #remember(bytes: Uint8Array, record: StoredRecord | undefined): StoredRecord | undefined {
    if (record !== undefined) this.#bySameBytes.set(bytes, record);
    return record;
  }

  #forget(key: string, entry: Recent): void {
    this.#recent.delete(key);
    this.#recentBytes -= entry.bytes.byteLength;
  }
}
