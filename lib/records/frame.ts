/**
 * The frame every stored value of cachette's own is written in: the packed
 * bytes, then their CRC-32, big-endian. Any flipped byte — and any burst of
 * up to 32 bits — changes it, so storage corruption reads as nothing, never
 * as a wrong value. The record codec (codec.ts) and UndiciCacheStore's
 * format both frame their bytes with it; each keeps its own magic number and
 * version inside.
 */
const { crc32 } = process.getBuiltinModule('node:zlib'); // not an import (a cold start: scripts/bundle.mjs)

/** The CRC-32 after the packed bytes. */
const CHECKSUM_BYTES = 4;

/** `packed` (which the caller may reuse afterwards) copied into a buffer of its own, exactly sized, with its checksum after it. */
export function frame(packed: Uint8Array): Uint8Array {
  const owned = Buffer.allocUnsafeSlow(packed.byteLength + CHECKSUM_BYTES);
  owned.set(packed);
  owned.writeUInt32BE(crc32(packed), packed.byteLength);
  return owned;
}

/** The packed bytes of a frame whose checksum matches; undefined for anything else. */
export function unframe(bytes: unknown): Uint8Array | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength <= CHECKSUM_BYTES) return undefined;
  const end = bytes.byteLength - CHECKSUM_BYTES;
  const packed = bytes.subarray(0, end);
  const stored = (bytes[end] as number) * 0x1000000 + (((bytes[end + 1] as number) << 16) | ((bytes[end + 2] as number) << 8) | (bytes[end + 3] as number));
  return crc32(packed) === stored ? packed : undefined;
}
