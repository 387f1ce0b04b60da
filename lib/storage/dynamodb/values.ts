/**
 * Values on the way to and from items: deflate-compressed above a threshold
 * (when it saves space), and split into chunks when still larger than one
 * item may hold.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { isCompressedRecord } from '../../envelope.js';

const deflate = promisify(zlib.deflateRaw);
const inflate = promisify(zlib.inflateRaw);

/**
 * DynamoDB caps an item at 400 KB (409,600 bytes), attribute names and
 * values included. A chunk carries this much of the value, leaving room for
 * the keys (up to 2,048 + 1,024 bytes) and the other attributes.
 */
export const CHUNK_BYTES = 390_000;

export interface PackedValue {
  bytes: Uint8Array;
  compressed: boolean;
}

export async function pack(value: Uint8Array, threshold: number): Promise<PackedValue> {
  // A record the cache compressed already (an envelope: lib/envelope.ts) is not deflated twice.
  if (value.byteLength < threshold || isCompressedRecord(value)) return { bytes: value, compressed: false };
  const compressed = await deflate(value, { level: 6 });
  // Already-compressed bodies (gzip, images) do not shrink: keep them as they are.
  if (compressed.byteLength > value.byteLength * 0.9) return { bytes: value, compressed: false };
  return { bytes: compressed, compressed: true };
}

export async function unpack(bytes: Uint8Array, compressed: boolean): Promise<Uint8Array> {
  return compressed ? inflate(bytes) : bytes;
}

export function split(bytes: Uint8Array, size = CHUNK_BYTES): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += size) chunks.push(bytes.subarray(offset, offset + size));
  return chunks;
}

export function checksum(bytes: Uint8Array): number {
  return zlib.crc32(bytes);
}
