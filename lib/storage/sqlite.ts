/**
 * SqliteStorage: every partition in one SQLite file (better-sqlite3), WAL
 * journal, safe for several processes on one file. Schema versioned in its
 * own meta table, so a later release can migrate it.
 *
 * better-sqlite3 is synchronous, and SQLite's own busy handler sleeps: with
 * a busy timeout, a lock another process holds would stop the event loop —
 * every request of this process — for as long as it waits. So SQLite is
 * told not to wait (busy_timeout 0): a statement that finds the file locked
 * fails at once, and is tried again a moment later, asynchronously, until
 * `lockTimeout` has passed; a synchronous read (`getSync`) that finds it
 * locked says "ask get()". The event loop is held for one statement at a
 * time, never for a lock. (Running the database in a worker thread would free
 * the event loop too, but every hit would then cross threads: measured in
 * docs/storages.md.)
 */

import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { describe } from '../describe.js';
import type { CompletePartition, SetOptions, Storage } from './contract.js';

type Database = BetterSqlite3.Database;
type Statement<P extends unknown[] = unknown[], R = unknown> = BetterSqlite3.Statement<P, R>;
type DatabaseConstructor = new (filename: string, options?: BetterSqlite3.Options) => Database;

const require = createRequire(import.meta.url);

function loadDriver(): DatabaseConstructor {
  try {
    return require('better-sqlite3') as DatabaseConstructor;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && String((error as Error).message).includes('better-sqlite3')) {
      throw new Error('cachette/sqlite needs the better-sqlite3 package, an optional peer dependency: npm install better-sqlite3', { cause: error });
    }
    throw error;
  }
}

const DatabaseDriver = loadDriver();

export interface SqliteStorageOptions {
  /** The database file (created with its folders when missing, readable by its owner only), or ':memory:'. */
  path?: string;
  /** An open better-sqlite3 database to use instead of `path`; its owner closes it. */
  database?: Database;
  /** How long a call keeps trying while another process holds the lock, in seconds (asynchronously: the event loop is not held). Default: 5. */
  lockTimeout?: number;
  /** Path to the better-sqlite3 native addon, passed through to better-sqlite3 (bundlers, layers). */
  nativeBinding?: string;
}

/** The schema this release writes; each step migrates from the one before. */
const MIGRATIONS: Array<(db: Database) => void> = [
  // 1: one table for every partition; an index to sweep expired rows of a partition.
  (db) => {
    db.exec(`
      CREATE TABLE cachette_entries (
        partition TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        expires INTEGER,
        created INTEGER NOT NULL,
        UNIQUE (partition, key)
      );
      CREATE INDEX cachette_entries_expires ON cachette_entries (partition, expires) WHERE expires IS NOT NULL;
    `);
  },
];
export const SCHEMA_VERSION = MIGRATIONS.length;

const DEFAULT_LOCK_TIMEOUT_S = 5;
/** Rows per statement for multi-key operations (SQLite binds them as one JSON array). */
const CHUNK = 500;
/** Rows per page when listing, so that no read stays open across the caller's awaits. */
const KEYS_PAGE = 1000;
const ENTRIES_PAGE = 100;
/** The first pause before a statement that found the file locked is tried again, in ms; it doubles up to MAX_BUSY_PAUSE_MS. */
const FIRST_BUSY_PAUSE_MS = 1;
const MAX_BUSY_PAUSE_MS = 50;

interface Statements {
  get: Statement<[string, string, number], { value: unknown }>;
  has: Statement<[string, string, number], { found: number }>;
  set: Statement<[string, string, Uint8Array, number | null, number]>;
  delete: Statement<[string, string], { expires: number | null }>;
  getMany: Statement<[string, string, number], { key: string; value: unknown }>;
  bulkDelete: Statement<[string, string], { expires: number | null }>;
  keysPage: Statement<[string, string, number, number], { key: string }>;
  entriesPage: Statement<[string, string, number, number], { key: string; value: unknown }>;
  size: Statement<[string, number], { n: number }>;
  clear: Statement<[string]>;
  deleteExpired: Statement<[string, number]>;
  deleteCreatedBefore: Statement<[string, number]>;
}

