/**
 * The names of a cache's partitions in its storage: an injective encoding of
 * (namespace, kind, tag), so that no name of one cache is a name of another
 * sharing the storage, whatever their namespaces and whatever tags origins
 * send.
 *
 *   <ns:>responses   <ns:>redirects   <ns:>tiers    the kinds (as in every version)
 *   <ns:>tag~<tag in base64url>                     a tag's index
 *
 * A namespace is letters, digits and `_.:/-` (options.ts), never `~`; a tag
 * is encoded in base64url, never `~` or `:`. So a name with a `~` is a
 * tag's index whose namespace is what comes before `tag~`; a name without
 * one ends in one of three kinds, none a suffix of another, and what comes
 * before it is the namespace's prefix. Before this layout a tag's index was
 * `<ns:>tag:<tag>` — the name of another namespace's kind for a tag such as
 * `responses` (a purge by that tag listed and deleted another cache's
 * responses). Those indexes are still read, never written nor deleted (they
 * expire with the responses they name), and only for tags that cannot name
 * another partition so.
 */

const KINDS = ['responses', 'redirects', 'tiers'] as const;

export interface PartitionNames {
  readonly responses: string;
  readonly redirects: string;
  /** The memory tiers' purge stamps. */
  readonly tiers: string;
  /** The index of a tag. */
  tag(tag: string): string;
  /** The index of a tag as cachette 0.1 named it; undefined when that name could be another partition's. */
  legacyTag(tag: string): string | undefined;
}

export function partitionNames(namespace: string | undefined): PartitionNames {
  const prefix = namespace === undefined ? '' : `${namespace}:`;
  return {
    responses: `${prefix}responses`,
    redirects: `${prefix}redirects`,
    tiers: `${prefix}tiers`,
    tag: (tag) => `${prefix}tag~${Buffer.from(tag, 'utf8').toString('base64url')}`,
    legacyTag: (tag) => (tag.includes(':') || tag.includes('~') || (KINDS as readonly string[]).includes(tag) ? undefined : `${prefix}tag:${tag}`),
  };
}
