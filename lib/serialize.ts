/**
 * The stored records, as msgpack arrays that start with a magic number and a
 * format version, followed by a CRC-32 of those bytes. Decoding never throws:
 * unknown versions, foreign or corrupt bytes (a checksum that does not match,
 * a value no response can have) come back as `undefined`, and the cache
 * treats them as a miss.
 */
import { crc32 } from 'node:zlib';
import { Packr, RESET_BUFFER_MODE } from 'msgpackr';

const MAGIC = 0xcac;
/** Bump when the layout below changes; older records then read as misses. 2: the CRC-32 trailer. */
export const FORMAT_VERSION = 2;
/** The CRC-32 after the packed record, big-endian. */
const CHECKSUM_BYTES = 4;

const KIND_RESPONSE = 1;
const KIND_VARIANTS = 2;
const KIND_ALIASES = 3;

/** One stored response, with what the policy needs to reuse it without re-parsing headers. */
export interface StoredResponse {
  kind: 'response';
  /** When the cache has no more use for the record (epoch ms), null for never. */
  expiresAt: number | null;
  status: number;
  statusText: string;
  /** Response header pairs, flat: [name, value, name, value, ...]; names lower-case. */
  headers: string[];
  body: Uint8Array;
  method: string;
  /** The request URL, with ignored parameters redacted. */
  url: string;
  /** Request header pairs named by Vary, flat; a null value means the header was absent. */
  vary: Array<string | null> | null;
  /** Epoch ms when the request was sent and when its response arrived (RFC 9111 §4.2.3). */
  requestTime: number;
  responseTime: number;
  /** Corrected initial age in ms (RFC 9111 §4.2.3). */
  initialAge: number;
  /** Freshness lifetime in ms; Infinity for "never expires". */
  lifetime: number;
  /** Bit set of response directives that matter on reuse (see `ResponseFlags`). */
  flags: number;
  /** Seconds of stale-while-revalidate / stale-if-error allowed by the response, -1 when absent. */
  staleWhileRevalidate: number;
  staleIfError: number;
  /** Header names not to send without revalidation (`no-cache="field"`), or null. */
  hiddenFields: string[] | null;
}

/** The index stored at a URL's key when its response varies on request headers (RFC 9111 §4.1). */
export interface StoredVariants {
  kind: 'variants';
  expiresAt: number | null;
  /** Lower-case request header names from Vary, sorted. */
  names: string[];
  /** Random per index: variant keys include it, so deleting the index orphans every variant. */
  generation: string;
  /** Keys of the variants stored so far (newest last, bounded), to delete them with the URL. */
  keys: string[];
}

/** The redirect responses (their keys) whose Location points at a URL. */
export interface StoredAliases {
  kind: 'aliases';
  expiresAt: number | null;
  keys: string[];
}

export type StoredRecord = StoredResponse | StoredVariants | StoredAliases;

export const ResponseFlags = {
  noCache: 1,
  mustRevalidate: 2,
  proxyRevalidate: 4,
  sMaxAge: 8,
  immutable: 16,
  public: 32,
  /** Stored from a response that had Authorization on its request. */
  authorized: 64,
} as const;

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

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
 * hit pays it only when it decodes bytes it has not seen (see lookup.ts).
 */
export function encodeRecord(record: StoredRecord): Uint8Array {
  const large = record.kind === 'response' && record.body.byteLength > REUSED_BUFFER_LIMIT;
  const packed = pack(record, large ? 0 : RESET_BUFFER_MODE);
  // With RESET_BUFFER_MODE the next pack overwrites these bytes: copy them out now, exactly sized.
  const owned = Buffer.allocUnsafeSlow(packed.byteLength + CHECKSUM_BYTES);
  owned.set(packed);
  owned.writeUInt32BE(crc32(packed), packed.byteLength);
  return owned;
}

function pack(record: StoredRecord, mode: number): Uint8Array {
  switch (record.kind) {
    case 'response':
      return packr.pack([
        MAGIC, FORMAT_VERSION, KIND_RESPONSE, record.expiresAt,
        record.status, record.statusText, record.headers, record.body, record.method, record.url, record.vary,
        record.requestTime, record.responseTime, record.initialAge, record.lifetime, record.flags,
        record.staleWhileRevalidate, record.staleIfError, record.hiddenFields,
      ], mode);
    case 'variants':
      return packr.pack([MAGIC, FORMAT_VERSION, KIND_VARIANTS, record.expiresAt, record.names, record.generation, record.keys], mode);
    case 'aliases':
      return packr.pack([MAGIC, FORMAT_VERSION, KIND_ALIASES, record.expiresAt, record.keys], mode);
  }
}

