/**
 * What a writer of the storage, or the author of an export file, can do:
 * strings that would drive the operator's terminal are printed escaped (and
 * read back exact from --json); a record filed under another request's key
 * is never served for it; an export's lines and records are bounded by what
 * the importing cache keeps.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { expect } from 'chai';
import { request } from 'undici';
import { respond } from '../../fixtures/origin.js';
import { sqliteStorage, tempFolder } from '../../fixtures/sqlite.js';
import { createCache, type HttpCache, rawPartitions } from '../../lib/cache.js';
import { isUnprintable } from '../../lib/printable.js';
import { encodeRecord } from '../../lib/records/codec.js';
import type { StoredResponse } from '../../lib/records/model.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { cachette, fetchText, useOrigin } from '../support.js';

/** Whether output carries what a terminal acts on: C0 (but the line feeds the CLI writes itself), DEL, C1, or a format character that reorders text. */
const drivesTerminal = (output: string): boolean => [...output].some((char) => char !== '\n' && isUnprintable(char));

function storedResponse(fields: Partial<StoredResponse>): StoredResponse {
  const now = Date.now();
  return {
    kind: 'response',
    expiresAt: now + 600_000,
    status: 200,
    statusText: 'OK',
    headers: ['content-type', 'text/plain'],
    body: Buffer.from('forged'),
    method: 'GET',
    url: 'http://h.example/p',
    key: 'the key of http://h.example/p',
    redirect: null,
    vary: null,
    requestTime: now,
    responseTime: now,
    initialAge: 0,
    lifetime: 600_000,
    flags: 0,
    staleWhileRevalidate: -1,
    staleIfError: -1,
    hiddenFields: null,
    tags: [],
    ...fields,
  };
}

