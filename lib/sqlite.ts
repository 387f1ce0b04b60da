/** `cachette/sqlite`: the SQLite backend. Needs the optional peer dependency better-sqlite3. */
export { SCHEMA_VERSION, SqliteStorage, type SqliteStorageOptions } from './storage/sqlite.js';
