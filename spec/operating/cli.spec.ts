/**
 * The `cachette` command, run as users run it: the real bin in a process of
 * its own, against SQLite files and DynamoDB Local filled by a real cache.
 */

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { dropTables, dynamoStorage, uniqueTableName } from '../../fixtures/dynamodb.js';
import { dynamoEndpoint } from '../../fixtures/dynamodb-local.js';
import { respond } from '../../fixtures/origin.js';
import { startRedis } from '../../fixtures/redis-server.js';
import { sqliteStorage, tempFolder } from '../../fixtures/sqlite.js';
import { createCache } from '../../lib/cache.js';
import { BIN, cachette, fetchText, NODE_CHILD_FLAGS, useOrigin } from '../support.js';

describe('the cachette command', function () {
  this.timeout(60_000);
  const env = useOrigin();
  const folder = tempFolder();
  let file: string;
  let made = 0;

  after(() => folder.remove());

  /** A SQLite cache holding three tagged responses, written by a real cache and closed. */
  async function filledSqlite(): Promise<string> {
    const path = join(folder.path, `cli-${made++}.db`);
    env.origin.route('/users', respond(200, { 'cache-control': 'max-age=600', 'cache-tag': 'users' }, 'users'));
    env.origin.route('/orders', respond(200, { 'cache-control': 'max-age=600', 'cache-tag': 'orders' }, 'orders'));
    env.origin.route('/old', respond(200, { 'cache-control': 'max-age=600' }, 'old'));
    const cache = createCache({ storage: sqliteStorage({ path }), cacheTagsHeader: 'cache-tag', namespace: 'app' });
    for (const path of ['/users', '/orders', '/old']) await fetchText(cache, `${env.origin.url}${path}`);
    await cache.close();
    return path;
  }

  beforeEach(async () => {
    file = await filledSqlite();
  });

  it('stats counts entries by state and by host', async () => {
    const ran = await cachette(['stats', '--storage', `sqlite:${file}`, '--namespace', 'app', '--json']);
    expect(ran.code, ran.stderr).to.equal(0);
    const stats = JSON.parse(ran.stdout);
    expect(stats).to.include({ entries: 3, fresh: 3, stale: 0, unusable: 0, bytes: 14 });
    expect(stats.hosts[new URL(env.origin.url).host]).to.deep.equal({ entries: 3, bytes: 14 });
    const plain = await cachette(['stats', '--storage', `sqlite:${file}`, '--namespace', 'app']);
    expect(plain.stdout).to.match(/^entries {3}3 \(3 fresh, 0 stale, 0 unusable\)$/m);
  });

  it('ls lists entries, filtered, as lines or JSON lines; the storage can come from CACHETTE_STORAGE', async () => {
    const all = await cachette(['ls', '--namespace', 'app'], { env: { CACHETTE_STORAGE: `sqlite:${file}` } });
    expect(all.code, all.stderr).to.equal(0);
    expect(all.stdout.trim().split('\n')).to.have.length(3);
    expect(all.stdout).to.match(/fresh {5}200 {2}\s+5 B {2}\S+ {2}GET {2}http:\/\/127\.0\.0\.1:\d+\/users {2}\[users\]/);
    const tagged = await cachette(['ls', '--storage', `sqlite:${file}`, '--namespace', 'app', '--tag', 'orders', '--json']);
    const lines = tagged.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((entry) => entry.url)).to.deep.equal([`${env.origin.url}/orders`]);
    const prefixed = await cachette(['ls', '--storage', `sqlite:${file}`, '--namespace', 'app', '--prefix', `${env.origin.url}/o*`, '--json']);
    expect(
      prefixed.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).url)
        .sort(),
    ).to.deep.equal([`${env.origin.url}/old`, `${env.origin.url}/orders`]);
  });

  it('show prints one URL’s entry; nothing stored is exit code 3', async () => {
    const ran = await cachette(['show', `${env.origin.url}/users`, '--storage', `sqlite:${file}`, '--namespace', 'app']);
    expect(ran.code, ran.stderr).to.equal(0);
    expect(ran.stdout)
      .to.match(/^ {2}status {7}200$/m)
      .and.match(/^ {2}tags {9}users$/m);
    const missing = await cachette(['show', `${env.origin.url}/nope`, '--storage', `sqlite:${file}`, '--namespace', 'app']);
    expect([missing.code, missing.stderr]).to.deep.equal([3, `nothing stored for ${env.origin.url}/nope\n`]);
  });

  it('purge by tag, by URL, by prefix; --all asks, and without a terminal refuses unless --yes', async () => {
    const base = ['--storage', `sqlite:${file}`, '--namespace', 'app'];
    expect((await cachette(['purge', '--tag', 'users', '--soft', ...base])).stdout).to.equal('1 response made stale\n');
    expect((await cachette(['ls', '--tag', 'users', '--state', 'stale', ...base, '--json'])).stdout).to.include('/users');
    expect((await cachette(['purge', '--all', '--soft', ...base])).code).to.equal(2);
    expect((await cachette(['purge', '--tag', 'users', ...base])).stdout).to.equal('1 record deleted\n');
    expect((await cachette(['purge', '--url', `${env.origin.url}/old`, ...base, '--json'])).stdout).to.equal('{"deleted":1}\n');
    const refused = await cachette(['purge', '--all', ...base]);
    expect(refused.code).to.equal(4);
    expect(refused.stderr).to.match(/without --yes/);
    expect((await cachette(['purge', '--all', '--yes', ...base])).stdout).to.equal('1 record deleted\n');
    expect(JSON.parse((await cachette(['stats', ...base, '--json'])).stdout).entries).to.equal(0);
  });

  it('export, then import into another SQLite file, keeps entries and their expiries', async () => {
    const exported = join(folder.path, 'export.jsonl');
    const out = await cachette(['export', '--storage', `sqlite:${file}`, '--namespace', 'app', '--output', exported]);
    expect(out.code, out.stderr).to.equal(0);
    expect(out.stdout).to.equal(`3 records exported to ${exported}\n`);
    // Into a file that does not exist yet: import makes it (a command that only reads never does).
    const other = join(folder.path, 'other.db');
    const unread = await cachette(['ls', '--storage', `sqlite:${other}`]);
    expect(unread.code).to.equal(1);
    expect(unread.stderr).to.match(/no such file: .*other\.db \(import or copy --to make one/);
    const imported = await cachette(['import', '--storage', `sqlite:${other}`, '--namespace', 'app', '--input', exported]);
    expect(imported.code, imported.stderr).to.equal(0);
    expect(imported.stdout).to.equal('3 records imported, 0 skipped (expired, unreadable or too large)\n');
    // Through standard input as well.
    const piped = await cachette(['import', '--storage', `sqlite:${other}`, '--namespace', 'app'], { input: readFileSync(exported, 'utf8') });
    expect(piped.code, piped.stderr).to.equal(0);
    const listed = (args: string[]) => cachette(['ls', ...args, '--namespace', 'app', '--json']);
    const strip = (text: string) =>
      text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line))
        .sort((a, b) => a.key.localeCompare(b.key));
    expect(strip((await listed(['--storage', `sqlite:${other}`])).stdout)).to.deep.equal(strip((await listed(['--storage', `sqlite:${file}`])).stdout));
  });

  it('export --format text and --format har; import reads either back', async () => {
    const base = ['--storage', `sqlite:${file}`, '--namespace', 'app'];
    const text = await cachette(['export', ...base, '--format', 'text']);
    expect(text.code, text.stderr).to.equal(0);
    expect(JSON.parse(text.stdout.split('\n')[0] as string)).to.include({ kind: 'cachette-recording' });
    const har = await cachette(['export', ...base, '--format', 'har']);
    expect(JSON.parse(har.stdout).log.entries).to.have.length(3);
    for (const [name, input] of [
      ['text.db', text.stdout],
      ['har.db', har.stdout],
    ] as const) {
      const imported = await cachette(['import', '--storage', `sqlite:${join(folder.path, name)}`, '--namespace', 'app'], { input });
      expect(imported.stdout, imported.stderr).to.equal('3 records imported, 0 skipped (expired, unreadable or too large)\n');
    }
    expect((await cachette(['export', ...base, '--format', 'yaml'])).code).to.equal(2);
  });

  it('a reader that stops early (ls | head) ends the command quietly, exit code 0', async () => {
    for (let i = 0; i < 30; i++) {
      const path = `/many-${i}`;
      env.origin.route(path, respond(200, { 'cache-control': 'max-age=600' }, 'x'.repeat(2000)));
    }
    const cache = createCache({ storage: sqliteStorage({ path: file }), namespace: 'app' });
    for (let i = 0; i < 30; i++) await fetchText(cache, `${env.origin.url}/many-${i}`);
    await cache.close();
    // As `head -n 1` does: read the first line, then close the pipe.
    const piped = await new Promise<{ code: number | null; stderr: string; first: string }>((resolve) => {
      const child = spawn(process.execPath, [...NODE_CHILD_FLAGS, BIN, 'ls', '--storage', `sqlite:${file}`, '--namespace', 'app'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let first = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        if (first === '') first = chunk.toString().split('\n')[0] as string;
        child.stdout.destroy();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on('close', (code) => resolve({ code, stderr, first }));
    });
    expect(piped.first).to.match(/^fresh/);
    expect(piped.stderr).to.equal('');
    expect(piped.code).to.equal(0);
  });

  it('copy moves a cache from SQLite to DynamoDB Local and back', async function () {
    this.timeout(180_000);
    const endpoint = await dynamoEndpoint();
    const table = uniqueTableName();
    await dynamoStorage(undefined, { tableName: table, shards: 2 });
    try {
      const dynamo = `dynamodb://${table}?region=us-east-1&endpoint=${encodeURIComponent(endpoint)}&shards=2`;
      const copied = await cachette(['copy', '--storage', `sqlite:${file}`, '--namespace', 'app', '--to', dynamo]);
      expect(copied.code, copied.stderr).to.equal(0);
      expect(copied.stdout).to.equal('3 records copied, 0 skipped (expired, unreadable or too large)\n');
      const stats = JSON.parse((await cachette(['stats', '--storage', dynamo, '--namespace', 'app', '--json'])).stdout);
      expect(stats.entries).to.equal(3);
      expect((await cachette(['purge', '--tag', 'orders', '--storage', dynamo, '--namespace', 'app'])).stdout).to.equal('1 record deleted\n');
      const missing = await cachette(['stats', '--storage', `dynamodb://no-such-table-here?region=us-east-1&endpoint=${encodeURIComponent(endpoint)}`]);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.match(/DynamoDB table no-such-table-here does not exist in us-east-1: import and copy make it with --create-table/);
      // A table copy --to is told to make.
      const made = `dynamodb://${uniqueTableName()}?region=us-east-1&endpoint=${encodeURIComponent(endpoint)}`;
      const refused = await cachette(['copy', '--storage', `sqlite:${file}`, '--namespace', 'app', '--to', made]);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.match(/--create-table/);
      const created = await cachette(['copy', '--storage', `sqlite:${file}`, '--namespace', 'app', '--to', made, '--create-table']);
      expect(created.code, created.stderr).to.equal(0);
      expect(JSON.parse((await cachette(['stats', '--storage', made, '--namespace', 'app', '--json'])).stdout).entries).to.equal(3);
    } finally {
      await dropTables();
    }
  });

  it('copy to Redis, then stats and purge there; an unreachable Redis says so', async () => {
    const redis = await startRedis();
    try {
      const target = `${redis.url}?keyPrefix=cli:`;
      const copied = await cachette(['copy', '--storage', `sqlite:${file}`, '--namespace', 'app', '--to', target]);
      expect(copied.stdout, copied.stderr).to.equal('3 records copied, 0 skipped (expired, unreadable or too large)\n');
      expect(JSON.parse((await cachette(['stats', '--storage', target, '--namespace', 'app', '--json'])).stdout).entries).to.equal(3);
      expect((await cachette(['purge', '--tag', 'users', '--storage', target, '--namespace', 'app'])).stdout).to.equal('1 record deleted\n');
    } finally {
      await redis.stop();
    }
    const gone = await cachette(['stats', '--storage', redis.url]);
    expect(gone.code).to.equal(1);
    expect(gone.stderr).to.match(/cannot reach Redis at 127\.0\.0\.1:\d+: .* \(is redis-server running\?\)/);
  });

  it('usage errors say what to write, with exit code 2; a file that is not a cachette database says so', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['stats'], 2, /name the storage: --storage sqlite:\.\/http\.db/],
      [['frobnicate', '--storage', `sqlite:${file}`], 2, /unknown command "frobnicate"/],
      [['ls', '--storage', `sqlite:${file}`, '--bogus'], 2, /Unknown option '--bogus'/],
      [['ls', '--storage', 'memcached://x'], 2, /unknown storage "memcached:\/\/x"/],
      [['ls', '--storage', `sqlite:${file}`, '--state', 'old'], 2, /--state must be fresh, stale or unusable/],
      [['purge', '--storage', `sqlite:${file}`], 2, /purge what\?/],
      [['purge', '--storage', `sqlite:${file}`, '--older-than', 'soon'], 2, /--older-than takes a duration/],
      [['ls', '--storage', `sqlite:${join(folder.path, 'missing.db')}`], 1, /no such file/],
    ];
    const notSqlite = join(folder.path, 'notes.txt');
    writeFileSync(notSqlite, 'not a database at all, just some text that is long enough to fill a page header');
    cases.push([['ls', '--storage', `sqlite:${notSqlite}`], 1, /is not a SQLite database/]);
    for (const [args, code, message] of cases) {
      const ran = await cachette(args);
      expect(ran.code, args.join(' ')).to.equal(code);
      expect(ran.stderr, args.join(' ')).to.match(message);
    }
    expect(existsSync(join(folder.path, 'missing.db')), 'the CLI never creates a database').to.equal(false);
    const help = await cachette(['--help']);
    expect([help.code, help.stdout.startsWith('Usage: cachette <command>')]).to.deep.equal([0, true]);
  });
});
