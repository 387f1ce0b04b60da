/**
 * Where an entry lives in the table. The partition key is the partition name
 * plus a shard suffix derived from the entry's key, so that one busy cache
 * partition spreads over several DynamoDB partitions (write sharding) instead
 * of heating one. Chunks of values too large for one item live under a
 * sibling partition key, so that listing a partition never meets them.
 */

export interface AttributeNames {
  /** Partition key (S). Default: "namespace". */
  partitionKey: string;
  /** Sort key (S). Default: "key". */
  sortKey: string;
  /** The value (B). Default: "value". */
  value: string;
  /** Epoch seconds after which the entry is dead: the table's TTL attribute (N). Default: "expires". */
  expires: string;
  /** Epoch ms when the entry was written (N). Default: "created". */
  created: string;
}

export const DEFAULT_ATTRIBUTES: AttributeNames = {
  partitionKey: 'namespace',
  sortKey: 'key',
  value: 'value',
  expires: 'expires',
  created: 'created',
};

/** Attributes of a head item whose value is split into chunks, and of compressed values. */
export const META = {
  /** Number of chunk items (N). */
  chunks: 'chunks',
  /** The write that made the chunks (S): chunk keys include it, so a rewrite never mixes chunks. */
  generation: 'gen',
  /** Length of the stored (possibly compressed) value (N). */
  length: 'bytes',
  /** CRC-32 of the stored value (N): a torn or mixed assembly reads as a miss. */
  checksum: 'crc',
  /** Present when the value is deflate-compressed (S, "deflate-raw"). */
  compression: 'zip',
  /** A lease's holder (S) and the epoch ms it runs until (N). */
  holder: 'holder',
  until: 'until',
} as const;

export class Layout {
  readonly shards: number;
  readonly keyPrefix: string;
  readonly names: AttributeNames;

  constructor(shards: number, keyPrefix: string, names: AttributeNames) {
    this.shards = shards;
    this.keyPrefix = keyPrefix;
    this.names = names;
  }

  /** FNV-1a over the key's UTF-16 code units: stable across processes and releases. */
  shardOf(key: string): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) {
      hash ^= key.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    return (hash >>> 0) % this.shards;
  }

  partitionKey(partition: string, key: string): string {
    return this.shardPartitionKey(partition, this.shardOf(key));
  }

  shardPartitionKey(partition: string, shard: number): string {
    return `${this.keyPrefix}${partition}#${shard}`;
  }

  /** Every partition key value one cache partition spreads over. */
  allPartitionKeys(partition: string): string[] {
    return Array.from({ length: this.shards }, (_, shard) => this.shardPartitionKey(partition, shard));
  }

  chunkPartitionKey(headPartitionKey: string): string {
    return `${headPartitionKey}~chunks`;
  }

  /** Leases for collapsing misses across processes live beside the entries, per shard. */
  leasePartitionKey(headPartitionKey: string): string {
    return `${headPartitionKey}~leases`;
  }

  chunkSortKey(key: string, generation: string, index: number): string {
    return `${key}#${generation}#${index}`;
  }
}