export class SqliteStorage implements Storage {
  readonly path: string;
  readonly #db: Database;
  readonly #owned: boolean;
  readonly #statements: Statements;
  readonly #partitions = new Map<string, SqlitePartition>();
  /** How long a statement keeps being tried while the file is locked, ms. */
  readonly #busyMs: number;

  constructor(options: SqliteStorageOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`SqliteStorage options must be an object with a path, got ${describe(options)}`);
    }
    if ('busyTimeout' in options) throw new TypeError('SqliteStorage busyTimeout (milliseconds) became lockTimeout (seconds) in 1.0');
    const lockTimeout = options.lockTimeout ?? DEFAULT_LOCK_TIMEOUT_S;
    if (typeof lockTimeout !== 'number' || !Number.isFinite(lockTimeout) || lockTimeout < 0) {
      throw new TypeError(`SqliteStorage lockTimeout must be seconds (0 or more), got ${describe(lockTimeout)}`);
    }
    const busyTimeout = Math.round(lockTimeout * 1000);
    if (options.database !== undefined) {
      if (options.database === null || typeof (options.database as Partial<Database>).prepare !== 'function') {
        throw new TypeError(`SqliteStorage database must be an open better-sqlite3 Database, got ${describe(options.database)}`);
      }
      this.#db = options.database;
      this.#owned = false;
      this.path = this.#db.name;
    } else {
      if (typeof options.path !== 'string' || options.path === '') {
        throw new TypeError(`SqliteStorage path must be a file path or ":memory:", got ${describe(options.path)}`);
      }
      this.path = options.path === ':memory:' ? options.path : resolve(options.path);
      this.#db = openDatabase(this.path, options.nativeBinding);
      this.#owned = true;
    }
    this.#busyMs = busyTimeout;
    try {
      // Opening may wait for another process's lock (the schema, WAL): once, before any request.
      this.#db.pragma(`busy_timeout = ${busyTimeout}`);
      if (!this.#db.memory) this.#db.pragma('journal_mode = WAL');
      // With WAL, NORMAL is durable across application crashes and fast; only a power loss may drop the last commits.
      this.#db.pragma('synchronous = NORMAL');
      migrate(this.#db);
      this.#statements = prepare(this.#db);
      // From here on SQLite never waits for a lock itself (its wait would hold the event loop): see retryBusy.
      this.#db.pragma('busy_timeout = 0');
    } catch (error) {
      if (this.#owned) this.#db.close();
      throw explain(error, this.path);
    }
  }

  partition(name: string): CompletePartition {
    let partition = this.#partitions.get(name);
    if (partition === undefined) {
      partition = new SqlitePartition(name, this.#statements, this.#db, this.#busyMs);
      this.#partitions.set(name, partition);
    }
    return partition;
  }

  async close(): Promise<void> {
    if (this.#owned && this.#db.open) this.#db.close();
  }
}

class SqlitePartition implements CompletePartition {
  readonly capabilities = { syncReads: true, sweeps: true, deleteByAge: true } as const;
  readonly #name: string;
  readonly #sql: Statements;
  readonly #bulkDelete: (keys: string[]) => number;
  readonly #busyMs: number;

  constructor(name: string, statements: Statements, db: Database, busyMs: number) {
    this.#name = name;
    this.#sql = statements;
    this.#busyMs = busyMs;
    // One transaction for all chunks; IMMEDIATE takes the write lock up front, so it never has to upgrade (and deadlock).
    this.#bulkDelete = db.transaction((keys: string[]) => {
      const now = Date.now();
      let deleted = 0;
      for (let i = 0; i < keys.length; i += CHUNK) {
        for (const row of this.#sql.bulkDelete.all(this.#name, JSON.stringify(keys.slice(i, i + CHUNK)))) {
          if (row.expires === null || row.expires > now) deleted += 1;
        }
      }
      return deleted;
    }).immediate;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const row = await retryBusy(this.#busyMs, () => this.#sql.get.get(this.#name, key, Date.now()));
    return row === undefined ? undefined : bytes(row.value);
  }

  /**
   * better-sqlite3 is synchronous: a read needs no turn of the event loop
   * (WAL readers do not wait for writers). Null when the file is locked
   * (the caller asks get(), which waits without holding the event loop).
   */
  getSync(key: string): Uint8Array | undefined | null {
    let row: { value: unknown } | undefined;
    try {
      row = this.#sql.get.get(this.#name, key, Date.now());
    } catch (error) {
      if (isBusy(error)) return null;
      throw error;
    }
    return row === undefined ? undefined : bytes(row.value);
  }

  async getMany(keys: string[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    const now = Date.now();
    for (let i = 0; i < keys.length; i += CHUNK) {
      const rows = await retryBusy(this.#busyMs, () => this.#sql.getMany.all(this.#name, JSON.stringify(keys.slice(i, i + CHUNK)), now));
      for (const row of rows) {
        const value = bytes(row.value);
        if (value !== undefined) found.set(row.key, value);
      }
    }
    return found;
  }

  async set(key: string, value: Uint8Array, opts?: SetOptions): Promise<void> {
    if (typeof key !== 'string') throw new TypeError(`key must be a string, got ${describe(key)}`);
    if (!(value instanceof Uint8Array)) throw new TypeError(`value must be a Uint8Array, got ${describe(value)}`);
    const expiresAt = opts?.expiresAt;
    await retryBusy(this.#busyMs, () => this.#sql.set.run(this.#name, key, value, expiresAt === undefined ? null : Math.ceil(expiresAt), Date.now()));
  }

  async delete(key: string): Promise<boolean> {
    const row = await retryBusy(this.#busyMs, () => this.#sql.delete.get(this.#name, key));
    return row !== undefined && (row.expires === null || row.expires > Date.now());
  }

  async has(key: string): Promise<boolean> {
    return (await retryBusy(this.#busyMs, () => this.#sql.has.get(this.#name, key, Date.now()))) !== undefined;
  }

  async bulkDelete(keys: Iterable<string>): Promise<number> {
    const list = [...keys];
    if (list.length === 0) return 0;
    return retryBusy(this.#busyMs, () => this.#bulkDelete(list));
  }

  async clear(): Promise<void> {
    await retryBusy(this.#busyMs, () => this.#sql.clear.run(this.#name));
  }

  async *keys(): AsyncIterable<string> {
    let after = '';
    for (;;) {
      const rows = await retryBusy(this.#busyMs, () => this.#sql.keysPage.all(this.#name, after, Date.now(), KEYS_PAGE));
      for (const row of rows) yield row.key;
      if (rows.length < KEYS_PAGE) return;
      after = (rows[rows.length - 1] as { key: string }).key;
    }
  }

  async *entries(): AsyncIterable<[string, Uint8Array]> {
    let after = '';
    for (;;) {
      const rows = await retryBusy(this.#busyMs, () => this.#sql.entriesPage.all(this.#name, after, Date.now(), ENTRIES_PAGE));
      for (const row of rows) {
        const value = bytes(row.value);
        if (value !== undefined) yield [row.key, value];
      }
      if (rows.length < ENTRIES_PAGE) return;
      after = (rows[rows.length - 1] as { key: string }).key;
    }
  }

  async size(): Promise<number> {
    return (await retryBusy(this.#busyMs, () => this.#sql.size.get(this.#name, Date.now())))?.n ?? 0;
  }

  /** One indexed statement. */
  async deleteExpired(now: number): Promise<number> {
    return (await retryBusy(this.#busyMs, () => this.#sql.deleteExpired.run(this.#name, now))).changes;
  }

  async deleteCreatedBefore(cutoff: number): Promise<number> {
    return (await retryBusy(this.#busyMs, () => this.#sql.deleteCreatedBefore.run(this.#name, cutoff))).changes;
  }
}

function openDatabase(path: string, nativeBinding: string | undefined): Database {
  if (path !== ':memory:') {
    try {
      ensureFolder(dirname(path));
      // Create the file ourselves, readable and writable by its owner only; SQLite gives its -wal and -shm files the same mode.
      closeSync(openSync(path, 'a', 0o600));
    } catch (error) {
      throw new Error(`SqliteStorage cannot create its database at ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  try {
    return new DatabaseDriver(path, nativeBinding === undefined ? {} : { nativeBinding });
  } catch (error) {
    throw explain(error, path);
  }
}

/**
 * Creates a folder and its missing parents, owner-only. Done level by level:
 * Node 20's recursive mkdirSync loops forever on some paths (under /proc).
 */
function ensureFolder(folder: string): void {
  const missing: string[] = [];
  let current = folder;
  while (!existsSync(current)) {
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const level of missing) mkdirSync(level, { mode: 0o700 });
}

function migrate(db: Database): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS cachette_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const row = db.prepare("SELECT value FROM cachette_meta WHERE name = 'schema_version'").get() as { value: string } | undefined;
    const version = row === undefined ? 0 : Number(row.value);
    if (!Number.isInteger(version) || version > SCHEMA_VERSION) {
      throw new Error(`its schema version is ${row?.value}, newer than this cachette knows (${SCHEMA_VERSION}): upgrade cachette`);
    }
    for (let step = version; step < SCHEMA_VERSION; step++) (MIGRATIONS[step] as (db: Database) => void)(db);
    db.prepare("INSERT INTO cachette_meta (name, value) VALUES ('schema_version', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value").run(
      String(SCHEMA_VERSION),
    );
  }).immediate();
}

function prepare(db: Database): Statements {
  const live = '(expires IS NULL OR expires > ?)';
  const inKeys = 'key IN (SELECT value FROM json_each(?))';
  return {
    get: db.prepare(`SELECT value FROM cachette_entries WHERE partition = ? AND key = ? AND ${live}`),
    has: db.prepare(`SELECT 1 AS found FROM cachette_entries WHERE partition = ? AND key = ? AND ${live}`),
    set: db.prepare(`INSERT INTO cachette_entries (partition, key, value, expires, created) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (partition, key) DO UPDATE SET value = excluded.value, expires = excluded.expires, created = excluded.created`),
    delete: db.prepare('DELETE FROM cachette_entries WHERE partition = ? AND key = ? RETURNING expires'),
    getMany: db.prepare(`SELECT key, value FROM cachette_entries WHERE partition = ? AND ${inKeys} AND ${live}`),
    bulkDelete: db.prepare(`DELETE FROM cachette_entries WHERE partition = ? AND ${inKeys} RETURNING expires`),
    keysPage: db.prepare(`SELECT key FROM cachette_entries WHERE partition = ? AND key > ? AND ${live} ORDER BY key LIMIT ?`),
    entriesPage: db.prepare(`SELECT key, value FROM cachette_entries WHERE partition = ? AND key > ? AND ${live} ORDER BY key LIMIT ?`),
    size: db.prepare(`SELECT COUNT(*) AS n FROM cachette_entries WHERE partition = ? AND ${live}`),
    clear: db.prepare('DELETE FROM cachette_entries WHERE partition = ?'),
    deleteExpired: db.prepare('DELETE FROM cachette_entries WHERE partition = ? AND expires <= ?'),
    deleteCreatedBefore: db.prepare('DELETE FROM cachette_entries WHERE partition = ? AND created <= ?'),
  } as Statements;
}

/** A value column that is not a BLOB (a row written by something else) reads as missing. */
function bytes(value: unknown): Uint8Array | undefined {
  return value instanceof Uint8Array ? value : undefined;
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === 'SQLITE_LOCKED';
}

/**
 * Runs a statement, and while the file is locked by another process tries it
 * again after a pause that grows (with jitter), until `budgetMs` has passed:
 * then the lock's error is thrown (the caller's deadline has usually given up
 * well before). Never a synchronous wait.
 */
async function retryBusy<T>(budgetMs: number, operation: () => T): Promise<T> {
  const giveUpAt = performance.now() + budgetMs;
  for (let pause = FIRST_BUSY_PAUSE_MS; ; pause = Math.min(pause * 2, MAX_BUSY_PAUSE_MS)) {
    try {
      return operation();
    } catch (error) {
      if (!isBusy(error) || performance.now() >= giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, pause * (0.5 + Math.random())));
    }
  }
}

function explain(error: unknown, path: string): Error {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new Error(`SqliteStorage: ${path} is not a SQLite database (or it is corrupted)`, { cause: error });
  }
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'SQLITE_PERM') {
    return new Error(`SqliteStorage cannot open ${path} for writing: ${(error as Error).message}`, { cause: error });
  }
  return error instanceof Error && error.message.startsWith('SqliteStorage')
    ? error
    : new Error(`SqliteStorage cannot use ${path}: ${(error as Error).message}`, { cause: error });
}
