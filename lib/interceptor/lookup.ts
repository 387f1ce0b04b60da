/**
 * Finds the stored response for a request: the record at its key, or, when
 * that is a Vary index, the variant matching the request's headers.
 * Unreadable records are deleted and count as misses.
 */
import type { CacheContext } from './context.js';
import type { CacheRequest } from '../policy/request.js';
import { decodeRecord, type StoredRecord, type StoredResponse, type StoredVariants } from '../serialize.js';
import { sameVaryPairs, varyPairs, variantKey } from '../policy/vary.js';
import { DELETED } from './writer.js';

export type Lookup =
  | { found: true; entry: StoredResponse; key: string; variants: StoredVariants | undefined }
  | { found: false; fwd: 'uri-miss' | 'vary-miss'; variants: StoredVariants | undefined };

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

export async function lookup(ctx: CacheContext, request: CacheRequest): Promise<Lookup> {
  const record = await read(ctx, request.key);
  if (record === undefined) return { found: false, fwd: 'uri-miss', variants: undefined };
  if (record.kind === 'response') {
    return record.vary === null
      ? { found: true, entry: record, key: request.key, variants: undefined }
      : { found: false, fwd: 'uri-miss', variants: undefined };
  }
  if (record.kind !== 'variants') return { found: false, fwd: 'uri-miss', variants: undefined };

  // RFC 9111 §4.1: select the variant whose nominated request headers match this request's.
  const pairs = varyPairs(record.names, request.headers, ctx.options.ignoredParameters);
  const key = variantKey(request.key, record.generation, pairs);
  const variant = await read(ctx, key);
  if (variant?.kind === 'response' && variant.vary !== null && sameVaryPairs(variant.vary, pairs)) {
    return { found: true, entry: variant, key, variants: record };
  }
  return { found: false, fwd: 'vary-miss', variants: record };
}

async function read(ctx: CacheContext, key: string): Promise<StoredRecord | undefined> {
  // A write (or deletion) of this key in flight: what it is about to store is what the storage holds.
  const inFlight = ctx.writer.inFlight(key);
  if (inFlight !== undefined) return inFlight === DELETED ? undefined : inFlight;
  const bytes = await ctx.responses.get(key);
  if (bytes === undefined) return undefined;
  const record = decodeOnce(bytes);
  if (record === undefined) {
    // Corrupt, foreign or from an unknown format version: a miss, and out of the way.
    ctx.reporter.storageError({ operation: 'decode', partition: ctx.responses.name, error: new Error(`unreadable entry under key ${key} deleted`) });
    void ctx.responses.delete(key);
  }
  return record;
}
