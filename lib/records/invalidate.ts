/**
 * Removing a URL's entries: the response (or the Vary index and the variants
 * it lists) and, through the redirects partition, the cached redirects that
 * lead to it, transitively.
 */
import type { CompletePartition } from '../storage/contract.js';

/** What a purge needs of a partition: the request path's guarded view and management's deadlined one both give it. */
type Purgeable = Pick<CompletePartition, 'getMany' | 'bulkDelete'>;

import { decodeRecord } from './codec.js';

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
