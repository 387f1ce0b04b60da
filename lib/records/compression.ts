/**
 * Compressed records, for every storage that keeps bytes (SQLite, Redis,
 * DynamoDB: one implementation, in the record layer). A record's framed
 * bytes at least `threshold` long are compressed with the chosen codec, and
 * kept so only when it pays — at least `minSaving` of the bytes saved; the
 * result is an envelope (lib/envelope.ts): 0xC1 (a byte msgpack never uses, so no record's
 * frame starts with it), the codec's number, then the compressed frame. A
 * reader of any storage decodes what any writer wrote, whatever its own
 * setting: the envelope says how. The frame inside keeps its checksum, so a
 * corrupt envelope is a miss as a corrupt record is.
 *
 * Codecs are the runtime's own (node:zlib): deflate and brotli everywhere,
 * zstd where Node has it (22.15 and later). A process whose Node lacks zstd
 * reads a zstd envelope as a miss and leaves it alone (`unreadableHere`):
 * other processes may read it.
 */
import { CODEC_IDS, ENVELOPE } from '../envelope.js';

const zlib = process.getBuiltinModule('node:zlib'); // not an import (a cold start: scripts/bundle.mjs)

export type CompressionCodec = 'brotli' | 'deflate' | 'zstd';

export interface Compression {
  codec: CompressionCodec;
  /** Records shorter than this many bytes are stored as they are. */
  threshold: number;
  /** The least fraction of the bytes compression must save to be kept (0.1: 10%). */
  minSaving: number;
}

const HEADER_BYTES = 2;
/** The most a record decompresses to: far past any `maxEntrySize`, short of what would exhaust a process (a bomb written into the storage). */
const MAX_DECOMPRESSED = 1024 * 1024 * 1024;

interface Codec {
  id: number;
  compress: ((bytes: Uint8Array) => Buffer) | undefined;
  decompress: ((bytes: Uint8Array) => Buffer) | undefined;
}

type ZstdZlib = {
  zstdCompressSync?: (bytes: Uint8Array, options?: object) => Buffer;
  zstdDecompressSync?: (bytes: Uint8Array, options?: object) => Buffer;
};
const zstd = zlib as unknown as ZstdZlib;
const zstdCompress = zstd.zstdCompressSync;
const zstdDecompress = zstd.zstdDecompressSync;

/**
 * The levels: deflate at 6 (zlib's default), brotli at quality 5, zstd at
 * its default 3 — the figures behind them are in docs/storages.md
 * ("Compressed values"), from `npm run bench`.
 */
const CODECS: Record<CompressionCodec, Codec> = {
  deflate: {
    id: CODEC_IDS.deflate,
    compress: (bytes) => zlib.deflateRawSync(bytes, { level: 6 }),
    decompress: (bytes) => zlib.inflateRawSync(bytes, { maxOutputLength: MAX_DECOMPRESSED }),
  },
  brotli: {
    id: CODEC_IDS.brotli,
    compress: (bytes) =>
      zlib.brotliCompressSync(bytes, {
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength },
      }),
    decompress: (bytes) => zlib.brotliDecompressSync(bytes, { maxOutputLength: MAX_DECOMPRESSED }),
  },
  zstd: {
    id: CODEC_IDS.zstd,
    compress: zstdCompress === undefined ? undefined : (bytes) => zstdCompress(bytes),
    decompress: zstdDecompress === undefined ? undefined : (bytes) => zstdDecompress(bytes, { maxOutputLength: MAX_DECOMPRESSED }),
  },
};

const BY_ID = new Map(Object.values(CODECS).map((codec) => [codec.id, codec]));

/** Whether this runtime can compress with a codec (zstd: Node 22.15 and later). */
export function codecAvailable(codec: CompressionCodec): boolean {
  return CODECS[codec].compress !== undefined;
}

/** The framed record, compressed in an envelope when it is long enough and it pays; as it is otherwise. */
export function compressFrame(framed: Uint8Array, compression: Compression): Uint8Array {
  if (framed.byteLength < compression.threshold) return framed;
  const codec = CODECS[compression.codec];
  const compressed = (codec.compress as NonNullable<Codec['compress']>)(framed);
  if (compressed.byteLength + HEADER_BYTES > framed.byteLength * (1 - compression.minSaving)) return framed;
  const envelope = Buffer.allocUnsafeSlow(compressed.byteLength + HEADER_BYTES);
  envelope[0] = ENVELOPE;
  envelope[1] = codec.id;
  envelope.set(compressed, HEADER_BYTES);
  return envelope;
}

/** The frame inside an envelope; the bytes themselves when they are none; undefined when they cannot be decompressed. */
export function uncompressFrame(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes[0] !== ENVELOPE) return bytes;
  const decompress = BY_ID.get(bytes[1] as number)?.decompress;
  if (decompress === undefined || bytes.byteLength <= HEADER_BYTES) return undefined;
  try {
    return decompress(bytes.subarray(HEADER_BYTES));
  } catch {
    return undefined; // corrupt, or past the bound
  }
}

/** An envelope of a codec this runtime lacks (zstd before Node 22.15): unreadable here, not damaged — other processes may read it. */
export function unreadableHere(bytes: Uint8Array): boolean {
  if (bytes[0] !== ENVELOPE) return false;
  const codec = BY_ID.get(bytes[1] as number);
  return codec !== undefined && codec.decompress === undefined;
}
