/**
 * Property: whatever caching headers an origin sends (valid, odd or broken),
 * a response through the cache — the miss, and whatever the next request
 * gets — is the response plain undici gets, but for what a cache adds (Age,
 * Cache-Status) and what it may not replay (the origin's connection fields;
 * in a shared cache, Set-Cookie; fields no-cache="…" or private="…" name).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { expect } from 'chai';
import fc from 'fast-check';
import { type Dispatcher, request } from 'undici';
import { useOrigin } from '../support.js';
import { report, scaled } from './figures.js';

interface Generated {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

const directive = fc.constantFrom(
  'max-age=60',
  'max-age=0',
  'max-age=-1',
  'max-age=abc',
  's-maxage=30',
  'no-store',
  'no-cache',
  'no-cache="x-secret"',
  'private',
  'private="x-secret"',
  'public',
  'must-revalidate',
  'proxy-revalidate',
  'immutable',
  'stale-while-revalidate=30',
  'stale-if-error=30',
  'must-understand',
  'no-transform',
  'max-age="20"',
  ',,',
  'unknown-directive',
);
const dates = fc.constantFrom('Thu, 01 Jan 2099 00:00:00 GMT', 'Thu, 01 Jan 1970 00:00:00 GMT', '0', '-1', 'garbage', new Date().toUTCString());

const generated: fc.Arbitrary<Generated> = fc
  .record({
    status: fc.constantFrom(200, 200, 200, 203, 204, 301, 302, 307, 404, 410, 500, 503),
    cacheControl: fc.option(
      fc.array(directive, { minLength: 1, maxLength: 4 }).map((list) => list.join(', ')),
      { nil: undefined },
    ),
    expires: fc.option(dates, { nil: undefined }),
    lastModified: fc.option(dates, { nil: undefined }),
    etag: fc.option(fc.constantFrom('"a"', 'W/"a"', '"b"', 'broken'), { nil: undefined }),
    vary: fc.option(fc.constantFrom('accept', 'x-client', 'accept, x-client', '*', ''), { nil: undefined }),
    setCookie: fc.option(fc.constantFrom(['a=1'], ['a=1', 'b=2']), { nil: undefined }),
    age: fc.option(fc.constantFrom('0', '30', '99999', 'abc'), { nil: undefined }),
    secret: fc.boolean(),
    repeated: fc.boolean(),
    body: fc.string({ maxLength: 200 }),
  })
  .map((draw) => {
    const headers: Record<string, string | string[]> = { 'content-type': 'text/plain; charset=utf-8' };
    if (draw.cacheControl !== undefined) headers['cache-control'] = draw.cacheControl;
    if (draw.expires !== undefined) headers['expires'] = draw.expires;
    if (draw.lastModified !== undefined) headers['last-modified'] = draw.lastModified;
    if (draw.etag !== undefined) headers['etag'] = draw.etag;
    if (draw.vary !== undefined) headers['vary'] = draw.vary;
    if (draw.setCookie !== undefined) headers['set-cookie'] = [...draw.setCookie];
    if (draw.age !== undefined) headers['age'] = draw.age;
    if (draw.secret) headers['x-secret'] = 'for one user';
    if (draw.repeated) headers['link'] = ['</a>; rel=a', '</b>; rel=b'];
    if ([301, 302, 307].includes(draw.status)) headers['location'] = '/elsewhere';
    return { status: draw.status, headers, body: draw.status === 204 ? '' : draw.body };
  });

/** Fields a cache adds, and fields of the origin's connection, which it never replays. */
const NOT_COMPARED = new Set(['age', 'cache-status', 'connection', 'keep-alive', 'transfer-encoding', 'date']);

describe('reliability: caching headers fuzzed, compared with plain undici', function () {
  this.timeout(180_000);
  const env = useOrigin();

  for (const type of ['shared', 'private'] as const) {
    it(`${type} cache: every response is the one plain undici gets, but for what a cache may drop`, async () => {
      let current: Generated = { status: 200, headers: {}, body: '' };
      env.origin.route('/fuzz', (req: IncomingMessage, res: ServerResponse) => {
        res.removeHeader('date');
        res.sendDate = false;
        const etag = current.headers['etag'];
        if (typeof etag === 'string' && req.headers['if-none-match'] === etag) {
          res.writeHead(304, current.headers);
          res.end();
          return;
        }
        res.writeHead(current.status, current.headers);
        res.end(current.body);
      });
      const cache = env.cache({ type });
      let run = 0;
      let hits = 0;
      const read = async (dispatcher: Dispatcher | undefined, path: string) => {
        const response = await request(`${env.origin.url}${path}`, { dispatcher, headers: { accept: 'text/plain', 'x-client': 'fuzz' } });
        const body = await response.body.text();
        const headers = Object.entries(response.headers)
          .filter(([name]) => !NOT_COMPARED.has(name))
          .sort(([a], [b]) => a.localeCompare(b));
        return { status: response.statusCode, body, headers: new Map(headers), cacheStatus: String(response.headers['cache-status'] ?? '') };
      };
      await fc.assert(
        fc.asyncProperty(generated, async (response) => {
          current = response;
          const path = `/fuzz?run=${run++}`;
          const plain = await read(undefined, path);
          for (const attempt of [0, 1]) {
            const through = await read(cache.dispatcher, path);
            if (/hit/.test(through.cacheStatus)) hits += 1;
            expect([through.status, through.body], `attempt ${attempt}`).to.deep.equal([plain.status, plain.body]);
            // What a cache may leave out of what it replays.
            const droppable = new Set<string>();
            if (type === 'shared') droppable.add('set-cookie');
            if (/(no-cache|private)="x-secret"/.test(String(response.headers['cache-control']))) droppable.add('x-secret');
            for (const [name, value] of plain.headers) {
              if (through.headers.has(name) || !droppable.has(name)) expect(through.headers.get(name), `${name}, attempt ${attempt}`).to.deep.equal(value);
            }
            for (const name of through.headers.keys()) expect(plain.headers.has(name), `${name} added`).to.equal(true);
          }
          await cache.settled();
        }),
        { numRuns: scaled(150), seed: 4242 },
      );
      report(`header fuzz, ${type} cache`, { requests: run * 3, faults: 0, failures: 0, hits });
      expect(hits).to.be.greaterThan(0);
    });
  }
});
