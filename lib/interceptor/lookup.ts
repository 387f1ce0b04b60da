/**
 * Finds the stored response for a request: the record at its key, or, when
 * that is a Vary index, the variant matching the request's headers.
 * Unreadable records are deleted and count as misses. Storage that holds its
 * values in memory is read synchronously (`lookupSync`), so that a hit is
 * answered without waiting a turn of the event loop.
 */
import type { CacheContext } from './context.js';
import type { CacheRequest } from '../policy/request.js';
import { decodeRecord, type StoredRecord, type StoredResponse, type StoredVariants } from '../serialize.js';
import { sameVaryPairs, varyPairs, variantKey } from '../policy/vary.js';
import { isDeletion } from './writer.js';

export type Lookup =
  | { found: true; entry: StoredResponse; key: string; variants: StoredVariants | undefined }
  | { found: false; fwd: 'uri-miss' | 'vary-miss'; variants: StoredVariants | undefined };

/** Where to look next when the URL's key holds a Vary index. */
interface VariantStep {
  key: string;
  index: StoredVariants;
  pairs: Array<string | null>;
}

const URI_MISS: Lookup = { found: false, fwd: 'uri-miss', variants: undefined };

// Storage that keeps values in memory hands back the same bytes on every hit:
// remember what they decoded to, and a hit skips decoding altogether.
const decoded = new WeakMap<Uint8Array, StoredRecord>();

export function decodeOnce(bytes: Uint8Array): StoredRecord | undefined {
  let record = decoded.get(bytes);
  if (record === undefined) {
    record = decodeRecord(bytes);
    if (record !== undefined) decoded.set(bytes, record);
  }
  return record;
}

/**
 * Storage that reads from disk or the network (SQLite, DynamoDB) hands back
 * new bytes on every hit. For small entries read again and again, comparing
 * the bytes with the last ones read under that key (a memcmp) is cheaper
 * than decoding them and preparing their headers anew.
 */
const RECENT_ENTRIES = 64;
const RECENT_MAX_BYTES = 64 * 1024;
const recent = new Map<string, { bytes: Uint8Array; record: StoredRecord }>();

function decodeRecent(key: string, bytes: Uint8Array): StoredRecord | undefined {
  const known = decoded.get(bytes);
  if (known !== undefined) return known;
  const last = recent.get(key);
  if (last !== undefined && Buffer.from(last.bytes.buffer, last.bytes.byteOffset, last.bytes.byteLength).equals(bytes)) return last.record;
  const record = decodeOnce(bytes);
  if (record !== undefined && bytes.byteLength <= RECENT_MAX_BYTES) {
    if (recent.size >= RECENT_ENTRIES && !recent.has(key)) recent.delete(recent.keys().next().value as string);
    recent.set(key, { bytes, record });
  }
  return record;
}

export async function lookup(ctx: CacheContext, request: CacheRequest): Promise<Lookup> {
  const step = atKey(ctx, request, await read(ctx, request.key));
  return 'found' in step ? step : inVariant(step, await read(ctx, step.key));
}

/** The same, without waiting, when the storage can answer at once; undefined when it cannot. */
export function lookupSync(ctx: CacheContext, request: CacheRequest): Lookup | undefined {
  if (!ctx.responses.readsSync) return undefined;
  const record = readSync(ctx, request.key);
  if (record === null) return undefined;
  const step = atKey(ctx, request, record);
  if ('found' in step) return step;
  const variant = readSync(ctx, step.key);
  return variant === null ? undefined : inVariant(step, variant);
}

function atKey(ctx: CacheContext, request: CacheRequest, record: StoredRecord | undefined): Lookup | VariantStep {
  if (record === undefined) return URI_MISS;
  if (record.kind === 'response') {
    return record.vary === null ? { found: true, entry: record, key: request.key, variants: undefined } : URI_MISS;
  }
  if (record.kind !== 'variants') return URI_MISS;
  // RFC 9111 §4.1: select the variant whose nominated request headers match this request's.
  const pairs = varyPairs(record.names, request.headers, ctx.options.ignoredHeaders);
  return { key: variantKey(request.key, record.generation, pairs), index: record, pairs };
}

function inVariant(step: VariantStep, variant: StoredRecord | undefined): Lookup {
  if (variant?.kind === 'response' && variant.vary !== null && sameVaryPairs(variant.vary, step.pairs)) {
    return { found: true, entry: variant, key: step.key, variants: step.index };
  }
  return { found: false, fwd: 'vary-miss', variants: step.index };
}

async function read(ctx: CacheContext, key: string): Promise<StoredRecord | undefined> {
  // A write (or deletion) of this key in flight: what it is about to store is what the storage holds.
  const inFlight = ctx.writer.inFlight(key);
  if (inFlight !== undefined) return isDeletion(inFlight) ? undefined : inFlight;
  return decodeOrDrop(ctx, key, await ctx.responses.get(key));
}

/** The record, undefined when there is none, null when the storage cannot tell synchronously. */
function readSync(ctx: CacheContext, key: string): StoredRecord | undefined | null {
  const inFlight = ctx.writer.inFlight(key);
  if (inFlight !== undefined) return isDeletion(inFlight) ? undefined : inFlight;
  const bytes = ctx.responses.getSync(key);
  return bytes === null ? null : decodeOrDrop(ctx, key, bytes);
}

function decodeOrDrop(ctx: CacheContext, key: string, bytes: Uint8Array | undefined): StoredRecord | undefined {
  if (bytes === undefined) return undefined;
  const record = decodeRecent(key, bytes);
  if (record === undefined) {
    // Corrupt, foreign or from an unknown format version: a miss, and out of the way.
    ctx.reporter.storageError({ operation: 'decode', partition: ctx.responses.name, error: new Error(`unreadable entry under key ${key} deleted`) });
    void ctx.responses.delete(key);
  }
  return record;
}
