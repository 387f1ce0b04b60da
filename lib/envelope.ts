/**
 * The envelope of a compressed record (records/compression.ts): 0xC1 — a
 * byte msgpack never uses, so no record's frame starts with it — then the
 * codec's number. Here, below both the record layer and the storages, so
 * that a storage with compression of its own (DynamoDB's) can leave a
 * record the cache compressed already alone.
 */
export const ENVELOPE = 0xc1;

/** Codec numbers, as the envelope's second byte holds them. */
export const CODEC_IDS = { deflate: 1, brotli: 2, zstd: 3 } as const;

/** Whether the bytes are a compressed record's envelope. */
export function isCompressedRecord(bytes: Uint8Array): boolean {
  const id = bytes[1];
  return bytes[0] === ENVELOPE && (id === CODEC_IDS.deflate || id === CODEC_IDS.brotli || id === CODEC_IDS.zstd);
}