describe('hostile data in the storage and in export files', function () {
  this.timeout(60_000);
  const env = useOrigin();
  const folder = tempFolder();
  let files = 0;
  after(() => folder.remove());

  it('the CLI prints stored URLs, Vary values, tags and keys escaped; --json keeps them exact', async () => {
    const file = join(folder.path, `terminal-${files++}.db`);
    const hostileUrl = 'http://h.example/\u001b[2J\u001b]0;pwned\u0007\r\u202etxt.exe\u061c\u200b';
    env.origin.route('/p', respond(200, { 'cache-control': 'max-age=600', vary: 'x-v', 'cache-tag': 't\u0085\u009bx' }, 'p'));
    const cache = createCache({ storage: sqliteStorage({ path: file }), cacheTagsHeader: 'cache-tag' });
    await request(`${env.origin.url}/p`, { dispatcher: cache.dispatcher, headers: { 'x-v': '\u009b31m red' } }).then((r) => r.body.text());
    await cache.settled();
    // A record written by anyone who can write the storage.
    await rawPartitions(cache).responses.set('\u001b[31mkey', encodeRecord(storedResponse({ url: hostileUrl, tags: ['\u009d8;;http://evil\u009c'] })), {
      expiresAt: Date.now() + 600_000,
    });
    await cache.close();

    const storage = ['--storage', `sqlite:${file}`];
    const runs = [
      await cachette(['ls', ...storage]),
      await cachette(['stats', ...storage]),
      await cachette(['show', `${env.origin.url}/p`, '--header', 'x-v: \u009b31m red', ...storage]),
      await cachette(['ls', '--json', ...storage]),
      await cachette(['purge', '--tag', 't\u0085\u009bx', ...storage]),
    ];
    for (const run of runs) {
      expect(run.code, run.stderr).to.equal(0);
      expect(drivesTerminal(run.stdout + run.stderr), run.stdout).to.equal(false);
    }
    expect(runs[0]?.stdout).to.include('\\x1b[2J\\x1b]0;pwned\\x07\\x0d\\u{202e}txt.exe\\u{61c}\\u{200b}');
    expect(runs[2]?.stdout).to.include('x-v: \\x9b31m red');

    expect(runs[4]?.stdout).to.equal('1 record deleted\n');
    // An export to the terminal too: every key spelt, none obeyed.
    const exported = await cachette(['export', ...storage]);
    expect(exported.code, exported.stderr).to.equal(0);
    expect(drivesTerminal(exported.stdout)).to.equal(false);
    expect(exported.stdout.split('\n').some((line) => line !== '' && (JSON.parse(line) as { k?: string }).k === '\u001b[31mkey')).to.equal(true);
    const listed = (runs[3]?.stdout ?? '')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { url: string; key: string; tags: string[] });
    expect(listed.map((entry) => entry.url)).to.include(hostileUrl);
    expect(listed.find((entry) => entry.url === hostileUrl)?.key).to.equal('\u001b[31mkey');
  });

  it('a record filed under another request’s key is a miss, reported and deleted — never its body', async () => {
    env.origin.route('/v/2', respond(200, { 'cache-control': 'max-age=600' }, 'the real /v/2'));
    env.origin.route('/p/385', respond(200, { 'cache-control': 'max-age=600' }, 'the body of /p/385'));
    const storage = new MemoryStorage();
    const cache = createCache({ storage });
    await fetchText(cache, `${env.origin.url}/v/2`);
    await fetchText(cache, `${env.origin.url}/p/385`);
    await cache.settled();
    const [wanted] = await cache.inspect(`${env.origin.url}/v/2`);
    const [other] = await cache.inspect(`${env.origin.url}/p/385`);
    // The damage: /v/2's key now holds /p/385's record (a row swapped, an export edited).
    const swapped = await rawPartitions(cache).responses.get(other?.key as string);
    await rawPartitions(cache).responses.set(wanted?.key as string, swapped as Uint8Array);
    const answer = await fetchText(cache, `${env.origin.url}/v/2`);
    expect(answer.body).to.equal('the real /v/2');
    expect(answer.cacheStatus).to.match(/fwd=uri-miss/);
    expect(cache.stats().storageErrors, 'the mismatch is reported').to.equal(1);
    await cache.settled();
    expect((await fetchText(cache, `${env.origin.url}/v/2`)).body).to.equal('the real /v/2');
    await cache.close();
  });

  it('…whatever else the key covers: a credential, a matchHeaders value, a body', async () => {
    env.origin.route('/who', (req, res, body) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'authorization' });
      res.end(`for ${req.headers.authorization ?? ''}${req.headers['x-tenant'] ?? ''}${body.toString()}`);
    });
    const cache = createCache({ credentialed: 'per-credential', matchHeaders: ['x-tenant'], methods: ['GET', 'POST'] });
    const cases: Array<[string, Parameters<HttpCache['fetch']>[1], Parameters<HttpCache['fetch']>[1]]> = [
      ['a credential', { headers: { authorization: 'Bearer alice' } }, { headers: { authorization: 'Bearer bob' } }],
      ['a matchHeaders value', { headers: { 'x-tenant': 'a' } }, { headers: { 'x-tenant': 'b' } }],
      ['a body', { method: 'POST', body: 'q=alice' }, { method: 'POST', body: 'q=bob' }],
    ];
    for (const [what, alice, bob] of cases) {
      await fetchText(cache, `${env.origin.url}/who`, alice);
      await fetchText(cache, `${env.origin.url}/who`, bob);
      await cache.settled();
      // Every record of /who, filed under every key of /who: each key now holds the other's records too.
      const stored = new Map<string, Uint8Array>();
      for await (const [key, value] of rawPartitions(cache).responses.entries()) stored.set(key, value);
      const keys = [...stored.keys()];
      for (const key of keys) for (const other of keys) if (other !== key) await rawPartitions(cache).responses.set(key, stored.get(other) as Uint8Array);
      expect((await fetchText(cache, `${env.origin.url}/who`, bob)).body, what).to.not.match(/alice/);
      await cache.clear();
    }
    await cache.close();
  });

  it('import skips a record larger than maxEntrySize, and a line longer than any record it keeps, without holding it', async () => {
    const source = createCache();
    env.origin.route('/big', respond(200, { 'cache-control': 'max-age=600' }, 'x'.repeat(64 * 1024)));
    env.origin.route('/small', respond(200, { 'cache-control': 'max-age=600' }, 'small'));
    await fetchText(source, `${env.origin.url}/big`);
    await fetchText(source, `${env.origin.url}/small`);
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    await source.export(out);
    await source.close();

    const target = createCache({ maxEntrySize: 1024 });
    expect(await target.import(Readable.from([text]))).to.deep.equal({ records: 1, skipped: 1 });
    expect((await fetchText(target, `${env.origin.url}/small`)).cacheStatus).to.match(/; hit/);
    expect((await fetchText(target, `${env.origin.url}/big`)).cacheStatus).to.match(/fwd=uri-miss/);

    // A line of 64 MiB with no end in sight: read by the chunk, dropped, counted.
    const header = text.slice(0, text.indexOf('\n') + 1);
    const endless = (async function* () {
      yield header;
      const chunk = 'A'.repeat(1024 * 1024);
      for (let i = 0; i < 64; i++) yield chunk;
      yield '\n';
    })();
    const before = process.memoryUsage().heapUsed;
    expect(await target.import(Readable.from(endless))).to.deep.equal({ records: 0, skipped: 1 });
    expect(process.memoryUsage().heapUsed - before).to.be.below(48 * 1024 * 1024);
    await target.close();
  });

  it('the CLI imports into a SQLite file a cache made, and says what it skipped', async () => {
    const file = join(folder.path, `import-${files++}.db`);
    const made = createCache({ storage: sqliteStorage({ path: file }) });
    await made.close();
    const exportFile = join(folder.path, 'hostile.jsonl');
    const forged = encodeRecord(storedResponse({ body: Buffer.alloc(11 * 1024 * 1024) }));
    writeFileSync(
      exportFile,
      [
        JSON.stringify({ kind: 'cachette-export', version: 1, recordFormat: 3, namespace: null }),
        JSON.stringify({ p: 'responses', k: 'big', e: null, v: Buffer.from(forged).toString('base64') }),
        '',
      ].join('\n'),
    );
    const ran = await cachette(['import', '--input', exportFile, '--storage', `sqlite:${file}`]);
    expect(ran.code, ran.stderr).to.equal(0);
    expect(ran.stdout).to.match(/^0 records imported, 1 skipped/);
  });
});
