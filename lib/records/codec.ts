/**
 * Records as bytes: a msgpack array — a magic number, the format version, the
 * record's kind, then its fields in the order of one table per kind — and a
 * CRC-32 of those bytes after it. The table is the layout: encoding and
 * decoding both walk it, and each field carries the check a decoded value
 * must pass. Decoding never throws: unknown versions, foreign or corrupt bytes
 * (a checksum that does not match, a value no record can have) come back as
 * `undefined`, and the cache treats them as a miss.
 */
import type { Packr } from 'msgpackr/pack';
import { type Compression, compressFrame, uncompressFrame } from './compression.js';
import { frame, unframe } from './frame.js';
import type { StoredAliases, StoredRecord, StoredResponse, StoredVariants } from './model.js';
import { isTag, MAX_TAGS } from './tags.js';

const { createRequire } = process.getBuiltinModule('node:module'); // not an import (a cold start: scripts/bundle.mjs)

const MAGIC = 0xcac;
/** Bump when a table below changes; older records then read as misses. 2: the CRC-32 trailer. 3: tags. 4: the key of a response's request, and of its redirect's target. */
export const FORMAT_VERSION = 4;
/** Magic, version, kind: the fields before a record's own. */
const HEADER_FIELDS = 3;

type Check = (value: unknown) => boolean;
type Layout<R extends StoredRecord> = ReadonlyArray<readonly [Exclude<keyof R, 'kind'>, Check]>;

/** RFC 9110 §5.1, §5.5: a field name is a token (stored lower-case); a value has no CR, LF or NUL. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const finite: Check = (value) => typeof value === 'number' && Number.isFinite(value);
const expiry: Check = (value) => value === null || finite(value);
const strings: Check = (value) => Array.isArray(value) && value.every((item) => typeof item === 'string');

const RESPONSE: Layout<StoredResponse> = [
  ['expiresAt', expiry],
  // Only final responses are stored: a 1xx would leave the consumer waiting for one that never comes.
  ['status', (value) => Number.isInteger(value) && (value as number) >= 200 && (value as number) <= 599],
  ['statusText', (value) => typeof value === 'string' && FIELD_VALUE.test(value)],
  ['headers', (value) => strings(value) && areFieldPairs(value as string[])],
  ['body', (value) => value instanceof Uint8Array],
  ['method', (value) => typeof value === 'string' && TOKEN.test(value)],
  ['url', (value) => typeof value === 'string' && /^https?:\/\//.test(value)],
  ['key', (value) => typeof value === 'string' && value !== ''],
  ['redirect', (value) => value === null || (typeof value === 'string' && value !== '')],
  ['vary', (value) => value === null || (Array.isArray(value) && value.length % 2 === 0 && value.every((item) => item === null || typeof item === 'string'))],
  ['requestTime', finite],
  ['responseTime', finite],
  ['initialAge', (value) => finite(value) && (value as number) >= 0],
  ['lifetime', (value) => typeof value === 'number' && (value as number) >= 0],
  ['flags', Number.isInteger],
  ['staleWhileRevalidate', finite],
  ['staleIfError', finite],
  ['hiddenFields', (value) => value === null || strings(value)],
  ['tags', (value) => Array.isArray(value) && value.length <= MAX_TAGS && value.every(isTag)],
];

const VARIANTS: Layout<StoredVariants> = [
  ['expiresAt', expiry],
  ['names', strings],
  ['generation', (value) => typeof value === 'string'],
  ['keys', strings],
];

const ALIASES: Layout<StoredAliases> = [
  ['expiresAt', expiry],
  ['keys', strings],
];

/**
 * Each kind: its tag in the bytes, its layout, and what its fields must agree
 * on together — the last check of a decoded record, once each field passed its own.
 */
const KINDS = [
  {
    kind: 'response',
    tag: 1,
    layout: RESPONSE as Layout<StoredRecord>,
    agrees: (record: object): record is StoredResponse => bodyFits(record as StoredResponse),
  },
  { kind: 'variants', tag: 2, layout: VARIANTS as Layout<StoredRecord>, agrees: (record: object): record is StoredVariants => 'generation' in record },
  { kind: 'aliases', tag: 3, layout: ALIASES as Layout<StoredRecord>, agrees: (record: object): record is StoredAliases => 'keys' in record },
] as const;

/*
 * msgpackr is loaded when records are first encoded or decoded, not when the
 * package is: a cache on MemoryStorage keeps records as they are and never
 * needs it, and the cold start of every process pays for what it imports
 * (`npm run bench`, cold start). Storages of bytes load it when the cache is
 * made (loadCodec); a path that did not wait for that loads it at once,
 * synchronously. What is kept here is the library, not state of any cache.
 * msgpackr/pack: the codec without the stream classes and the attempt to load
 * a native string extractor.
 */
