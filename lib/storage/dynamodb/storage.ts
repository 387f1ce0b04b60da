/**
 * DynamoDBStorage: the partitions of a cache in one DynamoDB table, laid out
 * as AWS recommends for a key-value cache — write-sharded partition keys,
 * Query (never Scan) to list and clear, batched reads and writes with
 * retries, TTL on expiry, values over the item limit split into chunks.
 *
 * A hit is one GetItem (eventually consistent by default). Reads carry a
 * deadline, so a stalled DynamoDB costs a request little; the cache above
 * turns errors into misses and opens its circuit breaker when they persist.
 */

import { randomUUID } from 'node:crypto';
import type {
  AttributeValue,
  DynamoDBClient as Client,
  DynamoDBClientConfig,
  QueryCommandInput,
  QueryCommandOutput,
  WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { describe } from '../../describe.js';
import { renamedTimeout, timeoutsInMs } from '../../timeouts.js';
import type { CompletePartition, LeaseAttempt, SetOptions, Storage } from '../contract.js';
import { StorageRequestError } from '../contract.js';
import { DeadlineSignals } from '../deadline-signals.js';
import { batchGet, batchWrite, DeleteBuffer, eachLimited, type Item, type ItemKey, type SendOptions, sendWithin } from './batch.js';
import { classify } from './errors.js';
import { type AttributeNames, DEFAULT_ATTRIBUTES, Layout, META } from './layout.js';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from './sdk.js';
import { createTable } from './table.js';
import { CHUNK_BYTES, checksum, pack, split, unpack } from './values.js';

export interface DynamoDBStorageOptions {
  tableName: string;
  /** Your own client (recommended in Lambda: one per module). */
  client?: Client;
  /** Configuration for the client this storage creates when none is given (region from the environment). */
  clientConfig?: DynamoDBClientConfig;
  /** Create the table (on-demand, TTL on) on first use, once per process for each region and endpoint. Default: false. */
  createTable?: boolean;
  /** Partition keys each cache partition spreads over (write sharding). Fixed for a table's life. Default: 8. */
  shards?: number;
  /** Prepended to partition key values, to live inside a single-table design. Default: "". */
  keyPrefix?: string;
  /** Attribute names, to live inside a single-table design. */
  attributes?: Partial<AttributeNames>;
  /**
   * Deadlines in seconds: of a read (get, getMany, has), default 0.5; of a
   * single write call, default 5. A cache over this storage keeps its own
   * deadlines too (its `timeouts`); these bound the storage used alone.
   */
  timeouts?: { read?: number; write?: number };
  /** Strongly consistent reads (twice the read cost). Default: false. */
  consistentRead?: boolean;
  /** Values at least this large are deflate-compressed (when it helps). Default: 8192 bytes. */
  compressionThreshold?: number;
  /** The largest value stored (compressed size, split into chunks past one item). Default: 16 MiB. */
  maxValueSize?: number;
  /** Shards listed, counted or cleared at once. Default: 4. */
  concurrency?: number;
}

const DEFAULTS = {
  shards: 8,
  timeouts: { read: 0.5, write: 5 },
  compressionThreshold: 8192,
  maxValueSize: 16 * 1024 * 1024,
  concurrency: 4,
};

/**
 * Tables this process has already made sure of, by where they are (the client's region and endpoint) and their
 * key schema: a hit never calls DescribeTable, and a table of the same name elsewhere (another region, DynamoDB
 * Local beside AWS) is made sure of on its own.
 */
const ensuredTables = new Map<string, Promise<void>>();

/** Where a client's requests go: its region and configured endpoint ('' for what it cannot say). */
async function locationOf(client: Client): Promise<string> {
  const config = (client as { config?: { region?: unknown; endpoint?: unknown } }).config;
  const resolve = async (value: unknown): Promise<unknown> => (typeof value === 'function' ? await (value as () => unknown)() : value);
  try {
    return JSON.stringify([await resolve(config?.region), await resolve(config?.endpoint)]);
  } catch {
    return '';
  }
}

interface Shared {
  client: Client;
  table: string;
  layout: Layout;
  names: AttributeNames;
  readMs: number;
  writeMs: number;
  consistentRead: boolean;
  compressionThreshold: number;
  maxValueSize: number;
  concurrency: number;
  ready: () => Promise<void>;
}

export class DynamoDBStorage implements Storage {
  readonly tableName: string;
  readonly client: Client;
  readonly #shared: Shared;
  readonly #ownsClient: boolean;
  readonly #partitions = new Map<string, DynamoPartition>();
  /** This storage's table made sure of (createTable: true). */
  #ensured: Promise<void> | undefined;

  constructor(options: DynamoDBStorageOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`DynamoDBStorage options must be an object with a tableName, got ${describe(options)}`);
    }
    const { tableName } = options;
    if (typeof tableName !== 'string' || !/^[a-zA-Z0-9_.-]{3,255}$/.test(tableName)) {
      throw new TypeError(`DynamoDBStorage tableName must be 3 to 255 letters, digits or "_.-", got ${describe(tableName)}`);
    }
    if (options.client !== undefined && typeof (options.client as Partial<Client>).send !== 'function') {
      throw new TypeError(`DynamoDBStorage client must be a DynamoDBClient, got ${describe(options.client)}`);
    }
    const shards = positiveInteger(options.shards, 'shards', DEFAULTS.shards);
    if (shards > 1000) throw new TypeError(`DynamoDBStorage shards must be at most 1000, got ${shards}`);
    const keyPrefix = options.keyPrefix ?? '';
    if (typeof keyPrefix !== 'string') throw new TypeError(`DynamoDBStorage keyPrefix must be a string, got ${describe(keyPrefix)}`);
    const names = { ...DEFAULT_ATTRIBUTES, ...checkAttributes(options.attributes) };
    renamedTimeout('DynamoDBStorage', options, ['readTimeout', 'writeTimeout'], 'timeouts: { read, write }');
    const timeouts = timeoutsInMs('DynamoDBStorage', options.timeouts, DEFAULTS.timeouts);

    this.tableName = tableName;
    this.#ownsClient = options.client === undefined;
    // Our own client: few attempts, so a throttling storm cannot hold a request for seconds.
    this.client = options.client ?? new DynamoDBClient({ maxAttempts: 3, ...options.clientConfig });
    const client = this.client;
    const createTableOnUse = options.createTable === true;
    const ensureKey = `${tableName}\u0000${names.partitionKey}\u0000${names.sortKey}`;
    this.#shared = {
      client,
      table: tableName,
      layout: new Layout(shards, keyPrefix, names),
      names,
      readMs: timeouts.read,
      writeMs: timeouts.write,
      consistentRead: options.consistentRead === true,
      compressionThreshold: positiveInteger(options.compressionThreshold, 'compressionThreshold', DEFAULTS.compressionThreshold),
      maxValueSize: positiveInteger(options.maxValueSize, 'maxValueSize', DEFAULTS.maxValueSize),
      concurrency: positiveInteger(options.concurrency, 'concurrency', DEFAULTS.concurrency),
      ready: createTableOnUse ? () => this.#ensure(ensureKey) : () => Promise.resolve(),
    };
  }

  /** Creates the table if needed (on-demand billing, TTL on `expires`) and waits until it is ACTIVE. */
  async createTable(): Promise<void> {
    await createTable(this.client, this.tableName, this.#shared.names);
  }

  partition(name: string): CompletePartition {
    let partition = this.#partitions.get(name);
    if (partition === undefined) {
      partition = new DynamoPartition(name, this.#shared);
      this.#partitions.set(name, partition);
    }
    return partition;
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.client.destroy();
  }

  #ensure(table: string): Promise<void> {
    if (this.#ensured !== undefined) return this.#ensured;
    const ensuring = locationOf(this.client).then((location) => {
      const key = `${location}\u0000${table}`;
      let ensured = ensuredTables.get(key);
      if (ensured === undefined) {
        ensured = this.createTable().catch((error: unknown) => {
          ensuredTables.delete(key);
          throw error;
        });
        ensuredTables.set(key, ensured);
      }
      return ensured;
    });
    // A failure is not remembered (this storage's, or another's it waited for): the next operation tries again.
    this.#ensured = ensuring;
    ensuring.catch(() => {
      if (this.#ensured === ensuring) this.#ensured = undefined;
    });
    return ensuring;
  }
}

class DynamoPartition implements CompletePartition {
  readonly capabilities = { sweeps: true, deleteByAge: true, leases: true } as const;
  readonly #name: string;
  readonly #s: Shared;
  /** Deadline signals shared by calls that start together (see DeadlineSignals). */
  readonly #deadlines = new DeadlineSignals();

  constructor(name: string, shared: Shared) {
    this.#name = name;
    this.#s = shared;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.#guard(async () => {
      const read = this.#readOptions();
      const { Item: item } = await sendWithin(read, (abortSignal) =>
        this.#s.client.send(
          new GetItemCommand({
            TableName: this.#s.table,
            Key: this.#key(key),
            ConsistentRead: this.#s.consistentRead,
          }),
          { abortSignal },
        ),
      );
      if (item === undefined || this.#expired(item)) return undefined;
      return this.#valueOf(key, item, read);
    });
  }

  async getMany(keys: string[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    if (keys.length === 0) return found;
    return this.#guard(async () => {
      const read = this.#readOptions();
      const unique = [...new Set(keys)];
      const items = await batchGet(
        this.#s.client,
        this.#s.table,
        unique.map((key) => this.#key(key)),
        { consistentRead: this.#s.consistentRead },
        read,
      );
      await Promise.all(
        items.map(async (item) => {
          if (this.#expired(item)) return;
          const key = item[this.#s.names.sortKey]?.S as string;
          const value = await this.#valueOf(key, item, read);
          if (value !== undefined) found.set(key, value);
        }),
      );
      return found;
    });
  }

  async set(key: string, value: Uint8Array, opts?: SetOptions): Promise<void> {
    if (typeof key !== 'string') throw new TypeError(`key must be a string, got ${describe(key)}`);
    if (!(value instanceof Uint8Array)) throw new TypeError(`value must be a Uint8Array, got ${describe(value)}`);
    await this.#guard(async () => {
      const { names, layout } = this.#s;
      const packed = await pack(value, this.#s.compressionThreshold);
      if (packed.bytes.byteLength > this.#s.maxValueSize) {
        throw new StorageRequestError(
          `value of ${packed.bytes.byteLength} bytes (stored size) is over the DynamoDBStorage maxValueSize of ${this.#s.maxValueSize}`,
          'too-large',
        );
      }
      const write = this.#writeOptions();
      const expires = opts?.expiresAt === undefined ? undefined : String(Math.ceil(opts.expiresAt / 1000));
      const head: Item = {
        ...this.#key(key),
        [names.created]: { N: String(Date.now()) },
        ...(expires === undefined ? {} : { [names.expires]: { N: expires } }),
        ...(packed.compressed ? { [META.compression]: { S: 'deflate-raw' } } : {}),
      };
      if (packed.bytes.byteLength <= CHUNK_BYTES) {
        head[names.value] = { B: packed.bytes };
      } else {
        // Chunks first, the head last: a reader finds either the old head (and its chunks) or the new one, complete.
        const generation = randomUUID().slice(0, 8);
        const chunks = split(packed.bytes);
        const chunkPk = layout.chunkPartitionKey(layout.partitionKey(this.#name, key));
        await batchWrite(
          this.#s.client,
          this.#s.table,
          chunks.map((chunk, index) => ({
            PutRequest: {
              Item: {
                [names.partitionKey]: { S: chunkPk },
                [names.sortKey]: { S: layout.chunkSortKey(key, generation, index) },
                [names.value]: { B: chunk },
                [names.created]: head[names.created] as AttributeValue,
                ...(expires === undefined ? {} : { [names.expires]: { N: expires } }),
              },
            },
          })),
          write,
        );
        head[META.chunks] = { N: String(chunks.length) };
        head[META.generation] = { S: generation };
        head[META.length] = { N: String(packed.bytes.byteLength) };
        head[META.checksum] = { N: String(checksum(packed.bytes)) };
      }
      const { Attributes: previous } = await sendWithin(write, (abortSignal) =>
        this.#s.client.send(
          new PutItemCommand({
            TableName: this.#s.table,
            Item: head,
            ReturnValues: 'ALL_OLD',
          }),
          { abortSignal },
        ),
      );
      if (previous !== undefined && previous[META.generation]?.S !== head[META.generation]?.S) {
        await this.#deleteChunks(key, previous, write);
      }
    });
  }

  async delete(key: string): Promise<boolean> {
    return this.#guard(async () => {
      const write = this.#writeOptions();
      const { Attributes: previous } = await sendWithin(write, (abortSignal) =>
        this.#s.client.send(
          new DeleteItemCommand({
            TableName: this.#s.table,
            Key: this.#key(key),
            ReturnValues: 'ALL_OLD',
          }),
          { abortSignal },
        ),
      );
      if (previous === undefined) return false;
      await this.#deleteChunks(key, previous, write);
      return !this.#expired(previous);
    });
  }

  async has(key: string): Promise<boolean> {
    return this.#guard(async () => {
      const { names } = this.#s;
      const { Item: item } = await sendWithin(this.#readOptions(), (abortSignal) =>
        this.#s.client.send(
          new GetItemCommand({
            TableName: this.#s.table,
            Key: this.#key(key),
            ConsistentRead: this.#s.consistentRead,
            ProjectionExpression: '#sk, #exp',
            ExpressionAttributeNames: { '#sk': names.sortKey, '#exp': names.expires },
          }),
          { abortSignal },
        ),
      );
      return item !== undefined && !this.#expired(item);
    });
  }

  async bulkDelete(keys: Iterable<string>): Promise<number> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return 0;
    return this.#guard(async () => {
      const { names } = this.#s;
      const write = this.#writeOptions();
      // One read first: it tells which keys exist (the count) and where their chunks are.
      const heads = await batchGet(
        this.#s.client,
        this.#s.table,
        unique.map((key) => this.#key(key)),
        {
          consistentRead: true,
          projection: '#sk, #exp, #chunks, #gen',
          names: { '#sk': names.sortKey, '#exp': names.expires, '#chunks': META.chunks, '#gen': META.generation },
        },
        write,
      );
      const requests: WriteRequest[] = [];
      let live = 0;
      for (const head of heads) {
        const key = head[names.sortKey]?.S as string;
        if (!this.#expired(head)) live += 1;
        requests.push({ DeleteRequest: { Key: this.#key(key) } });
        for (const chunkKey of this.#chunkKeys(key, head)) requests.push({ DeleteRequest: { Key: chunkKey } });
      }
      await batchWrite(this.#s.client, this.#s.table, requests, write);
      return live;
    });
  }

  async clear(): Promise<void> {
    await this.#guard(async () => {
      const { layout, names } = this.#s;
      const write = this.#writeOptions();
      const buffer = new DeleteBuffer(this.#s.client, this.#s.table, write);
      const partitionKeys = layout.allPartitionKeys(this.#name).flatMap((pk) => [pk, layout.chunkPartitionKey(pk), layout.leasePartitionKey(pk)]);
      await buffer.flushAfter(
        eachLimited(partitionKeys, this.#s.concurrency, async (pk) => {
          for await (const item of this.#query(pk, { projection: '#pk, #sk', names: { '#pk': names.partitionKey, '#sk': names.sortKey } })) {
            await buffer.add({ [names.partitionKey]: item[names.partitionKey] as AttributeValue, [names.sortKey]: item[names.sortKey] as AttributeValue });
          }
        }),
      );
    });
  }

  async *keys(): AsyncIterable<string> {
    const { layout, names } = this.#s;
    for (const pk of layout.allPartitionKeys(this.#name)) {
      const items = this.#query(pk, { live: true, projection: '#sk', names: { '#sk': names.sortKey } });
      for await (const item of this.#guardIterable(items)) yield item[names.sortKey]?.S as string;
    }
  }

  async *entries(): AsyncIterable<[string, Uint8Array]> {
    const { layout, names } = this.#s;
    for (const pk of layout.allPartitionKeys(this.#name)) {
      for await (const item of this.#guardIterable(this.#query(pk, { live: true }))) {
        const key = item[names.sortKey]?.S as string;
        const value = await this.#guard(() => this.#valueOf(key, item, this.#writeOptions()));
        if (value !== undefined) yield [key, value];
      }
    }
  }

  async size(): Promise<number> {
    return this.#guard(async () => {
      let total = 0;
      await eachLimited(this.#s.layout.allPartitionKeys(this.#name), this.#s.concurrency, async (pk) => {
        for await (const page of this.#queryPages(pk, { live: true, count: true })) total += page.Count ?? 0;
      });
      return total;
    });
  }

  async deleteExpired(now: number): Promise<number> {
    const seconds = Math.floor(now / 1000);
    return this.#sweep((names) => ({ filter: '#exp <= :cutoff', names: { '#exp': names.expires }, values: { ':cutoff': { N: String(seconds) } } }));
  }

  async deleteCreatedBefore(cutoff: number): Promise<number> {
    return this.#sweep((names) => ({ filter: '#created <= :cutoff', names: { '#created': names.created }, values: { ':cutoff': { N: String(cutoff) } } }));
  }

  /**
   * A lease is a conditional write: it succeeds when no one holds the key's
   * lease, or when the holder's lease has run out (a crashed holder).
   */
  async acquireLease(key: string, ttlMs: number): Promise<LeaseAttempt> {
    return this.#guard(async () => {
      const { names } = this.#s;
      const now = Date.now();
      const token = randomUUID();
      try {
        await sendWithin(this.#readOptions(), (abortSignal) =>
          this.#s.client.send(
            new PutItemCommand({
              TableName: this.#s.table,
              Item: {
                ...this.#leaseKey(key),
                [META.holder]: { S: token },
                [META.until]: { N: String(now + ttlMs) },
                // TTL removes leases nobody released (the holder crashed) a while after they ran out.
                [names.expires]: { N: String(Math.ceil((now + ttlMs) / 1000) + 60) },
              },
              ConditionExpression: 'attribute_not_exists(#sk) OR #until < :now',
              ExpressionAttributeNames: { '#sk': names.sortKey, '#until': META.until },
              ExpressionAttributeValues: { ':now': { N: String(now) } },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
            { abortSignal },
          ),
        );
        return { token };
      } catch (error) {
        if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
        const held = (error as { Item?: Item }).Item?.[META.until]?.N;
        return { heldUntil: held === undefined ? now + ttlMs : Number(held) };
      }
    });
  }

  async releaseLease(key: string, token: string): Promise<void> {
    await this.#guard(async () => {
      try {
        await sendWithin(this.#writeOptions(), (abortSignal) =>
          this.#s.client.send(
            new DeleteItemCommand({
              TableName: this.#s.table,
              Key: this.#leaseKey(key),
              ConditionExpression: '#holder = :token',
              ExpressionAttributeNames: { '#holder': META.holder },
              ExpressionAttributeValues: { ':token': { S: token } },
            }),
            { abortSignal },
          ),
        );
      } catch (error) {
        // Someone took it over after ours ran out: theirs to release.
        if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
      }
    });
  }

  #leaseKey(key: string): ItemKey {
    const { layout, names } = this.#s;
    return { [names.partitionKey]: { S: layout.leasePartitionKey(layout.partitionKey(this.#name, key)) }, [names.sortKey]: { S: key } };
  }

  /** Deletes, shard by shard, the heads (and their chunks) that match a filter; returns how many heads. */
  async #sweep(
    condition: (names: AttributeNames) => { filter: string; names: Record<string, string>; values: Record<string, AttributeValue> },
  ): Promise<number> {
    return this.#guard(async () => {
      const { layout, names } = this.#s;
      const write = this.#writeOptions();
      const buffer = new DeleteBuffer(this.#s.client, this.#s.table, write);
      const { filter, names: filterNames, values } = condition(names);
      let heads = 0;
      await buffer.flushAfter(
        eachLimited(layout.allPartitionKeys(this.#name), this.#s.concurrency, async (pk) => {
          const items = this.#query(pk, {
            filter,
            values,
            projection: '#sk, #chunks, #gen',
            names: { ...filterNames, '#sk': names.sortKey, '#chunks': META.chunks, '#gen': META.generation },
          });
          for await (const item of items) {
            const key = item[names.sortKey]?.S as string;
            heads += 1;
            await buffer.add(this.#key(key));
            for (const chunkKey of this.#chunkKeys(key, item)) await buffer.add(chunkKey);
          }
        }),
      );
      return heads;
    });
  }

  async #valueOf(key: string, item: Item, read: SendOptions): Promise<Uint8Array | undefined> {
    const { names } = this.#s;
    const compressed = item[META.compression] !== undefined;
    const inline = item[names.value]?.B;
    if (inline !== undefined) return this.#unpackOrMiss(key, inline, compressed);
    const chunkKeys = this.#chunkKeys(key, item);
    if (chunkKeys.length === 0) return undefined;
    const chunks = await batchGet(this.#s.client, this.#s.table, chunkKeys, { consistentRead: this.#s.consistentRead }, read);
    // A head whose chunks are missing (or mixed, or torn) is a miss, never a corrupt value.
    if (chunks.length !== chunkKeys.length) return undefined;
    const order = new Map(chunkKeys.map((chunkKey, index) => [chunkKey[names.sortKey]?.S as string, index]));
    const parts: Uint8Array[] = new Array(chunkKeys.length);
    for (const chunk of chunks) parts[order.get(chunk[names.sortKey]?.S as string) as number] = chunk[names.value]?.B as Uint8Array;
    const assembled = Buffer.concat(parts);
    if (assembled.byteLength !== Number(item[META.length]?.N) || checksum(assembled) !== Number(item[META.checksum]?.N)) return undefined;
    return this.#unpackOrMiss(key, assembled, compressed);
  }

  /** A stored value that does not inflate is a miss (bad bytes, not a failing table), and is deleted. */
  async #unpackOrMiss(key: string, bytes: Uint8Array, compressed: boolean): Promise<Uint8Array | undefined> {
    try {
      return await unpack(bytes, compressed);
    } catch {
      this.delete(key).catch(() => {});
      return undefined;
    }
  }

  #chunkKeys(key: string, head: Item): ItemKey[] {
    const count = Number(head[META.chunks]?.N ?? 0);
    const generation = head[META.generation]?.S;
    if (!(count > 0) || generation === undefined) return [];
    const { layout, names } = this.#s;
    const pk = layout.chunkPartitionKey(layout.partitionKey(this.#name, key));
    return Array.from({ length: count }, (_, index) => ({
      [names.partitionKey]: { S: pk },
      [names.sortKey]: { S: layout.chunkSortKey(key, generation, index) },
    }));
  }

  async #deleteChunks(key: string, head: Item, write: SendOptions): Promise<void> {
    const chunkKeys = this.#chunkKeys(key, head);
    if (chunkKeys.length > 0)
      await batchWrite(
        this.#s.client,
        this.#s.table,
        chunkKeys.map((chunkKey) => ({ DeleteRequest: { Key: chunkKey } })),
        write,
      );
  }

  async *#query(pk: string, options: QueryOptions): AsyncIterable<Item> {
    for await (const page of this.#queryPages(pk, options)) yield* page.Items ?? [];
  }

  async *#queryPages(pk: string, options: QueryOptions): AsyncIterable<{ Items?: Item[] | undefined; Count?: number | undefined }> {
    const { names } = this.#s;
    await this.#s.ready();
    const attributeNames: Record<string, string> = { '#pk': names.partitionKey, ...options.names };
    const attributeValues: Record<string, AttributeValue> = { ':pk': { S: pk }, ...options.values };
    const filters: string[] = [];
    if (options.live === true) {
      attributeNames['#exp'] = names.expires;
      attributeValues[':now'] = { N: String(Math.floor(Date.now() / 1000)) };
      filters.push('(attribute_not_exists(#exp) OR #exp > :now)');
    }
    if (options.filter !== undefined) filters.push(`(${options.filter})`);
    const input: QueryCommandInput = {
      TableName: this.#s.table,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: attributeNames,
      ExpressionAttributeValues: attributeValues,
      ...(filters.length === 0 ? {} : { FilterExpression: filters.join(' AND ') }),
      ...(options.projection === undefined ? {} : { ProjectionExpression: options.projection }),
      ...(options.count === true ? { Select: 'COUNT' as const } : {}),
    };
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page: QueryCommandOutput = await sendWithin(this.#writeOptions(), (abortSignal) =>
        this.#s.client.send(new QueryCommand({ ...input, ...(start === undefined ? {} : { ExclusiveStartKey: start }) }), { abortSignal }),
      );
      yield page;
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
  }

  #key(key: string): ItemKey {
    const { layout, names } = this.#s;
    return { [names.partitionKey]: { S: layout.partitionKey(this.#name, key) }, [names.sortKey]: { S: key } };
  }

  /** An item past its expires has not been deleted by TTL yet (that takes up to days): it is gone all the same. */
  #expired(item: Item): boolean {
    const expires = item[this.#s.names.expires]?.N;
    return expires !== undefined && Number(expires) * 1000 <= Date.now();
  }

  #readOptions(): SendOptions {
    return { timeout: this.#s.readMs, deadlines: this.#deadlines };
  }

  #writeOptions(): SendOptions {
    return { timeout: this.#s.writeMs, deadlines: this.#deadlines };
  }

  async #guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      await this.#s.ready();
      return await operation();
    } catch (error) {
      throw classify(error, this.#s.table);
    }
  }

  async *#guardIterable<T>(iterable: AsyncIterable<T>): AsyncIterable<T> {
    try {
      yield* iterable;
    } catch (error) {
      throw classify(error, this.#s.table);
    }
  }
}

interface QueryOptions {
  /** Leave out items past their expires. */
  live?: boolean;
  count?: boolean;
  filter?: string;
  projection?: string;
  names?: Record<string, string>;
  values?: Record<string, AttributeValue>;
}

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1) throw new TypeError(`DynamoDBStorage ${name} must be a positive integer, got ${describe(value)}`);
  return value as number;
}

function checkAttributes(attributes: unknown): Partial<AttributeNames> {
  if (attributes === undefined) return {};
  if (attributes === null || typeof attributes !== 'object')
    throw new TypeError(`DynamoDBStorage attributes must be an object of attribute names, got ${describe(attributes)}`);
  for (const [role, name] of Object.entries(attributes)) {
    if (!(role in DEFAULT_ATTRIBUTES))
      throw new TypeError(`DynamoDBStorage attributes has no "${role}" (known: ${Object.keys(DEFAULT_ATTRIBUTES).join(', ')})`);
    if (typeof name !== 'string' || name === '') throw new TypeError(`DynamoDBStorage attributes.${role} must be a non-empty string, got ${describe(name)}`);
  }
  return attributes as Partial<AttributeNames>;
}
