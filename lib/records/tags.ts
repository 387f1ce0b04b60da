/**
 * Tags: names given to stored responses so that a group of them can be
 * purged at once. They come from a response header the cache is told to read
 * (`cacheTagsHeader`: `Cache-Tag` lists them with commas, `Surrogate-Key` with
 * spaces; both are read either way) and from the per-request `cachette.tags`.
 *
 * The index: one partition per tag (partitions.ts names it), holding the
 * keys of the responses that carry it, each expiring with its response. A
 * stored tagged response costs one more write per tag; a purge lists the
 * tag's partition (a Query per shard on DynamoDB, never a Scan), deletes what
 * it names, then the index.
 */

/** Most tags one response keeps; further ones are ignored. */
export const MAX_TAGS = 32;
const MAX_TAG_LENGTH = 128;
/** Printable, without space or comma (the separators of the header forms). */
const TAG = /^[!-+\--~\u0080-\uffff]+$/;

export function isTag(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_TAG_LENGTH && TAG.test(value);
}

/** The tags a header value lists (commas or spaces between them); invalid ones are left out. */
export function tagsOfField(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = typeof value === 'string' ? value : value.join(',');
  return joined.split(/[\s,]+/).filter(isTag);
}

/** Tags from several sources, once each, at most MAX_TAGS. */
export function mergeTags(...lists: ReadonlyArray<readonly string[]>): string[] {
  const merged = new Set<string>();
  for (const list of lists) for (const tag of list) if (merged.size < MAX_TAGS) merged.add(tag);
  return [...merged];
}

/** What an index entry holds: nothing of its own (the key says it all); one byte, as some storages refuse empty values. */
export const INDEX_VALUE = new Uint8Array([1]);

/** Whether a stored value is an index entry (a record never is: it is longer). */
export function isIndexValue(value: Uint8Array): boolean {
  return value.byteLength === 1 && value[0] === 1;
}
