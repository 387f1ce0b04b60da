/** `cachette/sqlite`: the SQLite backend. Needs the optional peer dependency better-sqlite3. */
export { SqliteStorage, SCHEMA_VERSION, type SqliteStorageOptions } from './storage/sqlite.js';
