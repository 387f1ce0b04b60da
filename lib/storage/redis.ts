/**
 * RedisStorage: the storage contract on Redis or Valkey, through the official
 * client (`@redis/client`, what the `redis` package re-exports).
 *
 * Layout. A value lives under `<keyPrefix>{<partition>}:<key>` as a binary
 * string; its expiry is the key's own (`SET … PXAT`), so Redis drops it by
 * itself and nothing sweeps. The partition name is a hash tag: in a cluster,
 * every key of one partition maps to one slot, so multi-key commands (MGET,
 * UNLINK of a batch) stay legal; a busy partition then lives on one node.
 *
 * Listing (keys, entries, size, clear) uses SCAN with a cursor and a MATCH on
 * the partition's prefix, never KEYS: it walks the whole keyspace a page at a
 * time without blocking the server, and costs nothing on the request path
 * (no index to keep up on every write). It is for maintenance. In a cluster
 * (a cluster client, or a `redis+cluster://` URL) it walks each master in
 * turn, and again when the slot map changed meanwhile (see `routerOf`).
 *
 * Leases (collapsing misses across processes): `SET NX PX`, released by a
 * script that deletes the lease only if the token still holds it.
 *
 * Deadlines and fail-open come from the cache, as for every storage. A
 * client given by the caller stays the caller's: it is neither connected nor
 * closed here, and its `error` events are the caller's to listen to.
 *
 * A storage made from a URL connects in the background (a few hundred ms in
 * a fresh process: loading the client, then the connection). Until its
 * client is first ready, and for at most the connection's own timeout, it
 * says it is setting up (`settingUp`): a call that fails or passes its
 * deadline meanwhile is a miss, but no sign the server is down, and the
 * cache's breaker does not count it — a process under load from its first
 * moment (a new container, a Lambda cold start) does not skip its cache for
 * a cooldown. A server still unreachable after that counts as usual.
 */

import { describe } from '../describe.js';
import type { CompletePartition, LeaseAttempt, SetOptions, Storage } from './contract.js';
import { DeadlineSignals } from './deadline-signals.js';

/** What this storage needs of a client: node-redis's `sendCommand` (a `RedisClientType` of `@redis/client` ≥ 5). */
export interface RedisCommander {
  sendCommand(args: ReadonlyArray<string | Buffer>, options?: { typeMapping?: Record<number, unknown> }): Promise<unknown>;
}

/**
 * What this storage needs of a cluster client: node-redis's `RedisCluster`
 * (`createCluster({ rootNodes }).connect()`): a command sent with the key it
 * is routed by, and each master's own client, for listings.
 */
export interface RedisClusterCommander {
  sendCommand(
    firstKey: string | Buffer | undefined,
    isReadonly: boolean | undefined,
    args: ReadonlyArray<string | Buffer>,
    options?: { typeMapping?: Record<number, unknown> },
  ): Promise<unknown>;
  readonly masters: ReadonlyArray<{ readonly id: string; readonly host: string; readonly port: number }>;
  nodeClient(node: never): Promise<RedisCommander>;
}

export interface RedisStorageOptions {
  /** A connected node-redis client (`createClient().connect()`) or cluster client (`createCluster(…).connect()`), yours to close. */
  client?: RedisCommander | RedisClusterCommander;
  /**
   * Or a URL (`redis://127.0.0.1:6379`, `rediss://…`; a cluster: `redis+cluster://host:port,host:port`, any of its
   * nodes): the storage makes, connects and closes its own client.
   */
  url?: string;
  /** Prepended to every key. Default: "cachette:". */
  keyPrefix?: string;
  /** Keys per SCAN page, MGET and UNLINK batch. Default: 500. */
  batchSize?: number;
}

/** RESP3's and RESP2's blob string type: asked back as Buffers, not text. */
const BLOB_STRING = 36;
const AS_BUFFERS = { typeMapping: { [BLOB_STRING]: Buffer } };

