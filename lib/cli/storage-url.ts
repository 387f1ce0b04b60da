/**
 * Storages named by a URL-like string, for the CLI:
 *
 *   sqlite:./http.db                 a SQLite file (a cachette database; made when a command fills it)
 *   dynamodb://table?region=eu-west-1&endpoint=http://localhost:8000&shards=8
 *   redis://127.0.0.1:6379/0?keyPrefix=cachette:   (rediss:// with TLS)
 *   redis+cluster://10.0.0.1:6379,10.0.0.2:6379     (a cluster: any of its nodes)
 *
 * Each backend's optional peer is loaded only when named.
 */

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Storage } from '../storage/contract.js';

/** A failure the user can fix: the message says how. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A storage that cannot be reached or used as it is (a missing table, no credentials...). */
export class StorageSetupError extends Error {
  override readonly name = 'StorageSetupError';
}

/** What a command that fills a storage may make: a new SQLite file, and a DynamoDB table when asked (`--create-table`). */
export interface CreateOptions {
  create: boolean;
  createTable: boolean;
}

export async function openStorage(url: string, create?: CreateOptions): Promise<Storage> {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length).replace(/^\/\/(?=\.|\/)/, ''), create?.create === true);
  if (url.startsWith('dynamodb://')) return openDynamo(url, create?.createTable === true);
  if (/^rediss?(\+cluster)?:\/\//.test(url)) return openRedis(url);
  throw new UsageError(`unknown storage ${JSON.stringify(url)}: name one as sqlite:./http.db, dynamodb://table?region=… or redis://host:port`);
}

async function openSqlite(path: string, create: boolean): Promise<Storage> {
  if (path === '') throw new UsageError('sqlite: needs a file path, as in sqlite:./http.db');
  const file = resolve(path);
  const { default: Database } = await import('better-sqlite3').catch((error: unknown) => {
    throw new StorageSetupError('sqlite: storages need the better-sqlite3 package: npm install better-sqlite3', { cause: error });
  });
  const { SqliteStorage } = await import('../storage/sqlite.js');
  if (!existsSync(file)) {
    // A command that reads never makes an empty cache by mistake; one that fills a cache (import, copy --to) makes it.
    if (!create) throw new StorageSetupError(`no such file: ${file} (import or copy --to make one; a cache makes its own)`);
    return new SqliteStorage({ path: file });
  }
  let tables: string[];
  try {
    const probe = new Database(file, { readonly: true, fileMustExist: true });
    try {
      tables = (probe.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((row) => row.name);
    } finally {
      probe.close();
    }
  } catch (error) {
    throw new StorageSetupError(`${file} is not a SQLite database (${(error as Error).message})`, { cause: error });
  }
  if (!tables.includes('cachette_entries')) throw new StorageSetupError(`${file} is a SQLite database, but not a cachette one (no cachette_entries table)`);
  return new SqliteStorage({ path: file });
}

async function openRedis(url: string): Promise<Storage> {
  // A cluster's URL names several nodes (host:port,host:port): not one URL's authority, so the query is split off by hand.
  const question = url.indexOf('?');
  const base = question === -1 ? url : url.slice(0, question);
  const search = new URLSearchParams(question === -1 ? '' : url.slice(question + 1));
  const keyPrefix = search.get('keyPrefix') ?? undefined;
  for (const name of search.keys()) if (name !== 'keyPrefix') throw new UsageError(`unknown redis:// parameter ${name} (known: keyPrefix)`);
  const parsed = { host: base.replace(/^\w+(\+cluster)?:\/\/([^@]*@)?/, '').replace(/\/.*$/, '') };
  const { RedisStorage } = await import('../storage/redis.js');
  const storage = new RedisStorage({ url: base, ...(keyPrefix === undefined ? {} : { keyPrefix }) });
  try {
    // Connects now: an unreachable server is said here, not as a listing that waits forever.
    let timer: NodeJS.Timeout | undefined;
    const timeUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
    });
    try {
      await Promise.race([storage.partition('responses').get('cachette-cli-probe'), timeUp]);
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    await storage.close().catch(() => undefined);
    throw new StorageSetupError(`cannot reach Redis at ${parsed.host}: ${(error as Error)?.message ?? String(error)} (is redis-server running?)`, {
      cause: error,
    });
  }
  return storage;
}