export function decodeRecord(bytes: Uint8Array): StoredRecord | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength <= CHECKSUM_BYTES) return undefined;
  const end = bytes.byteLength - CHECKSUM_BYTES;
  const packed = bytes.subarray(0, end);
  const stored = ((bytes[end] as number) * 0x1000000) + (((bytes[end + 1] as number) << 16) | ((bytes[end + 2] as number) << 8) | (bytes[end + 3] as number));
  if (crc32(packed) !== stored) return undefined;
  let fields: unknown;
  try {
    fields = packr.unpack(packed);
  } catch {
    return undefined;
  }
  if (!Array.isArray(fields) || fields[0] !== MAGIC || fields[1] !== FORMAT_VERSION) return undefined;
  const expiresAt = fields[3];
  if (expiresAt !== null && !isFiniteNumber(expiresAt)) return undefined;
  switch (fields[2]) {
    case KIND_RESPONSE:
      return readResponse(fields, expiresAt);
    case KIND_VARIANTS:
      return readVariants(fields, expiresAt);
    case KIND_ALIASES:
      return fields.length === 5 && isStringArray(fields[4]) ? { kind: 'aliases', expiresAt, keys: fields[4] } : undefined;
    default:
      return undefined;
  }
}

function readResponse(f: unknown[], expiresAt: number | null): StoredResponse | undefined {
  if (f.length !== 19) return undefined;
  const [, , , , status, statusText, headers, body, method, url, vary, requestTime, responseTime, initialAge, lifetime, flags, swr, sie, hidden] = f;
  if (
    // Only final responses are stored: a 1xx would leave the consumer waiting for one that never comes.
    !Number.isInteger(status) || (status as number) < 200 || (status as number) > 599 ||
    typeof statusText !== 'string' || !FIELD_VALUE.test(statusText) ||
    !isStringArray(headers) || !areFieldPairs(headers) ||
    !(body instanceof Uint8Array) || !bodyFits(status as number, headers, body) ||
    typeof method !== 'string' || !TOKEN.test(method) || typeof url !== 'string' || !/^https?:\/\//.test(url) ||
    !(vary === null || (isNullableStringArray(vary) && vary.length % 2 === 0)) ||
    !isFiniteNumber(requestTime) || !isFiniteNumber(responseTime) || !isFiniteNumber(initialAge) || initialAge < 0 ||
    typeof lifetime !== 'number' || Number.isNaN(lifetime) || lifetime < 0 ||
    !Number.isInteger(flags) ||
    !isFiniteNumber(swr) || !isFiniteNumber(sie) ||
    !(hidden === null || isStringArray(hidden))
  ) {
    return undefined;
  }
  return {
    kind: 'response',
    expiresAt,
    status: status as number,
    statusText,
    headers,
    body,
    method,
    url,
    vary: vary as Array<string | null> | null,
    requestTime,
    responseTime,
    initialAge,
    lifetime,
    flags: flags as number,
    staleWhileRevalidate: swr,
    staleIfError: sie,
    hiddenFields: hidden as string[] | null,
  };
}

function readVariants(f: unknown[], expiresAt: number | null): StoredVariants | undefined {
  if (f.length !== 7) return undefined;
  const [, , , , names, generation, keys] = f;
  if (!isStringArray(names) || typeof generation !== 'string' || !isStringArray(keys)) return undefined;
  return { kind: 'variants', expiresAt, names, generation, keys };
}

/** RFC 9110 §5.1, §5.5: a field name is a token (stored lower-case); a value has no CR, LF or NUL. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function areFieldPairs(pairs: string[]): boolean {
  if (pairs.length % 2 !== 0) return false;
  for (let i = 0; i < pairs.length; i += 2) {
    if (!FIELD_NAME.test(pairs[i] as string) || !FIELD_VALUE.test(pairs[i + 1] as string)) return false;
  }
  return true;
}

/** The body agrees with the status (none for 204 and 304) and with a Content-Length, when there is one. */
function bodyFits(status: number, headers: string[], body: Uint8Array): boolean {
  if ((status === 204 || status === 304) && body.byteLength > 0) return false;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== 'content-length') continue;
    const value = (headers[i + 1] as string).trim();
    if (!/^\d+$/.test(value) || (Number(value) !== body.byteLength && status !== 204 && status !== 304)) return false;
  }
  return true;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  for (const item of value) if (typeof item !== 'string') return false;
  return true;
}

function isNullableStringArray(value: unknown): value is Array<string | null> {
  if (!Array.isArray(value)) return false;
  for (const item of value) if (item !== null && typeof item !== 'string') return false;
  return true;
}