interface Msgpack {
  packr: Packr;
  resetBufferMode: number;
}
type MsgpackModule = typeof import('msgpackr/pack');

let msgpack: Msgpack | undefined;
let loading: Promise<void> | undefined;

function made(module: MsgpackModule): Msgpack {
  return { packr: new module.Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true }), resetBufferMode: module.RESET_BUFFER_MODE };
}

/** Whether records can be encoded and decoded without loading anything. */
export function codecLoaded(): boolean {
  return msgpack !== undefined;
}

/** Loads the codec's library, if it is not yet (once per process); resolves when records can be encoded and decoded. */
export function loadCodec(): Promise<void> {
  if (msgpack !== undefined) return Promise.resolve();
  loading ??= import('msgpackr/pack').then(
    (module) => {
      msgpack ??= made(module);
    },
    () => {
      // Left to the synchronous load, which reports what is wrong where a record is needed.
      loading = undefined;
    },
  );
  return loading;
}

function codec(): Msgpack {
  msgpack ??= made(createRequire(import.meta.url)('msgpackr/pack') as MsgpackModule);
  return msgpack;
}

/** Bodies up to this size are packed in msgpackr's reused buffer; larger ones get a buffer of their own. */
const REUSED_BUFFER_LIMIT = 1024 * 1024;

/**
 * The record's bytes, in an exact-size buffer of their own: a storage may keep
 * them as they are (see `SetOptions.transfer`).
 *
 * CRC-32 (zlib's, native): a flipped bit or byte anywhere — any error burst
 * up to 32 bits — changes it, so storage corruption is a miss, never a wrong
 * body. It guards against accidents, not against a writer with access to the
 * storage, who could write any valid record anyway. It is the cheapest
 * checksum Node ships (a cryptographic digest costs several times more), and a
 * hit pays it only when it decodes bytes it has not seen (see the store's decode memo).
 */
export function encodeRecord(record: StoredRecord, compression?: Compression): Uint8Array {
  const { tag, layout } = KINDS.find((candidate) => candidate.kind === record.kind) as (typeof KINDS)[number];
  const fields: unknown[] = [MAGIC, FORMAT_VERSION, tag];
  for (const [name] of layout) fields.push(record[name as keyof StoredRecord]);
  const large = record.kind === 'response' && record.body.byteLength > REUSED_BUFFER_LIMIT;
  // With RESET_BUFFER_MODE the next pack overwrites these bytes: the frame copies them out now.
  const { packr, resetBufferMode } = codec();
  const framed = frame(packr.pack(fields, large ? 0 : resetBufferMode));
  // Compressed in an envelope when asked, long enough and worth it (compression.ts); any reader decodes either.
  return compression === undefined ? framed : compressFrame(framed, compression);
}

export function decodeRecord(bytes: Uint8Array): StoredRecord | undefined {
  if (!(bytes instanceof Uint8Array)) return undefined;
  const framed = uncompressFrame(bytes);
  if (framed === undefined) return undefined;
  const packed = unframe(framed);
  if (packed === undefined) return undefined;
  // Outside the try: a library that cannot load is an error to report, not a damaged record to delete.
  const { packr } = codec();
  let fields: unknown;
  try {
    fields = packr.unpack(packed);
  } catch {
    return undefined;
  }
  if (!Array.isArray(fields) || fields[0] !== MAGIC || fields[1] !== FORMAT_VERSION) return undefined;
  const kind = KINDS.find((candidate) => candidate.tag === fields[2]);
  if (kind === undefined || fields.length !== HEADER_FIELDS + kind.layout.length) return undefined;
  const record: Record<string, unknown> = { kind: kind.kind };
  for (let i = 0; i < kind.layout.length; i++) {
    const [name, check] = kind.layout[i] as (typeof kind.layout)[number];
    const value: unknown = fields[HEADER_FIELDS + i];
    if (!check(value)) return undefined;
    record[name as string] = value;
  }
  return kind.agrees(record) ? record : undefined;
}

function areFieldPairs(pairs: string[]): boolean {
  if (pairs.length % 2 !== 0) return false;
  for (let i = 0; i < pairs.length; i += 2) {
    if (!FIELD_NAME.test(pairs[i] as string) || !FIELD_VALUE.test(pairs[i + 1] as string)) return false;
  }
  return true;
}

/** The body agrees with the status (none for 204 and 304) and with a Content-Length, when there is one. */
function bodyFits({ status, headers, body }: StoredResponse): boolean {
  if ((status === 204 || status === 304) && body.byteLength > 0) return false;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== 'content-length') continue;
    const value = (headers[i + 1] as string).trim();
    if (!/^\d+$/.test(value) || (Number(value) !== body.byteLength && status !== 204 && status !== 304)) return false;
  }
  return true;
}
