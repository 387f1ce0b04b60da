/**
 * Recordings that live in a repository: the text form (sorted JSON Lines)
 * and HAR 1.2, each read back as the same records byte for byte; a HAR
 * written by another tool (Polly.js) replayed with no server listening;
 * `openRecording` over each kind of file; and a replay in another process
 * that may open no connection at all.
 */
import { execFile } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { tempFolder } from '../../fixtures/sqlite.js';
import { type HttpCache, rawPartitions } from '../../lib/cache.js';
import { RecordingMissError } from '../../lib/recording.js';
import { openRecording } from '../../lib/recording-file.js';
import { PACKAGE_VERSION } from '../../lib/version.js';
import { NODE_CHILD_FLAGS, useOrigin } from '../support.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('recordings in files', () => {
  const env = useOrigin();
  let folder: ReturnType<typeof tempFolder>;
  beforeEach(() => {
    folder = tempFolder();
    env.origin.route('/users/1', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', etag: '"u1"', 'cache-control': 'no-store', vary: 'Accept' });
      res.end(JSON.stringify({ id: 1, name: 'Zoë', note: 'line\nbreak' }));
    });
    env.origin.route('/logo.png', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00, 0x01]));
    });
    env.origin.route('/page', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' });
      res.end(gzipSync('<p>café</p>'));
    });
    env.origin.route('/search', (req, res, body) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, query: body.toString() }));
    });
    env.origin.route('/gone', (_req, res) => {
      res.writeHead(410, { 'content-type': 'text/plain' });
      res.end('gone');
    });
  });
  afterEach(() => folder.remove());

  const url = (path: string) => `${env.origin.url}${path}`;

  /** Records the origin's routes into a cache. */
  async function record(cache: HttpCache): Promise<void> {
    for (const [path, init] of [
      ['/users/1', { headers: { accept: 'application/json' } }],
      ['/logo.png', {}],
      ['/page', {}],
      ['/search', { method: 'POST', body: '{"q":"x"}', headers: { 'content-type': 'application/json' } }],
      ['/gone', {}],
    ] as const) {
      await (await cache.fetch(url(path), init as RequestInit)).arrayBuffer();
    }
    await cache.settled();
  }

  async function exported(cache: HttpCache, format: 'cachette' | 'text' | 'har'): Promise<string> {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    await cache.export(out, { format });
    return Buffer.concat(chunks).toString('utf8');
  }

  async function imported(cache: HttpCache, text: string) {
    const input = new PassThrough();
    input.end(text);
    return cache.import(input);
  }

  /** Every stored record of a cache, by partition and key, as bytes in base64. */
  async function storedRecords(cache: HttpCache): Promise<Record<string, string>> {
    const all: Record<string, string> = {};
    const { responses, redirects } = rawPartitions(cache);
    for (const [name, partition] of [
      ['responses', responses],
      ['redirects', redirects],
    ] as const) {
      for await (const [key, bytes] of partition.entries()) all[`${name} ${key}`] = Buffer.from(bytes).toString('base64');
    }
    return all;
  }

  for (const format of ['text', 'har'] as const) {
    it(`${format}: imports back as the same records, byte for byte, and exports again the same text`, async () => {
      const source = env.cache({ recording: 'record' });
      await record(source);
      const text = await exported(source, format);
      const copy = env.cache({ recording: 'replay' });
      expect(await imported(copy, text)).to.deep.equal({ records: 5, skipped: 0 });
      expect(await storedRecords(copy)).to.deep.equal(await storedRecords(source));
      expect(await exported(copy, format)).to.equal(text);
      // And it replays: status, fields and bodies.
      const page = await copy.fetch(url('/page'));
      expect([page.status, page.headers.get('content-encoding'), await page.text()]).to.deep.equal([200, 'gzip', '<p>café</p>']);
      const logo = await copy.fetch(url('/logo.png'));
      expect([...new Uint8Array(await logo.arrayBuffer())]).to.deep.equal([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00, 0x01]);
      expect((await copy.fetch(url('/gone'))).status).to.equal(410);
    });
  }

  it('text: one line per record, sorted by URL, bodies as text when they are text', async () => {
    const cache = env.cache({ recording: 'record' });
    await record(cache);
    const lines = (await exported(cache, 'text')).trim().split('\n');
    expect(JSON.parse(lines[0] as string)).to.deep.equal({ kind: 'cachette-recording', version: 1, namespace: null });
    const records = lines.slice(1).map((line) => JSON.parse(line));
    expect(records.map((one) => one.url)).to.deep.equal(['/gone', '/logo.png', '/page', '/search', '/users/1'].map(url));
    const user = records.find((one) => one.url === url('/users/1'));
    expect(user.body).to.equal('{"id":1,"name":"Zoë","note":"line\\nbreak"}');
    expect(user.headers).to.deep.include(['content-type', 'application/json']);
    expect(records.find((one) => one.url === url('/logo.png')).bodyBase64).to.equal('iVBOR//+AAE=');
    // Encoded bytes are not text, whatever they decode to.
    expect(records.find((one) => one.url === url('/page')).bodyBase64).to.be.a('string');
  });

  it('HAR: a valid HAR 1.2 log, naming cachette and its version', async () => {
    const cache = env.cache({ recording: 'record' });
    await record(cache);
    const har = JSON.parse(await exported(cache, 'har'));
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(PACKAGE_VERSION).to.equal(manifest.version);
    expect(har.log).to.include({ version: '1.2' });
    expect(har.log.creator).to.deep.equal({ name: 'cachette', version: manifest.version });
    expect(har.log.entries).to.have.length(5);
    for (const entry of har.log.entries) {
      expect(entry).to.include.keys('startedDateTime', 'time', 'request', 'response', 'cache', 'timings');
      expect(entry.request).to.include.keys('method', 'url', 'httpVersion', 'cookies', 'headers', 'queryString', 'headersSize', 'bodySize');
      expect(entry.response).to.include.keys('status', 'statusText', 'httpVersion', 'cookies', 'headers', 'content', 'redirectURL', 'headersSize', 'bodySize');
    }
    const user = har.log.entries.find((entry: { request: { url: string } }) => entry.request.url === url('/users/1'));
    expect(user.response.content).to.deep.equal({ size: 43, mimeType: 'application/json', text: '{"id":1,"name":"Zoë","note":"line\\nbreak"}' });
  });

  it('a HAR written by Polly.js is replayed entry by entry, with no server listening', async () => {
    const cache = env.cache({ recording: 'replay', bodyKey: 'canonical' });
    const result = await cache.import(createReadStream(join(root, 'fixtures/har/polly-6.0.6.har')));
    expect(result).to.deep.equal({ records: 5, skipped: 0 });
    const origin = 'http://127.0.0.1:47123';
    // The URL as Polly saved it (it encodes the comma): a comma and %2C are two targets to an origin.
    const user = await cache.fetch(`${origin}/v1/users/1?fields=name%2Clanguages`);
    expect([user.status, user.headers.get('etag'), await user.json()]).to.deep.equal([200, '"u1"', { id: 1, name: 'Ada Lovelace', languages: ['en', 'fr'] }]);
    // Keyed by its body, as the cache keys a POST: a member order of its own finds it (bodyKey: 'canonical').
    const search = await cache.fetch(`${origin}/v1/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"page":1,"q":"engine"}',
    });
    expect(await search.json()).to.deep.include({ query: { q: 'engine', page: 1 } });
    const page = await cache.fetch(`${origin}/page`);
    expect([page.headers.get('content-encoding'), await page.text()]).to.deep.equal(['gzip', '<!doctype html><title>Hello</title><p>café — über</p>']);
    const logo = await cache.fetch(`${origin}/logo.png`);
    expect(Buffer.from(await logo.arrayBuffer()).toString('hex')).to.equal('89504e470d0a1a0a0000000d49484452ff00');
    const missing = await cache.fetch(`${origin}/missing`);
    expect([missing.status, await missing.text()]).to.deep.equal([404, 'not found']);
    // Hop-by-hop fields are not stored.
    expect(user.headers.get('transfer-encoding')).to.equal(null);
    const error = await cache.fetch(`${origin}/v1/users/2`).catch((e: { cause?: unknown }) => e.cause);
    expect(error).to.be.instanceOf(RecordingMissError);
  });

  it('a browser HAR saves bodies decoded under the field that said how they came: the field is dropped', async () => {
    const har = {
      log: {
        version: '1.2',
        creator: { name: 'WebInspector', version: '537.36' },
        entries: [
          {
            startedDateTime: '2026-12-01T10:00:00.000Z',
            time: 12.5,
            request: { method: 'GET', url: 'https://example.com/a', headers: [{ name: ':authority', value: 'example.com' }], httpVersion: 'h2' },
            response: {
              status: 200,
              statusText: '',
              headers: [
                { name: 'content-encoding', value: 'br' },
                { name: 'content-length', value: '20' },
                { name: 'Content-Type', value: 'text/plain' },
                { name: 'set-cookie', value: 'sid=1' },
              ],
              content: { size: 5, mimeType: 'text/plain', text: 'hello' },
            },
          },
          { startedDateTime: 'yesterday', request: {}, response: {} },
          {
            startedDateTime: '2026-12-01T10:00:00.000Z',
            request: { method: 'GET', url: 'https://example.com/b' },
            response: { status: 200, content: { size: 9 } },
          },
        ],
      },
    };
    const cache = env.cache({ recording: 'replay' });
    expect(await imported(cache, JSON.stringify(har, null, 2))).to.deep.equal({ records: 1, skipped: 2 });
    const response = await cache.fetch('https://example.com/a');
    expect(await response.text()).to.equal('hello');
    expect([...response.headers.keys()].sort()).to.deep.equal(['age', 'cache-status', 'content-type']);
  });

  for (const extension of ['jsonl', 'har', 'db'] as const) {
    it(`openRecording (.${extension}): records in one run, replays in the next, restores the global dispatcher`, async () => {
      const file = join(folder.path, 'recordings', `api.${extension}`);
      const first = await openRecording(file, { mode: 'replay-or-record', clock: undefined });
      expect(first.mode).to.equal('replay-or-record');
      const before = (await import('undici')).getGlobalDispatcher();
      first.install();
      expect((await import('undici')).getGlobalDispatcher()).to.equal(first.dispatcher);
      expect(await (await fetch(url('/users/1'))).json()).to.deep.include({ name: 'Zoë' });
      const { body } = await (await import('undici')).request(url('/logo.png'), { dispatcher: first.dispatcher });
      await body.arrayBuffer();
      await first.close();
      expect((await import('undici')).getGlobalDispatcher()).to.equal(before);
      expect(existsSync(file)).to.equal(true);
      const requests = env.origin.hits();

      const replay = await openRecording(file, { mode: 'replay' });
      expect(await (await replay.fetch(url('/users/1'))).json()).to.deep.include({ name: 'Zoë' });
      expect((await replay.fetch(url('/logo.png'))).status).to.equal(200);
      await replay.fetch(url('/page')).then(
        () => expect.fail('not recorded'),
        (error: { cause?: unknown }) => expect(error.cause).to.be.instanceOf(RecordingMissError),
      );
      await replay.close();
      expect(env.origin.hits()).to.equal(requests);
    });
  }

  it('openRecording: a replay of a file that does not exist, or a file of no known kind, is an error', async () => {
    const missing = join(folder.path, 'none.jsonl');
    await openRecording(missing, { mode: 'replay' }).then(
      () => expect.fail('opened'),
      (error: Error) => expect(error.message).to.match(/no recording at .*none\.jsonl to replay/),
    );
    await openRecording(join(folder.path, 'api.txt')).then(
      () => expect.fail('opened'),
      (error: Error) => expect(error.message).to.match(/\.db, \.sqlite, \.jsonl or \.har/),
    );
  });

  it('a recording made by one process replays in another that may open no connection at all', async () => {
    const file = join(folder.path, 'api.jsonl');
    const recorder = await openRecording(file, { mode: 'record', bodyKey: 'canonical' });
    await record(recorder.cache);
    await recorder.close();
    const script = join(folder.path, 'replay.mjs');
    writeFileSync(
      script,
      `import net from 'node:net';
net.Socket.prototype.connect = function () { throw new Error('the replay tried to connect'); };
const { openRecording } = await import(${JSON.stringify(join(root, 'dist/pkg/testing.js'))});
const recording = await openRecording(process.argv[2], { mode: 'replay', bodyKey: 'canonical' });
recording.install();
const out = {};
for (const path of ['/users/1', '/logo.png', '/page', '/gone']) {
  const response = await fetch(process.argv[3] + path, path === '/users/1' ? { headers: { accept: 'application/json' } } : {});
  out[path] = [response.status, Buffer.from(await response.arrayBuffer()).toString('base64')];
}
const search = await fetch(process.argv[3] + '/search', { method: 'POST', body: '{ "q": "x" }', headers: { 'content-type': 'application/json' } });
out['/search'] = [search.status, Buffer.from(await search.arrayBuffer()).toString('base64')];
await recording.close();
console.log(JSON.stringify(out));
`,
    );
    const base = env.origin.url;
    await env.origin.close();
    const output = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [...NODE_CHILD_FLAGS, script, file, base], { env: { ...process.env, CACHETTE_RECORDING: '' } }, (error, stdout, stderr) =>
        error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`)),
      ),
    );
    const replayed = JSON.parse(output) as Record<string, [number, string]>;
    const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
    expect(replayed).to.deep.equal({
      '/users/1': [200, b64('{"id":1,"name":"Zoë","note":"line\\nbreak"}')],
      '/logo.png': [200, b64(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00, 0x01]))],
      '/page': [200, b64('<p>café</p>')],
      '/gone': [410, b64('gone')],
      '/search': [200, b64('{"method":"POST","query":"{\\"q\\":\\"x\\"}"}')],
    });
  });
});
