import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { request } from 'undici';
import { respond } from '../../fixtures/origin.js';
import { withParkedWrites } from '../../fixtures/storage-views.js';
import { rawPartitions } from '../../lib/cache.js';
import { FakeClock } from '../../lib/fake-clock.js';
import type { Offering } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { useOrigin } from '../support.js';

describe('miss path: stream to the caller, store only whole responses', () => {
  const env = useOrigin();

  it('streams the body to the caller before the origin has finished', async () => {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    env.origin.route('/slow', async (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.write('first chunk;');
      await finished;
      res.end('last chunk');
    });
    const cache = env.cache();
    const response = await cache.fetch(`${env.origin.url}/slow`);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value as Uint8Array).toString()).to.equal('first chunk;');
    expect(await cache.contains({ url: `${env.origin.url}/slow` })).to.equal(false);
    finish();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += Buffer.from(chunk.value).toString();
    expect(rest).to.equal('last chunk');
    await cache.settled();
    expect(await cache.contains({ url: `${env.origin.url}/slow` })).to.equal(true);
  });

  it('stores a response after the next request on the same kept-alive connection has gone out, not before', async () => {
    for (const path of ['/a', '/b']) env.origin.route(path, respond(200, { 'cache-control': 'max-age=60', 'content-length': '1' }, 'x'));
    const events: string[] = [];
    const storage = new MemoryStorage();
    // MemoryStorage keeps the records themselves (hold); other storages get their bytes (set).
    const responses = storage.partition('responses') as Offering<'heldValues'>;
    const set = responses.set.bind(responses);
    responses.set = async (key, value, opts) => {
      events.push('store');
      return set(key, value, opts);
    };
    const hold = responses.hold.bind(responses);
    responses.hold = (key, value, opts) => {
      events.push('store');
      return hold(key, value, opts);
    };
    // undici reports each request whose headers it has written to the socket.
    const sent = (message: unknown): void => {
      events.push(`sent ${(message as { request: { path: string } }).request.path}`);
    };
    diagnostics.subscribe('undici:client:sendHeaders', sent);
    try {
      const cache = env.cache({ storage });
      // Back to back, as a loop of requests goes: the second is sent while the first waits to be stored.
      await (await request(`${env.origin.url}/a`, { dispatcher: cache.dispatcher })).body.text();
      await (await request(`${env.origin.url}/b`, { dispatcher: cache.dispatcher })).body.text();
      await cache.settled();
    } finally {
      diagnostics.unsubscribe('undici:client:sendHeaders', sent);
    }
    expect(events).to.deep.equal(['sent /a', 'sent /b', 'store', 'store']);
  });

  it('does not store a response the caller aborted', async () => {
    // The origin sends the rest of the body only once the caller has aborted.
    let aborted: () => void = () => undefined;
    const afterAbort = new Promise<void>((resolve) => (aborted = resolve));
    env.origin.route('/big', async (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.write(randomBytes(16 * 1024));
      await afterAbort;
      for (let i = 0; i < 50; i++) {
        if (res.destroyed) return;
        if (!res.write(randomBytes(16 * 1024))) await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end();
    });
    const cache = env.cache();
    const controller = new AbortController();
    const response = await cache.fetch(`${env.origin.url}/big`, { signal: controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    controller.abort();
    aborted();
    let error: unknown;
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch (caught) {
      error = caught;
    }
    expect((error as Error)?.name).to.equal('AbortError');
    await cache.settled();
    expect(await cache.contains({ url: `${env.origin.url}/big` })).to.equal(false);
    expect(await rawPartitions(cache).responses.size()).to.equal(0);
  });

  it('does not store a body that ends short of its content-length', async () => {
    env.origin.route('/short', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '1000' });
      res.write('x'.repeat(400));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const cache = env.cache();
    let error: unknown;
    try {
      const response = await cache.fetch(`${env.origin.url}/short`);
      await response.arrayBuffer();
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(Error);
    await cache.settled();
    expect(await rawPartitions(cache).responses.size()).to.equal(0);

    // The next request goes to the origin again rather than getting a truncated body.
    env.origin.route('/short', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('whole');
    });
    const again = await cache.fetch(`${env.origin.url}/short`);
    expect(await again.text()).to.equal('whole');
    expect(env.origin.hits('/short')).to.equal(2);
  });

  describe('maxEntrySize', () => {
    it('passes a larger body through unstored when content-length announces it', async () => {
      const body = randomBytes(5000);
      env.origin.route('/large', (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(body.length) });
        res.end(body);
      });
      const cache = env.cache({ maxEntrySize: 4096 });
      for (let i = 0; i < 2; i++) {
        const response = await cache.fetch(`${env.origin.url}/large`);
        expect(Buffer.from(await response.arrayBuffer()).equals(body)).to.equal(true);
        expect(response.headers.get('cache-status')).to.equal('cachette; fwd=uri-miss; fwd-status=200; detail=too-large');
      }
      expect(env.origin.hits('/large')).to.equal(2);
    });

    it('passes a larger chunked body through whole, and unstored', async () => {
      const body = randomBytes(50_000);
      env.origin.route('/chunked', async (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        for (let offset = 0; offset < body.length; offset += 10_000) {
          res.write(body.subarray(offset, offset + 10_000));
          await new Promise((resolve) => setImmediate(resolve));
        }
        res.end();
      });
      const cache = env.cache({ maxEntrySize: 20_000 });
      const response = await cache.fetch(`${env.origin.url}/chunked`);
      expect(Buffer.from(await response.arrayBuffer()).equals(body)).to.equal(true);
      await cache.settled();
      expect(await rawPartitions(cache).responses.size()).to.equal(0);
    });

    it('stores a body of exactly maxEntrySize', async () => {
      const body = randomBytes(4096);
      env.origin.route('/exact', (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end(body);
      });
      const cache = env.cache({ maxEntrySize: 4096 });
      await (await cache.fetch(`${env.origin.url}/exact`)).arrayBuffer();
      const hit = await cache.fetch(`${env.origin.url}/exact`);
      expect(Buffer.from(await hit.arrayBuffer()).equals(body)).to.equal(true);
      expect(env.origin.hits('/exact')).to.equal(1);
    });
  });

  it('with the storage far behind, responses past 64 MiB waiting to be written are not stored (and not held in memory)', async function () {
    this.timeout(60_000);
    const body = randomBytes(2 * 1024 * 1024);
    env.origin.route('/big', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(body.length) });
      res.end(body);
    });
    // No write lands until the 40 responses of 2 MiB have arrived (however long that takes: a clock that never
    // moves keeps the writes' deadlines from firing meanwhile).
    const parked = withParkedWrites(new MemoryStorage({ maxBytes: 256 * 1024 * 1024 }));
    parked.park(1000);
    const cache = env.cache({ storage: parked.storage, clock: new FakeClock(Date.now()) });
    const reasons: string[] = [];
    const listener = (message: unknown) => reasons.push(String((message as { reason: unknown }).reason));
    diagnostics.subscribe('cachette:store', listener);
    try {
      for (let i = 0; i < 40; i++) {
        const response = await cache.fetch(`${env.origin.url}/big?n=${i}`);
        expect(Buffer.from(await response.arrayBuffer()).equals(body), 'every caller gets its whole body').to.equal(true);
      }
      // Then every write parked so far, and any the queue starts after them, lands.
      let settled = false;
      const settling = cache.settled().then(() => {
        settled = true;
      });
      while (!settled) {
        await parked.release();
        await new Promise((resolve) => setImmediate(resolve));
      }
      await settling;
    } finally {
      diagnostics.unsubscribe('cachette:store', listener);
    }
    const dropped = reasons.filter((reason) => reason === 'write-backlog').length;
    expect(dropped).to.equal(40 - 32);
    expect(await rawPartitions(cache).responses.size()).to.equal(32);
  });

  it('replays compressed bodies byte-identical, decoded by fetch like the original', async () => {
    const text = JSON.stringify({ items: Array.from({ length: 500 }, (_, i) => ({ i, name: `item ${i}` })) });
    const gzipped = gzipSync(text);
    env.origin.route('/gzip', (_req, res) => {
      res.writeHead(200, {
        'cache-control': 'max-age=60',
        'content-encoding': 'gzip',
        'content-type': 'application/json',
        'content-length': String(gzipped.length),
      });
      res.end(gzipped);
    });
    const cache = env.cache();
    expect(await (await cache.fetch(`${env.origin.url}/gzip`)).text()).to.equal(text);
    const hit = await cache.fetch(`${env.origin.url}/gzip`);
    expect(hit.headers.get('cache-status')).to.match(/hit/);
    expect(await hit.text()).to.equal(text);

    // Through undici.request the stored bytes come back exactly as the origin sent them.
    const raw = await request(`${env.origin.url}/gzip`, { dispatcher: cache.dispatcher });
    expect(Buffer.from(await raw.body.arrayBuffer()).equals(gzipped)).to.equal(true);
    expect(raw.headers['content-length']).to.equal(String(gzipped.length));
    expect(env.origin.hits('/gzip')).to.equal(1);
  });

  it('replays a large binary body in full to a slow reader', async () => {
    const body = randomBytes(3 * 1024 * 1024 + 17);
    env.origin.route('/binary', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(body);
    });
    const cache = env.cache();
    await (await cache.fetch(`${env.origin.url}/binary`)).arrayBuffer();
    const hit = await cache.fetch(`${env.origin.url}/binary`);
    const reader = (hit.body as ReadableStream<Uint8Array>).getReader();
    const chunks: Uint8Array[] = [];
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      chunks.push(chunk.value);
      // A slow reader: a turn of the event loop every few chunks.
      if (chunks.length % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(Buffer.concat(chunks).equals(body)).to.equal(true);
    expect(env.origin.hits('/binary')).to.equal(1);
  });

  it('answers a HEAD request from the stored GET response, without a body', async () => {
    env.origin.route('/page', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/html', 'content-length': '12' });
      res.end('<p>hello</p>');
    });
    const cache = env.cache();
    await (await cache.fetch(`${env.origin.url}/page`)).text();
    const head = await request(`${env.origin.url}/page`, { method: 'HEAD', dispatcher: cache.dispatcher });
    expect(head.statusCode).to.equal(200);
    expect(head.headers['content-length']).to.equal('12');
    expect(head.headers['cache-status']).to.match(/^cachette; hit/);
    expect((await head.body.arrayBuffer()).byteLength).to.equal(0);
    expect(env.origin.hits('/page')).to.equal(1);
  });
});
