import { execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { sqliteStorage, tempFolder } from '../../fixtures/sqlite.js';
import { createCache, rawPartitions } from '../../lib/cache.js';
import type { Offering } from '../../lib/storage/contract.js';
import { SCHEMA_VERSION, type SqliteStorage } from '../../lib/storage/sqlite.js';
import { fetchText, NODE_CHILD_FLAGS, useOrigin } from '../support.js';
import { storageConformance } from './conformance.js';

const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const encode = (text: string) => new TextEncoder().encode(text);

describe('SqliteStorage', () => {
  let folder: ReturnType<typeof tempFolder>;
  beforeEach(() => {
    folder = tempFolder();
  });
  afterEach(() => {
    folder.remove();
  });

  describe('conformance (a file)', () => {
    storageConformance({
      create: () => sqliteStorage({ path: join(folder.path, 'cache.db') }),
      capabilities: { sweeps: true, syncReads: true, deleteByAge: true },
    });
  });

  describe("conformance (':memory:')", () => {
    storageConformance({ create: () => sqliteStorage({ path: ':memory:' }), capabilities: { sweeps: true, syncReads: true, deleteByAge: true } });
  });

  describe('the file', () => {
    it('is created with its missing folders, readable and writable by its owner only', async () => {
      const path = join(folder.path, 'deep', 'er', 'cache.db');
      const storage = sqliteStorage({ path });
      await storage.partition('p').set('k', encode('v'));
      await storage.close();
      expect(statSync(path).mode & 0o777).to.equal(0o600);
      expect(statSync(join(folder.path, 'deep')).mode & 0o777).to.equal(0o700);
    });

    it('uses WAL, synchronous=NORMAL and records its schema version', async () => {
      const path = join(folder.path, 'cache.db');
      const storage = sqliteStorage({ path });
      await storage.close();
      const db = openRaw(path);
      try {
        expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
        expect(db.prepare("SELECT value FROM cachette_meta WHERE name = 'schema_version'").pluck().get()).to.equal(String(SCHEMA_VERSION));
        const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cachette_entries'").pluck().all();
        expect(indexes).to.include('cachette_entries_expires');
        // The expiry sweep uses the index rather than scanning the table.
        const plan = db
          .prepare("EXPLAIN QUERY PLAN DELETE FROM cachette_entries WHERE partition = 'p' AND expires <= 5")
          .all()
          .map((row: { detail: string }) => row.detail)
          .join(' ');
        expect(plan).to.match(/USING INDEX cachette_entries_expires/);
      } finally {
        db.close();
      }
    });

    it('refuses a file written by a newer schema', async () => {
      const path = join(folder.path, 'cache.db');
      await sqliteStorage({ path }).close();
      const db = openRaw(path);
      db.prepare("UPDATE cachette_meta SET value = '99' WHERE name = 'schema_version'").run();
      db.close();
      expect(() => sqliteStorage({ path })).to.throw(/schema version is 99, newer than this cachette knows/);
    });

    it('keeps what was written across a close and a reopen', async () => {
      const path = join(folder.path, 'cache.db');
      const first = sqliteStorage({ path });
      await first.partition('p').set('k', encode('durable'));
      await first.close();
      const second = sqliteStorage({ path });
      expect(new TextDecoder().decode(await second.partition('p').get('k'))).to.equal('durable');
      await second.close();
    });
  });

  describe('bad input fails at construction with a clear error', () => {
    it('a path under a regular file', () => {
      const file = join(folder.path, 'plain.txt');
      writeFileSync(file, 'not a folder');
      expect(() => sqliteStorage({ path: join(file, 'cache.db') })).to.throw(/SqliteStorage cannot create its database at .*plain\.txt\/cache\.db/);
    });

    it('a place no one may write to', () => {
      expect(() => sqliteStorage({ path: '/proc/cachette/cache.db' })).to.throw(/SqliteStorage cannot create its database/);
    });

    it('a file that is not SQLite', () => {
      const file = join(folder.path, 'notes.db');
      writeFileSync(file, 'these are my notes, not a database '.repeat(200));
      expect(() => sqliteStorage({ path: file })).to.throw(/notes\.db is not a SQLite database/);
    });

    it('bad options', () => {
      expect(() => sqliteStorage({ path: '' })).to.throw(TypeError, /path must be a file path or ":memory:"/);
      expect(() => sqliteStorage({ path: 'x.db', lockTimeout: -1 })).to.throw(TypeError, /lockTimeout must be seconds/);
      expect(() => sqliteStorage({ path: 'x.db', busyTimeout: 5000 } as never)).to.throw(
        TypeError,
        /busyTimeout \(milliseconds\) became lockTimeout \(seconds\)/,
      );
      expect(() => sqliteStorage({ database: {} as never })).to.throw(TypeError, /better-sqlite3 Database/);
    });
  });

  describe('fast paths', () => {
    it("deleteExpired removes a partition's expired rows in one statement, and nothing else", async () => {
      const storage = sqliteStorage({ path: join(folder.path, 'cache.db') });
      const one = storage.partition('one') as Offering<'sweeps'>;
      const two = storage.partition('two') as Offering<'sweeps'>;
      for (let i = 0; i < 100; i++) {
        await one.set(`old${i}`, encode('x'), { expiresAt: Date.now() - 1000 });
        await two.set(`old${i}`, encode('x'), { expiresAt: Date.now() - 1000 });
      }
      await one.set('fresh', encode('x'), { expiresAt: Date.now() + 60_000 });
      await one.set('forever', encode('x'));
      expect(await one.deleteExpired(Date.now())).to.equal(100);
      expect(await one.size()).to.equal(2);
      expect(await two.deleteExpired(Date.now())).to.equal(100);
      await storage.close();
    });

    it('the cache uses them: delete({ expired }) and delete({ olderThan })', async () => {
      const storage = sqliteStorage({ path: join(folder.path, 'cache.db') });
      const cache = createCache({ storage });
      await rawPartitions(cache).responses.set('gone', encode('x'), { expiresAt: Date.now() - 1000 });
      await rawPartitions(cache).responses.set('kept', encode('x'), { expiresAt: Date.now() + 60_000 });
      expect(await cache.delete({ expired: true })).to.equal(1);
      expect(await cache.delete({ olderThan: new Date(Date.now() + 1000) })).to.equal(1);
      expect(await rawPartitions(cache).responses.size()).to.equal(0);
      await cache.close();
    });
  });

  describe('corrupt rows', () => {
    it('a value that is not a blob reads as missing', async () => {
      const path = join(folder.path, 'cache.db');
      const storage = sqliteStorage({ path });
      await storage.partition('p').set('k', encode('v'));
      await storage.close();
      const db = openRaw(path);
      db.prepare("UPDATE cachette_entries SET value = 'text, not bytes'").run();
      db.close();
      const reopened = sqliteStorage({ path });
      expect(await reopened.partition('p').get('k')).to.equal(undefined);
      await reopened.close();
    });

    describe('through the cache', () => {
      const env = useOrigin();

      it('a row of garbage bytes is a miss, not a crash, and is replaced', async () => {
        env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60' }, 'fresh from origin'));
        const storage = sqliteStorage({ path: join(folder.path, 'cache.db') });
        const cache = env.cache({ storage });
        await fetchText(cache, `${env.origin.url}/a`);
        await cache.settled();
        for await (const key of rawPartitions(cache).responses.keys()) await rawPartitions(cache).responses.set(key, new Uint8Array([1, 2, 3, 4, 5]));
        const result = await fetchText(cache, `${env.origin.url}/a`);
        expect(result.body).to.equal('fresh from origin');
        expect(result.cacheStatus).to.match(/fwd=uri-miss/);
        await cache.settled();
        expect((await fetchText(cache, `${env.origin.url}/a`)).cacheStatus).to.match(/hit/);
      });
    });
  });

  describe('several processes on one file', () => {
    it('4 processes × 2,000 entries at once: no failed request, no "database is locked", only values that were written', async function () {
      this.timeout(120_000);
      const path = join(folder.path, 'shared.db');
      // Create the schema first, as a deployed service would have.
      await sqliteStorage({ path }).close();
      const runs = await Promise.all([0, 1, 2, 3].map((id) => runNode(join(fixtures, 'sqlite-worker.js'), [path, String(id), '2000'])));
      for (const run of runs) {
        expect(run.code, run.stderr).to.equal(0);
        const report = JSON.parse(run.stdout) as { errors: string[]; writes: number; reads: number; invalid: number };
        expect(report.errors).to.deep.equal([]);
        expect(report.invalid).to.equal(0);
        expect(report.writes).to.equal(4000);
      }
      const storage = sqliteStorage({ path });
      expect(await storage.partition('responses').size()).to.equal(4 * 2000 + 50);
      await storage.close();
    });
  });

  describe('a lock another process holds', () => {
    const env = useOrigin();

    it('for 5 s (BEGIN EXCLUSIVE): the event loop is never held, every request is answered, the write made meanwhile lands or is counted', async function () {
      this.timeout(60_000);
      const path = join(folder.path, 'locked.db');
      for (let i = 0; i < 20; i++) env.origin.route(`/r${i}`, respond(200, { 'cache-control': 'max-age=600' }, `r${i}`));
      env.origin.route('/new', respond(200, { 'cache-control': 'max-age=600' }, 'new'));
      const cache = env.cache({ storage: sqliteStorage({ path }) });
      for (let i = 0; i < 20; i++) await fetchText(cache, `${env.origin.url}/r${i}`);
      await cache.settled();

      const locker = spawn(process.execPath, [...NODE_CHILD_FLAGS, join(fixtures, 'sqlite-locker.js'), path, '5000'], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => locker.stdout.once('data', () => resolve()));
      const delay = monitorEventLoopDelay({ resolution: 5 });
      delay.enable();
      const released = new Promise<void>((resolve) => locker.once('exit', () => resolve()));
      let answered = 0;
      let lockHeld = true;
      void released.then(() => {
        lockHeld = false;
      });
      const clients = Array.from({ length: 20 }, async (_, client) => {
        for (let round = 0; lockHeld; round++) {
          const fetched = await fetchText(cache, `${env.origin.url}/r${(client + round) % 20}`);
          expect(fetched.body).to.equal(`r${(client + round) % 20}`);
          answered += 1;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      });
      // One new URL, to store while the lock is held.
      expect((await fetchText(cache, `${env.origin.url}/new`)).body).to.equal('new');
      await Promise.all(clients);
      delay.disable();
      expect(answered).to.be.greaterThan(100);
      expect(delay.max / 1e6, 'the longest the event loop was held, ms').to.be.below(50);
      await cache.settled();
      // The write made while the lock was held landed after it, or gave up at its deadline, counted: never lost silently.
      const after = await fetchText(cache, `${env.origin.url}/new`);
      if (!/; hit/.test(after.cacheStatus ?? '')) expect(cache.stats().storageErrors).to.be.greaterThan(0);
      await cache.settled();
      expect((await fetchText(cache, `${env.origin.url}/new`)).cacheStatus).to.match(/; hit/);
    });
  });

  describe('crash safety', () => {
    it('a process killed (SIGKILL) mid write burst leaves a database the next process opens and reads', async function () {
      this.timeout(60_000);
      const path = join(folder.path, 'crash.db');
      const child = spawn(process.execPath, [...NODE_CHILD_FLAGS, join(fixtures, 'sqlite-crasher.js'), path], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk) => String(chunk).includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`the writer exited early (${code}): ${stderr}`)));
      });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      expect(existsSync(`${path}-wal`), 'killed with a WAL to recover').to.equal(true);

      const storage: SqliteStorage = sqliteStorage({ path });
      const partition = storage.partition('responses');
      let count = 0;
      for await (const [, value] of partition.entries()) {
        expect(value.byteLength).to.be.at.least(1000);
        count += 1;
      }
      expect(count).to.equal(await partition.size());
      expect(count).to.be.above(0);
      await partition.set('after-crash', encode('writable'));
      expect(await partition.has('after-crash')).to.equal(true);
      await storage.close();
      const check = execFileSync(process.execPath, [...NODE_CHILD_FLAGS, '--input-type=module', '-e', integrityCheck(path)], { encoding: 'utf8' }).trim();
      expect(check).to.equal('ok');
    });
  });
});

/** The file opened with better-sqlite3 directly, to look behind the storage's back. */
function openRaw(path: string) {
  const Database = createRequire(import.meta.url)('better-sqlite3');
  return new Database(path);
}

function runNode(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...NODE_CHILD_FLAGS, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function integrityCheck(path: string): string {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  return `
    import { createRequire } from 'node:module';
    const Database = createRequire(${JSON.stringify(`${root}package.json`)})('better-sqlite3');
    const db = new Database(${JSON.stringify(path)});
    console.log(db.pragma('integrity_check', { simple: true }));
    db.close();
  `;
}
