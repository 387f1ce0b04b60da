/**
 * Property: whatever its header fields are called — `__proto__`,
 * `constructor`, every member of Object.prototype, in any case, repeated —
 * a hit carries exactly the fields a plain request of the same response
 * carries (but for Age and Cache-Status, which a cache adds, and the
 * connection's own), through fetch and through undici.request, on every
 * backend. A field name is data: no map that holds one inherits anything.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import fc from 'fast-check';
import { request } from 'undici';
import { type Backend, everyBackend } from '../../fixtures/backends.js';
import { createCache, type HttpCache } from '../../lib/cache.js';

/** Names an ordinary object answers without holding them. */
const INHERITED = Object.getOwnPropertyNames(Object.prototype);

const tokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".split('');
/** Fields whose meaning the cache acts on or replaces (tested elsewhere), or the connection's. */
const LEFT_OUT = new Set([
  'age',
  'cache-status',
  'cache-control',
  'connection',
  'content-encoding',
  'content-length',
  'content-range',
  'date',
  'etag',
  'expires',
  'keep-alive',
  'last-modified',
  'pragma',
  'proxy-authenticate',
  'proxy-authentication-info',
  'proxy-connection',
  'set-cookie',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'vary',
  'cdn-cache-control',
]);

const name = fc
  .oneof(
    fc.constantFrom(...INHERITED, '__proto__', 'constructor', 'prototype', 'toJSON', 'then', 'length'),
    fc.string({ unit: fc.constantFrom(...tokenChars), minLength: 1, maxLength: 12 }),
  )
  .chain((base) => fc.constantFrom(base, base.toUpperCase(), base.toLowerCase()))
  .filter((field) => !LEFT_OUT.has(field.toLowerCase()));
const value = fc.string({ unit: fc.constantFrom(...'abc XYZ019=;,/"\u00e9\u00ff'.split('')), maxLength: 16 }).map((text) => text.trim());
const fields = fc.array(fc.tuple(name, value), { minLength: 1, maxLength: 8 });

/** An origin answering each path with the fields it is given (dated when given: two answers are the same response). */
async function fieldOrigin(): Promise<{ url: string; serve: (path: string, pairs: Array<[string, string]>) => void; close: () => Promise<void> }> {
  const routes = new Map<string, { pairs: Array<[string, string]>; date: string }>();
  const server = http.createServer((req, res) => {
    const { pairs, date } = routes.get(req.url ?? '') ?? { pairs: [], date: new Date().toUTCString() };
    const raw = ['cache-control', 'max-age=600', 'date', date, 'content-type', 'text/plain'];
    for (const [field, text] of pairs) raw.push(field, text);
    res.writeHead(200, raw);
    res.end('body');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve: (path, pairs) => void routes.set(path, { pairs, date: new Date().toUTCString() }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A response's fields as pairs, but for what a cache adds and the connection's own. */
const comparable = (pairs: Array<[string, string]>) =>
  pairs.filter(([field]) => !['age', 'cache-status', 'connection', 'keep-alive', 'transfer-encoding'].includes(field));

function fetchedPairs(response: Response): Array<[string, string]> {
  return comparable([...response.headers]);
}

function requestedPairs(headers: Record<string, string | string[] | undefined>): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const field of Object.keys(headers).sort()) {
    const value = headers[field];
    for (const item of Array.isArray(value) ? value : [value]) pairs.push([field, String(item)]);
  }
  return comparable(pairs);
}

for (const backend of everyBackend()) {
  describe(`odd field names on ${backend.name}`, function () {
    this.timeout(120_000);
    let origin: Awaited<ReturnType<typeof fieldOrigin>>;
    let cache: HttpCache;
    const using: Backend = backend;

    before(async () => {
      await using.start();
      origin = await fieldOrigin();
    });
    after(async () => {
      await origin.close();
      await using.stop();
    });
    beforeEach(async () => {
      cache = createCache({ storage: await using.make() });
    });
    afterEach(() => cache.close());

    it('a hit carries the fields a plain request gets, through fetch and undici.request', async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fields, async (pairs) => {
          run += 1;
          const viaFetch = `/fetch-${run}`;
          const viaRequest = `/request-${run}`;
          origin.serve(viaFetch, pairs);
          origin.serve(viaRequest, pairs);

          const plain = fetchedPairs(await fetch(`${origin.url}${viaFetch}`));
          const miss = await cache.fetch(`${origin.url}${viaFetch}`);
          expect(fetchedPairs(miss), 'the miss').to.deep.equal(plain);
          await miss.text();
          await cache.settled();
          const hit = await cache.fetch(`${origin.url}${viaFetch}`);
          expect(hit.headers.get('cache-status')).to.match(/; hit/);
          expect(fetchedPairs(hit), 'the hit').to.deep.equal(plain);
          expect(await hit.text()).to.equal('body');

          const direct = await request(`${origin.url}${viaRequest}`);
          await direct.body.text();
          for (const step of ['miss', 'hit']) {
            const response = await request(`${origin.url}${viaRequest}`, { dispatcher: cache.dispatcher });
            expect(await response.body.text()).to.equal('body');
            expect(requestedPairs(response.headers), `undici.request, the ${step}`).to.deep.equal(requestedPairs(direct.headers));
            await cache.settled();
          }
        }),
        { numRuns: backend.name === 'MemoryStorage' ? 60 : 20 },
      );
    });

    it('a Vary on odd names (sent by undici.request: fetch drops a `__proto__` field) picks its variant; inspect() shows them', async () => {
      origin.serve('/vary', [
        ['vary', '__proto__, constructor'],
        ['constructor', 'c'],
      ]);
      const send = async (proto: string) => {
        const response = await request(`${origin.url}/vary`, { dispatcher: cache.dispatcher, headers: ['__proto__', proto, 'constructor', 'k'] });
        await response.body.text();
        await cache.settled();
        return response.headers;
      };
      await send('p');
      const hit = await send('p');
      expect(hit['cache-status']).to.match(/; hit/);
      expect(hit['constructor']).to.equal('c');
      expect((await send('q'))['cache-status']).to.match(/vary-miss/);
      const variants = await cache.inspect(`${origin.url}/vary`);
      expect(variants.map((entry) => Object.entries(entry.varies ?? {}))).to.have.deep.members([
        [
          ['__proto__', 'p'],
          ['constructor', 'k'],
        ],
        [
          ['__proto__', 'q'],
          ['constructor', 'k'],
        ],
      ]);
    });
  });
}
