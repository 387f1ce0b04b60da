/**
 * Removing a URL's entries: the response (or the Vary index and the variants
 * it lists) and, through the redirects partition, the cached redirects that
 * lead to it, transitively.
 */
import type { CompletePartition } from '../storage/contract.js';

/** What a purge needs of a partition: the request path's guarded view and management's deadlined one both give it. */
type Purgeable = Pick<CompletePartition, 'getMany' | 'bulkDelete'>;

import { currentAge } from '../policy/freshness.js';
import { decodeRecord, encodeRecord } from './codec.js';
import type { StoredResponse } from './model.js';

/** Redirect chains longer than this are not followed back (browsers stop at 20). */
const MAX_DEPTH = 20;

/** Deletes the entries under `keys` with their variants and aliases; returns how many responses went. */
export async function invalidateKeys(responses: Purgeable, redirects: Purgeable, keys: Iterable<string>): Promise<number> {
  const seen = new Set<string>();
  const doomed = new Set<string>();
  const aliasRecords: string[] = [];
  let level = [...new Set(keys)];
  for (let depth = 0; level.length > 0 && depth < MAX_DEPTH; depth++) {
    for (const key of level) seen.add(key);
    const [stored, aliases] = await Promise.all([responses.getMany(level), redirects.getMany(level)]);
    const next: string[] = [];
    for (const key of level) {
      doomed.add(key);
      const bytes = stored.get(key);
      const record = bytes === undefined ? undefined : decodeRecord(bytes);
      if (record?.kind === 'variants') for (const variant of record.keys) doomed.add(variant);
      const aliasBytes = aliases.get(key);
      if (aliasBytes === undefined) continue;
      aliasRecords.push(key);
      const alias = decodeRecord(aliasBytes);
      if (alias?.kind === 'aliases') for (const source of alias.keys) if (!seen.has(source)) next.push(source);
    }
    level = [...new Set(next)];
  }
  const [deleted] = await Promise.all([responses.bulkDelete([...doomed]), redirects.bulkDelete(aliasRecords)]);
  return deleted;
}

/**
 * A soft purge of `keys` (their variants included): each stored response
 * becomes stale now — its lifetime cut to its current age, its validators,
 * tags and stale windows kept — so the next request revalidates it (or, within
 * stale-while-revalidate, is served it while one refresh runs). Responses
 * already stale are left as they are. Returns how many were made stale.
 */
export async function staleKeys(responses: Pick<CompletePartition, 'getMany' | 'set'>, keys: Iterable<string>, now: number): Promise<number> {
  let level = [...new Set(keys)];
  let made = 0;
  // Two levels: the keys, then the variants their Vary indexes list.
  for (let depth = 0; depth < 2 && level.length > 0; depth++) {
    const stored = await responses.getMany(level);
    const variants: string[] = [];
    const writes: Array<Promise<void>> = [];
    for (const [key, bytes] of stored) {
      const record = decodeRecord(bytes);
      if (record?.kind === 'variants') variants.push(...record.keys);
      if (record?.kind !== 'response') continue;
      const age = Math.max(0, currentAge(record, now));
      if (record.lifetime <= age) continue;
      const stale: StoredResponse = { ...record, lifetime: age };
      writes.push(responses.set(key, encodeRecord(stale), { expiresAt: record.expiresAt ?? undefined }));
      made += 1;
    }
    await Promise.all(writes);
    level = variants;
  }
  return made;
}