async function openDynamo(url: string, createTable: boolean): Promise<Storage> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`not a storage URL: ${JSON.stringify(url)} (dynamodb://table?region=…&endpoint=…)`);
  }
  const table = decodeURIComponent(parsed.hostname + parsed.pathname).replace(/\/$/, '');
  if (table === '') throw new UsageError('dynamodb:// needs a table name, as in dynamodb://my-table?region=eu-west-1');
  const known = new Set(['region', 'endpoint', 'shards', 'keyPrefix']);
  for (const name of parsed.searchParams.keys()) {
    if (!known.has(name)) throw new UsageError(`unknown dynamodb:// parameter ${name} (known: ${[...known].join(', ')})`);
  }
  const region = parsed.searchParams.get('region') ?? undefined;
  const endpoint = parsed.searchParams.get('endpoint') ?? undefined;
  const shardsText = parsed.searchParams.get('shards');
  const shards = shardsText === null ? undefined : Number(shardsText);
  if (shards !== undefined && !(Number.isInteger(shards) && shards > 0)) throw new UsageError(`shards must be a positive whole number, got ${shardsText}`);
  const sdk = await import('@aws-sdk/client-dynamodb').catch((error: unknown) => {
    throw new StorageSetupError('dynamodb:// storages need the AWS SDK: npm install @aws-sdk/client-dynamodb', { cause: error });
  });
  const client = new sdk.DynamoDBClient({ ...(region === undefined ? {} : { region }), ...(endpoint === undefined ? {} : { endpoint }) });
  const { DynamoDBStorage } = await import('../storage/dynamodb/storage.js');
  const storage = new DynamoDBStorage({
    tableName: table,
    client,
    ...(shards === undefined ? {} : { shards }),
    ...(parsed.searchParams.has('keyPrefix') ? { keyPrefix: parsed.searchParams.get('keyPrefix') as string } : {}),
  });
  try {
    await client.send(new sdk.DescribeTableCommand({ TableName: table }));
  } catch (error) {
    const name = (error as { name?: string } | null)?.name;
    if (name === 'ResourceNotFoundException' && createTable) {
      try {
        await storage.createTable();
      } catch (creating) {
        client.destroy();
        throw new StorageSetupError(`cannot create DynamoDB table ${table}: ${(creating as Error)?.message ?? String(creating)}`, { cause: creating });
      }
    } else if (name !== 'AccessDeniedException') {
      // (Allowed to read and write items but not to describe tables: go on, the first call will tell.)
      client.destroy();
      throw explainAwsError(error, table, region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION']);
    }
  }
  // The CLI made the client: closing the storage closes it too.
  return {
    partition: (name) => storage.partition(name),
    close: async () => {
      await storage.close();
      client.destroy();
    },
  };
}

function explainAwsError(error: unknown, table: string, region: string | undefined): Error {
  const name = (error as { name?: string } | null)?.name ?? '';
  const where = region === undefined ? '' : ` in ${region}`;
  if (name === 'ResourceNotFoundException') {
    return new StorageSetupError(
      `DynamoDB table ${table} does not exist${where}: import and copy make it with --create-table; or create it with new DynamoDBStorage({ tableName, createTable: true }) or your infrastructure code`,
    );
  }
  if (name === 'CredentialsProviderError' || /credential/i.test(String((error as Error)?.message))) {
    return new StorageSetupError('no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  }
  if (/region/i.test(String((error as Error)?.message)) && region === undefined) {
    return new StorageSetupError('no AWS region: add ?region=… to the storage URL or set AWS_REGION');
  }
  return new StorageSetupError(`DynamoDB table ${table}${where} cannot be used: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}