/** How long a command may wait to be written (the client reconnecting): node-redis's own default. */
const COMMAND_TIMEOUT_MS = 5000;

/** What a command is sent with: its reply's blob strings as Buffers, and maybe a deadline (sharedCommandOptions). */
type CommandOptions = typeof AS_BUFFERS & { timeout?: number; abortSignal?: AbortSignal };

const RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export class RedisStorage implements Storage {
  /** Redis evicts keys under a `maxmemory-policy` other than `noeviction` (asked by `mayHaveEvicted`). */
  readonly capabilities = { evicts: true } as const;
  readonly keyPrefix: string;
  readonly #batchSize: number;
  readonly #client: Promise<Router>;
  readonly #owned: { close(): Promise<unknown> } | undefined;
  readonly #partitions = new Map<string, RedisPartition>();
  readonly #connection: Connection = { readyOnce: true, settingUpUntil: 0, listeners: new Set() };
  /** The URL of a single server whose client this storage made (what watching changes needs). */
  readonly #url: string | undefined;
  #watched = false;

  constructor(options: RedisStorageOptions) {
    if (options === null || typeof options !== 'object')
      throw new TypeError(`RedisStorage options must be an object with a client or a url, got ${describe(options)}`);
    const { client, url } = options;
    if ((client === undefined) === (url === undefined)) throw new TypeError('RedisStorage needs a client or a url (one of the two)');
    if (client !== undefined && typeof (client as Partial<RedisCommander>).sendCommand !== 'function') {
      throw new TypeError(`RedisStorage client must be a node-redis client (with sendCommand), got ${describe(client)}`);
    }
    if (url !== undefined && (typeof url !== 'string' || !/^(redis|rediss|valkey|valkeys)(\+cluster)?:\/\//.test(url))) {
      throw new TypeError(`RedisStorage url must be a redis://, rediss:// or redis+cluster:// URL, got ${describe(url)}`);
    }
    const keyPrefix = options.keyPrefix ?? 'cachette:';
    if (typeof keyPrefix !== 'string') throw new TypeError(`RedisStorage keyPrefix must be a string, got ${describe(keyPrefix)}`);
    const batchSize = options.batchSize ?? 500;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
      throw new TypeError(`RedisStorage batchSize must be a whole number from 1 to 10000, got ${describe(batchSize)}`);
    }
    this.keyPrefix = keyPrefix;
    this.#batchSize = batchSize;
    this.#url = url !== undefined && !url.includes('+cluster://') ? url : undefined;
    if (client !== undefined) {
      this.#client = Promise.resolve(routerOf(client));
      this.#owned = undefined;
    } else {
      this.#connection.readyOnce = false;
      this.#connection.settingUpUntil = performance.now() + CONNECT_TIMEOUT_MS;
      const owned = ownClient(url as string, this.#connection);
      this.#owned = { close: async () => (await owned).close() };
      this.#client = owned.then((made) => made.client);
      // Until a call awaits it, a failed connection must not be an unhandled rejection.
      this.#client.catch(() => undefined);
    }
  }

  partition(name: string): CompletePartition {
    let partition = this.#partitions.get(name);
    if (partition === undefined) {
      partition = new RedisPartition(this.#client, `${this.keyPrefix}{${name}}:`, this.#batchSize, this.#connection);
      this.#partitions.set(name, partition);
    }
    return partition;
  }

  /**
   * Whether Redis may evict keys (`capabilities.evicts`): unless its
   * `maxmemory-policy` is `noeviction`. A server that will not say (CONFIG
   * is disabled on managed services) may.
   */
  async mayHaveEvicted(): Promise<boolean> {
    try {
      const reply = (await (await this.#client).send(undefined, ['CONFIG', 'GET', 'maxmemory-policy'])) as unknown;
      const values = Array.isArray(reply) ? reply : reply !== null && typeof reply === 'object' ? Object.values(reply) : [];
      const policy = values.map(String).find((value) => value !== 'maxmemory-policy');
      return policy !== 'noeviction';
    } catch {
      return true;
    }
  }

  /**
   * Per-key news of what other processes change (the Storage contract's
   * `watchChanges`), through Redis's client-side caching: a connection of its
   * own (RESP3) receives the invalidations, and the storage's client asks for
   * them with `CLIENT TRACKING ON REDIRECT <that connection> BCAST PREFIX
   * <keyPrefix> NOLOOP` — every change of a key under the prefix by any other
   * connection, none of its own writes. Asked again whenever either
   * connection comes back (watching stops meanwhile). Only for a storage made
   * from a single server's URL: a caller's client, or a cluster (where each
   * master would need its own), cannot watch, nor a second memory tier over
   * the same storage while one watches: those rely on the generation stamp.
   */
  watchChanges(changed: (partition: string, key: string) => void, watching: (on: boolean) => void): (() => void) | undefined {
    const url = this.#url;
    // One watcher per storage: its connection's tracking redirects to one connection (a second tier goes by the stamp).
    if (url === undefined || this.#watched) return undefined;
    this.#watched = true;
    let stopped = false;
    let tracker: { close(): Promise<unknown>; destroy(): void; isReady: boolean } | undefined;
    let trackerId: string | undefined;
    let on = false;
    const set = (value: boolean): void => {
      if (stopped) return;
      if (!value && !on) return;
      on = value;
      watching(value);
    };
    const ask = async (): Promise<void> => {
      if (stopped || trackerId === undefined) return;
      try {
        const router = await this.#client;
        // Off first: tracking already on (for a tracker that reconnected since) takes no new redirection.
        await router.send(undefined, ['CLIENT', 'TRACKING', 'OFF']);
        await router.send(undefined, ['CLIENT', 'TRACKING', 'ON', 'REDIRECT', trackerId, 'BCAST', 'PREFIX', this.keyPrefix, 'NOLOOP']);
        set(true);
      } catch {
        set(false);
      }
    };
    const onMain = (ready: boolean): void => {
      if (ready) void ask();
      else set(false);
    };
    this.#connection.listeners.add(onMain);
    void (async () => {
      let module: typeof import('@redis/client');
      try {
        module = await import('@redis/client');
      } catch {
        return;
      }
      if (stopped) return;
      const client = module.createClient({
        url,
        RESP: 3,
        emitInvalidate: true,
        socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) },
      });
      tracker = client;
      client.on('error', () => undefined);
      client.on('invalidate', (key: string | Buffer | null) => {
        if (key === null) {
          // Everything (a FLUSHALL): as if watching started again.
          if (on) watching(true);
          return;
        }
        const name = String(key);
        if (!name.startsWith(this.keyPrefix) || name.endsWith(LEASE_SUFFIX)) return;
        const rest = name.slice(this.keyPrefix.length);
        const close = rest.indexOf('}:');
        if (rest[0] !== '{' || close === -1) return;
        changed(rest.slice(1, close), rest.slice(close + 2));
      });
      client.on('ready', async () => {
        try {
          trackerId = String(await client.sendCommand(['CLIENT', 'ID']));
          await ask();
        } catch {
          set(false);
        }
      });
      client.on('end', () => set(false));
      client.on('reconnecting', () => set(false));
      await client.connect().catch(() => undefined);
    })();
    return () => {
      stopped = true;
      this.#watched = false;
      this.#connection.listeners.delete(onMain);
      const closing = tracker;
      if (closing === undefined) return;
      if (closing.isReady) void closing.close().catch(() => undefined);
      else closing.destroy();
    };
  }

  async close(): Promise<void> {
    await this.#owned?.close();
  }
}

/**
 * A client of our own, from a URL. It connects in the background and keeps
 * reconnecting; commands sent meanwhile wait in its queue, and the cache's
 * deadlines (and breaker) bound what a request waits for them. Its `error`
 * events are swallowed: each failed call is reported by the cache that made it.
 */
async function ownClient(url: string, connection: Connection): Promise<{ client: Router; close(): Promise<unknown> }> {
  let module: typeof import('@redis/client');
  try {
    module = await import('@redis/client');
  } catch (error) {
    throw new Error('cachette/redis needs the @redis/client package (or redis), an optional peer dependency: npm install @redis/client', { cause: error });
  }
  const socket = { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) };
  const cluster = /^(\w+)\+cluster:\/\/(.*)$/.exec(url);
  if (cluster !== null) {
    // Any node of the cluster: the client learns the others (and their slots) from it.
    const scheme = cluster[1] as string;
    const rest = cluster[2] as string;
    const at = rest.lastIndexOf('@');
    const auth = at === -1 ? '' : rest.slice(0, at + 1);
    const [hosts = '', path = ''] = rest.slice(at + 1).split(/(?=[/?])/, 2);
    const rootNodes = hosts.split(',').map((host) => ({ url: `${scheme}://${auth}${host}${path}` }));
    const client = module.createCluster({ rootNodes, defaults: { socket } });
    client.on('error', () => undefined);
    const connected = client.connect().then(
      () => {
        connection.readyOnce = true;
      },
      () => undefined,
    );
    await connected;
    return {
      client: routerOf(client as unknown as RedisClusterCommander, sharedCommandOptions()),
      close: async () => {
        if (client.isOpen) await client.close();
        else client.destroy();
      },
    };
  }
  const client = module.createClient({ url, socket });
  client.on('error', () => undefined);
  client.on('ready', () => {
    connection.readyOnce = true;
    for (const listener of connection.listeners) listener(true);
  });
  client.on('end', () => {
    for (const listener of connection.listeners) listener(false);
  });
  client.on('reconnecting', () => {
    for (const listener of connection.listeners) listener(false);
  });
  void client.connect().catch(() => undefined);
  return {
    client: routerOf(client, sharedCommandOptions()),
    // Connected: finish what was sent, then close. Never connected: nothing to wait for.
    close: async () => {
      if (client.isReady) await client.close();
      else client.destroy();
    },
  };
}

/**
 * How commands reach the data: through one client, or through a cluster
 * client that routes each command by its key (every key of a partition is in
 * one slot: the partition name is a hash tag) and lists each master in turn.
 */
interface Router {
  /** A command about `key` (the first key it names), or about none. */
  send(key: string | undefined, args: Array<string | Buffer>): Promise<unknown>;
  /**
   * SCAN with this pattern over every server holding keys, a page at a time:
   * each master of a cluster in turn; a master that fails mid-listing (a
   * failover) is listed again, whole, from whichever node holds its slots
   * then — the caller drops the keys it has seen.
   */
  scan(pattern: string, count: number): AsyncIterable<Buffer[]>;
}

/**
 * What the commands of a client this storage made are sent with. node-redis
 * gives each command a timeout of its own (5 s by default): an AbortSignal and
 * a timer that live on for 5 s after the reply, so that under load most of
 * what the garbage collector copies and promotes is timers of commands long
 * answered. Here the commands that start together share one signal instead
 * (DeadlineSignals), with the same bound: a command still waiting to be
 * written fails after it, as before. A client handed in keeps its own options.
 */
function sharedCommandOptions(): () => CommandOptions {
  const signals = new DeadlineSignals();
  let current: CommandOptions | undefined;
  return () => {
    const abortSignal = signals.signal(COMMAND_TIMEOUT_MS);
    if (current?.abortSignal !== abortSignal) current = { ...AS_BUFFERS, timeout: 0, abortSignal };
    return current;
  };
}

/** `options`: what each command is sent with (a client handed in: only its replies as Buffers). */
function routerOf(client: RedisCommander | RedisClusterCommander, options: () => CommandOptions = () => AS_BUFFERS): Router {
  if (!isCluster(client)) {
    const one = client as RedisCommander;
    return { send: (_key, args) => one.sendCommand(args, options()), scan: (pattern, count) => scanNode(one, pattern, count) };
  }
  return {
    send: (key, args) => client.sendCommand(key, undefined, args, options()),
    async *scan(pattern, count) {
      const done = new Set<string>();
      // Which master holds which slots: a slot that moved while the masters were listed (a resharding, a
      // failover) may have taken keys from a master not listed yet to one listed already. Then every
      // master is listed again (the caller drops the keys it has seen), until the map holds still.
      const slots = async (): Promise<string> => {
        try {
          return JSON.stringify(await client.sendCommand(undefined, true, ['CLUSTER', 'SLOTS']));
        } catch {
          return '';
        }
      };
      for (let round = 0; round < MAX_LISTING_ROUNDS; round++) {
        const before = await slots();
        let failed: unknown;
        for (const master of client.masters.filter((one) => !done.has(`${one.host}:${one.port}`))) {
          try {
            yield* scanNode(await client.nodeClient(master as never), pattern, count);
            done.add(`${master.host}:${master.port}`);
          } catch (error) {
            failed = error;
          }
        }
        const after = await slots();
        if (failed === undefined && before !== '' && before === after) return;
        if (round === MAX_LISTING_ROUNDS - 1) {
          if (failed !== undefined) throw failed;
          return;
        }
        if (before !== after) done.clear();
        await new Promise((resolve) => setTimeout(resolve, 200 * (round + 1)));
      }
    },
  };
}

/** Times a cluster's listing goes round the masters it could not finish (a failover takes a few seconds). */
const MAX_LISTING_ROUNDS = 6;

function isCluster(client: RedisCommander | RedisClusterCommander): client is RedisClusterCommander {
  return typeof (client as Partial<RedisClusterCommander>).nodeClient === 'function' && 'masters' in client;
}

async function* scanNode(client: RedisCommander, pattern: string, count: number): AsyncIterable<Buffer[]> {
  let cursor = '0';
  do {
    const [next, found] = (await client.sendCommand(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(count)], AS_BUFFERS)) as [Buffer, Buffer[]];
    cursor = next.toString();
    if (found.length > 0) yield found;
  } while (cursor !== '0');
}

/** Whether a storage's own client was ever ready, and until when (performance.now) it counts as still setting up. */
interface Connection {
  readyOnce: boolean;
  settingUpUntil: number;
  /** Called each time the storage's own (single-server) client is ready, and each time it loses its connection. */
  listeners: Set<(ready: boolean) => void>;
}

const CONNECT_TIMEOUT_MS = 5000;

class RedisPartition implements CompletePartition {
  readonly capabilities = { leases: true } as const;
  readonly #client: Promise<Router>;
  /** `<keyPrefix>{<partition>}:` */
  readonly #prefix: string;
  readonly #batchSize: number;
  readonly #connection: Connection;

  constructor(client: Promise<Router>, prefix: string, batchSize: number, connection: Connection) {
    this.#client = client;
    this.#prefix = prefix;
    this.#batchSize = batchSize;
    this.#connection = connection;
  }

  /** The storage's client has not been ready yet, and may still be connecting: a failure now says nothing of the server. */
  get settingUp(): boolean {
    return !this.#connection.readyOnce && performance.now() < this.#connection.settingUpUntil;
  }

  /** A command about the keys of this partition, all in one slot: routed by the first (`key`). */
  async #send(args: Array<string | Buffer>, key = args[1] as string | Buffer | undefined): Promise<unknown> {
    return (await this.#client).send(key as string | undefined, args);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const value = await this.#send(['GET', this.#prefix + key]);
    return value === null || value === undefined ? undefined : (value as Buffer);
  }

  async getMany(keys: string[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    const unique = [...new Set(keys)];
    for (let start = 0; start < unique.length; start += this.#batchSize) {
      const batch = unique.slice(start, start + this.#batchSize);
      const values = (await this.#send(['MGET', ...batch.map((key) => this.#prefix + key)])) as Array<Buffer | null>;
      batch.forEach((key, i) => {
        const value = values[i];
        if (value !== null && value !== undefined) found.set(key, value);
      });
    }
    return found;
  }

  async set(key: string, value: Uint8Array, opts?: SetOptions): Promise<void> {
    if (typeof key !== 'string') throw new TypeError(`key must be a string, got ${describe(key)}`);
    if (!(value instanceof Uint8Array)) throw new TypeError(`value must be a Uint8Array, got ${describe(value)}`);
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const expiresAt = opts?.expiresAt;
    if (expiresAt === undefined) {
      await this.#send(['SET', this.#prefix + key, bytes]);
    } else if (expiresAt <= Date.now()) {
      // Already past: nothing to keep, and nothing older may stay.
      await this.#send(['UNLINK', this.#prefix + key]);
    } else {
      await this.#send(['SET', this.#prefix + key, bytes, 'PXAT', String(Math.ceil(expiresAt))]);
    }
  }

  async delete(key: string): Promise<boolean> {
    return Number(await this.#send(['UNLINK', this.#prefix + key])) > 0;
  }

  async has(key: string): Promise<boolean> {
    return Number(await this.#send(['EXISTS', this.#prefix + key])) > 0;
  }

  async bulkDelete(keys: Iterable<string>): Promise<number> {
    const unique = [...new Set(keys)];
    let deleted = 0;
    for (let start = 0; start < unique.length; start += this.#batchSize) {
      const batch = unique.slice(start, start + this.#batchSize).map((key) => this.#prefix + key);
      deleted += Number(await this.#send(['UNLINK', ...batch]));
    }
    return deleted;
  }

  async clear(): Promise<void> {
    for await (const page of this.#scan()) await this.#send(['UNLINK', ...page]);
  }

  async *keys(): AsyncIterable<string> {
    for await (const page of this.#scan()) for (const key of page) yield key.slice(this.#prefix.length);
  }

  async *entries(): AsyncIterable<[string, Uint8Array]> {
    for await (const page of this.#scan()) {
      const values = (await this.#send(['MGET', ...page])) as Array<Buffer | null>;
      for (let i = 0; i < page.length; i++) {
        const value = values[i];
        // Expired or deleted between the SCAN and the MGET: gone.
        if (value !== null && value !== undefined) yield [(page[i] as string).slice(this.#prefix.length), value];
      }
    }
  }

  async size(): Promise<number> {
    let count = 0;
    for await (const page of this.#scan()) count += page.length;
    return count;
  }

  /** The partition's keys, a page at a time (SCAN may return a key twice: each page is deduplicated against those seen). */
  async *#scan(): AsyncIterable<string[]> {
    const pattern = `${escapeGlob(this.#prefix)}*`;
    const seen = new Set<string>();
    for await (const found of (await this.#client).scan(pattern, this.#batchSize)) {
      const page: string[] = [];
      for (const raw of found) {
        const key = raw.toString('utf8');
        if (key.endsWith(LEASE_SUFFIX) || seen.has(key)) continue;
        seen.add(key);
        page.push(key);
      }
      if (page.length > 0) yield page;
    }
  }

  async acquireLease(key: string, ttlMs: number): Promise<LeaseAttempt> {
    const token = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    const leaseKey = this.#prefix + key + LEASE_SUFFIX;
    const taken = await this.#send(['SET', leaseKey, token, 'NX', 'PX', String(Math.max(1, Math.ceil(ttlMs)))]);
    if (taken !== null && taken !== undefined) return { token };
    const left = Number(await this.#send(['PTTL', leaseKey]));
    return { heldUntil: Date.now() + (left > 0 ? left : ttlMs) };
  }

  async releaseLease(key: string, token: string): Promise<void> {
    const leaseKey = this.#prefix + key + LEASE_SUFFIX;
    await this.#send(['EVAL', RELEASE_SCRIPT, '1', leaseKey, token], leaseKey);
  }
}

/** Leases live beside the values, under the value's key and this suffix (never listed). */
const LEASE_SUFFIX = '\u0000lease';

/** A SCAN MATCH pattern matching `text` literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
