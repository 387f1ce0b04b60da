/**
 * A recording in a file, for a test suite (`cachette/testing`): one function
 * opens a cache in a recording mode over the file, with `fetch` and
 * `dispatcher` ready and the process-wide dispatcher to install and restore.
 *
 * The file's name says its form: `.db`/`.sqlite` a SQLite database (written
 * as requests are recorded), `.jsonl` the text form (sorted JSON Lines,
 * diff-friendly) and `.har` HAR 1.2 — both read into memory when opened and
 * written back by `close()` in the modes that record (through a temporary
 * file renamed over it: a run that crashes leaves the previous recording
 * whole).
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Dispatcher } from 'undici';
import { type CacheFetch, createCache, type HttpCache } from './cache.js';
import { describe } from './describe.js';
import type { CacheOptions } from './options.js';
import { type RecordingMode, resolveRecording } from './recording.js';
import { MemoryStorage } from './storage/memory.js';

export interface RecordingFileOptions extends Omit<CacheOptions, 'recording' | 'storage'> {
  /** The mode when `CACHETTE_RECORDING` names none. Default: `'replay-or-record'` (set `CACHETTE_RECORDING=replay` in CI). */
  mode?: RecordingMode;
  /** URL globs left to the network, unrecorded (see the `recording` option). */
  exclude?: string[];
}

export interface RecordingFile {
  /** The cache over the recording. */
  readonly cache: HttpCache;
  /** The runtime's fetch through the recording (see `cache.fetch`). */
  readonly fetch: CacheFetch;
  /** A dispatcher through the recording, for undici's request or a client's `dispatcher` option. */
  readonly dispatcher: Dispatcher;
  /** The mode in force (the environment's, or the option's). */
  readonly mode: RecordingMode;
  /** Makes the recording the process-wide dispatcher (Node's fetch, undici), until `close()`. */
  install(): void;
  /** Restores the dispatcher installed before, writes the recording (in the modes that record) and closes the cache. */
  close(): Promise<void>;
}

const FORMATS: Record<string, 'sqlite' | 'text' | 'har'> = { '.db': 'sqlite', '.sqlite': 'sqlite', '.sqlite3': 'sqlite', '.jsonl': 'text', '.har': 'har' };

/** Opens the recording in `file` (see the module's comment); a replay of a file that does not exist is an error. */
export async function openRecording(file: string, options: RecordingFileOptions = {}): Promise<RecordingFile> {
  if (typeof file !== 'string' || file === '') throw new TypeError(`openRecording() takes a file name, got ${describe(file)}`);
  const format = FORMATS[extname(file).toLowerCase()];
  if (format === undefined) throw new TypeError(`openRecording() takes a .db, .sqlite, .jsonl or .har file, got ${describe(file)}`);
  const { mode: wanted = 'replay-or-record', exclude, ...cacheOptions } = options;
  const recording = { mode: wanted, ...(exclude === undefined ? {} : { exclude }) };
  const mode = resolveRecording(recording, process.env['CACHETTE_RECORDING'])?.mode ?? 'off';
  const exists = existsSync(file);
  if (mode === 'replay' && !exists) {
    throw new TypeError(`no recording at ${file} to replay: record it first with CACHETTE_RECORDING=replay-or-record`);
  }
  let storage: CacheOptions['storage'];
  if (format === 'sqlite') {
    const { SqliteStorage } = await import('./storage/sqlite.js');
    storage = new SqliteStorage({ path: file });
  } else {
    // A recording in memory is never evicted: it is written back whole.
    storage = new MemoryStorage({ maxBytes: Number.POSITIVE_INFINITY, ...(cacheOptions.clock === undefined ? {} : { clock: cacheOptions.clock }) });
  }
  const cache = createCache({ ...cacheOptions, storage, recording });
  if (format !== 'sqlite' && exists) await cache.import(createReadStream(file));
  let installed = false;
  return {
    cache,
    fetch: cache.fetch,
    dispatcher: cache.dispatcher,
    mode,
    install() {
      cache.install();
      installed = true;
    },
    async close() {
      if (installed) cache.uninstall();
      await cache.settled();
      if (format !== 'sqlite' && (mode === 'record' || mode === 'replay-or-record' || mode === 'update')) {
        mkdirSync(dirname(file), { recursive: true });
        const temporary = `${file}.${process.pid}.tmp`;
        try {
          const out = createWriteStream(temporary);
          await cache.export(out, { format });
          out.end();
          await finished(out);
          renameSync(temporary, file);
        } finally {
          rmSync(temporary, { force: true });
        }
      }
      await cache.close();
    },
  };
}
