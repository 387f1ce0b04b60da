/**
 * `cache.fetch` answers a fresh hit itself, without the runtime's fetch
 * (lib/fetch-hits.ts). A differential spec: every hit it makes is held
 * against the Response the runtime's fetch gives for the same request
 * through the same cache (`fetch(url, { dispatcher: cache.dispatcher })`),
 * field by field, body, clone and headers' guard included; and the requests
 * it must leave to fetch (a body, a signal, a redirect, an encoding to decode…)
 * are shown to go through fetch. A miss or a stale entry goes through the
 * cache's dispatcher instead: spec/fetch/through.spec.ts.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import fc from 'fast-check';
import type { CacheFetchInit, HttpCache } from '../../lib/cache.js';
import { type AnswerAtOnce, FetchHits } from '../../lib/fetch-hits.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { useOrigin } from '../support.js';
import { madeAtOnce, snapshot } from './snapshot.js';

describe('cache.fetch: fresh hits answered without fetch, as fetch answers them', () => {
  const env = useOrigin({ clock: true });
  const runtimeFetch = globalThis.fetch;

  afterEach(() => {
    globalThis.fetch = runtimeFetch;
  });

  /** A cache whose storage answers at once (the test storage may be Redis, which does not). */
  const memoryCache = (): HttpCache => env.cache({ storage: new MemoryStorage() });

  /** The hit of `input` through cache.fetch, whether the cache made it, and fetch's own answer beside it. */
  async function both(cache: HttpCache, input: string | URL, init?: CacheFetchInit) {
    const hit = await cache.fetch(input, init);
    const made = madeAtOnce(hit);
    const atOnce = await snapshot(hit);
    const throughFetch = await snapshot(await runtimeFetch(input, { ...(init as RequestInit), dispatcher: cache.dispatcher } as unknown as RequestInit));
    return { atOnce, throughFetch, made };
  }

  /** Stores `input`'s response through cache.fetch (a miss), then waits for the write. */
  async function warm(cache: HttpCache, input: string | URL, init?: CacheFetchInit): Promise<void> {
    await (await cache.fetch(input, init)).arrayBuffer();
    await cache.settled();
  }

  const cases: Array<{ name: string; route: (req: IncomingMessage, res: ServerResponse) => void; path: string; init?: CacheFetchInit }> = [
    {
      name: 'a JSON document',
      path: '/json',
      route: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60', etag: '"1"' });
        res.end('{"a":1}');
      },
    },
    {
      name: 'a URL with an empty query and a fragment',
      path: '/empty-query?#part',
      route: (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('text');
      },
    },
    {
      name: 'a status other than 200, with its own reason phrase',
      path: '/gone',
      route: (_req, res) => {
        res.writeHead(404, 'Not Around', { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
        res.end('not here');
      },
    },
    {
      name: 'fields given several times, and no Content-Type',
      path: '/fields',
      route: (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', link: ['</a>; rel=next', '</b>; rel=prev'], 'x-many': ['1', '2'] });
        res.end(Buffer.from([0, 1, 2, 254, 255]));
      },
    },
    {
      name: 'an empty body',
      path: '/empty',
      route: (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '0' });
        res.end();
      },
    },
    {
      name: 'a response varying on the fields fetch adds itself',
      path: '/fetch-fields',
      route: (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'user-agent, accept, accept-encoding, accept-language, sec-fetch-mode' });
        res.end(`${req.headers['user-agent']} ${req.headers['accept-encoding']}`);
      },
    },
    {
      name: "a response varying on the caller's fields, given in mixed case and padded",
      path: '/caller-fields',
      init: {
        headers: [
          ['Accept-Language', '  fr  '],
          ['X-Team', 'a'],
          ['x-team', 'b'],
          ['User-Agent', 'mine'],
        ],
      },
      route: (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-language, x-team, user-agent' });
        res.end(`${req.headers['accept-language']}|${req.headers['x-team']}|${req.headers['user-agent']}`);
      },
    },
  ];

  for (const one of cases) {
    it(`${one.name}: the same Response, without calling fetch`, async () => {
      const pathname = one.path.split(/[?#]/)[0] as string;
      env.origin.route(pathname, one.route);
      const cache = memoryCache();
      const url = `${env.origin.url}${one.path}`;
      await warm(cache, url, one.init);
      const { atOnce, throughFetch, made } = await both(cache, url, one.init);
      expect(made, 'made by the cache').to.equal(true);
      expect(atOnce).to.deep.equal(throughFetch);
      expect(atOnce['headers']).to.deep.include(['cache-status', 'cachette; hit; ttl=60']);
      // Each hit counted once, and the origin asked once.
      expect(cache.stats().hits).to.equal(2);
      expect(env.origin.hits(pathname)).to.equal(1);
    });
  }

  it("a hit's bytes are the caller's own: changing them changes nothing stored", async () => {
    env.origin.route('/bytes', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('abc');
    });
    const cache = memoryCache();
    const url = `${env.origin.url}/bytes`;
    await warm(cache, url);
    const bytes = new Uint8Array(await (await cache.fetch(url)).arrayBuffer());
    bytes.fill(120);
    const again = await cache.fetch(url);
    const copy = again.clone();
    new Uint8Array(await copy.arrayBuffer()).fill(121);
    expect(await again.text()).to.equal('abc');
    expect(await (await cache.fetch(url)).text()).to.equal('abc');
    expect(env.origin.hits('/bytes')).to.equal(1);
  });

  it('a URL object answers as its string does', async () => {
    env.origin.route('/object', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('object');
    });
    const cache = memoryCache();
    const url = new URL(`${env.origin.url}/object?q=%20x#top`);
    await warm(cache, url);
    const { atOnce, throughFetch, made } = await both(cache, url);
    expect(made).to.equal(true);
    expect(atOnce).to.deep.equal(throughFetch);
  });

  it('a variant the caller has other fields for is not served: the request goes to the origin', async () => {
    env.origin.route('/lang', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-language' });
      res.end(String(req.headers['accept-language']));
    });
    const cache = memoryCache();
    const url = `${env.origin.url}/lang`;
    await warm(cache, url, { headers: { 'accept-language': 'fr' } });
    const response = await cache.fetch(url, { headers: { 'accept-language': 'de' } });
    expect(await response.text()).to.equal('de');
    expect(env.origin.hits('/lang')).to.equal(2);
  });

  /** Requests whose answer fetch itself shapes: each goes through the runtime's fetch (a stale entry, a miss: spec/fetch/through.spec.ts). */
  const leftToFetch: Array<{
    name: string;
    headers?: Record<string, string>;
    init?: () => CacheFetchInit;
    answer: (req: IncomingMessage, res: ServerResponse) => void;
    expectBody: string;
    setup?: (cache: HttpCache) => Promise<void>;
  }> = [
    {
      name: 'an encoding fetch decodes',
      answer: (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-encoding': 'gzip' });
        res.end(gzipSync('decoded'));
      },
      expectBody: 'decoded',
    },
    {
      name: 'a signal (fetch ties the body to it)',
      init: () => ({ signal: new AbortController().signal }),
      answer: (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('signalled');
      },
      expectBody: 'signalled',
    },
    {
      name: 'a redirect mode of its own',
      init: () => ({ redirect: 'manual' }),
      answer: (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('manual');
      },
      expectBody: 'manual',
    },
    {
      name: 'a conditional request',
      init: () => ({ headers: { 'if-none-match': '"other"' } }),
      answer: (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"1"' });
        res.end('conditional');
      },
      expectBody: 'conditional',
    },
    {
      name: 'a HEAD request',
      init: () => ({ method: 'HEAD' }),
      answer: (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('head');
      },
      expectBody: '',
    },
    {
      name: 'a stored redirect (fetch follows it)',
      answer: (req, res) => {
        if (req.url === '/left') {
          res.writeHead(301, { location: '/left-target', 'cache-control': 'max-age=60' });
          res.end();
          return;
        }
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('followed');
      },
      expectBody: 'followed',
    },
  ];

  for (const one of leftToFetch) {
    it(`${one.name}: left to fetch`, async () => {
      env.origin.route('/left', one.answer);
      env.origin.route('/left-target', one.answer);
      const cache = memoryCache();
      const url = `${env.origin.url}/left`;
      await warm(cache, url, one.init?.());
      await one.setup?.(cache);
      const response = await cache.fetch(url, one.init?.());
      expect(madeAtOnce(response), 'made by the cache').to.equal(false);
      expect(await response.text()).to.equal(one.expectBody);
    });
  }

  it('a disabled cache, a Request, or a cache mode: fetch as before', async () => {
    env.origin.route('/plain', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('plain');
    });
    const cache = memoryCache();
    const url = `${env.origin.url}/plain`;
    await warm(cache, url);
    for (const call of [() => cache.fetch(new Request(url)), () => cache.fetch(url, { cache: 'force-cache' })]) {
      const response = await call();
      expect(madeAtOnce(response)).to.equal(false);
      expect(await response.text()).to.equal('plain');
    }
    const disabled = env.cache({ storage: new MemoryStorage(), disabled: true });
    await warm(disabled, url);
    const response = await disabled.fetch(url);
    expect(madeAtOnce(response)).to.equal(false);
    expect(await response.text()).to.equal('plain');
  });

  it('a fetch wrapped or replaced (a mock library, a tracer): every request goes through it, and once it is back, hits are made at once again', async () => {
    env.origin.route('/wrapped', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('origin');
    });
    const cache = memoryCache();
    const url = `${env.origin.url}/wrapped`;
    // A wrapper that calls through (a tracer): the cache stores, but each hit still goes through it.
    let seen = 0;
    globalThis.fetch = (input, init) => {
      seen += 1;
      return runtimeFetch(input, init);
    };
    await warm(cache, url);
    const traced = await cache.fetch(url);
    expect(madeAtOnce(traced)).to.equal(false);
    expect(await traced.text()).to.equal('origin');
    expect(seen).to.equal(2);
    // A mock that answers every request itself.
    globalThis.fetch = async () => new Response('mocked');
    expect(await (await cache.fetch(url)).text()).to.equal('mocked');
    // Node's own fetch back: learned anew (a few turns of the event loop), then hits are made at once.
    globalThis.fetch = runtimeFetch;
    let hit = await cache.fetch(url);
    for (let turn = 0; turn < 50 && !madeAtOnce(hit); turn++) {
      await hit.arrayBuffer();
      await new Promise((resolve) => setImmediate(resolve));
      hit = await cache.fetch(url);
    }
    expect(madeAtOnce(hit)).to.equal(true);
    expect(await hit.text()).to.equal('origin');
    expect(env.origin.hits('/wrapped')).to.equal(1);
  });

  it('a stored field or reason phrase a Response refuses (an imported record, say): fetch carries the hit, nothing throws', async () => {
    const hits = new FetchHits();
    const answerOf = (from: FetchHits, input: string, lookup: AnswerAtOnce) => {
      const request = from.prepare(input, undefined);
      return request === undefined ? undefined : from.answer(request, lookup);
    };
    const url = `${env.origin.url}/hostile`;
    const served: string[] = [];
    const lookup = (status: number, statusText: string, headers: Record<string, string>): AnswerAtOnce =>
      ((opts, make) => {
        served.push(String(opts.path));
        return make({ status, statusText, headers, body: new Uint8Array([1]) });
      }) as AnswerAtOnce;
    // The first call learns what fetch adds; wait until it knows.
    for (let turn = 0; turn < 50 && answerOf(hits, url, lookup(200, 'OK', {})) === undefined; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(answerOf(hits, url, lookup(200, 'OK', { 'x-fine': 'yes' }))?.headers.get('x-fine')).to.equal('yes');
    for (const [statusText, headers] of [
      ['OK', { 'bad name': 'x' }],
      ['OK', { 'x-nul': 'a\u0000b' }],
      ['OK', { 'x-line': 'a\r\nb' }],
      ['Bad\r\nReason', {}],
    ] as Array<[string, Record<string, string>]>) {
      expect(answerOf(hits, url, lookup(200, statusText, headers))).to.equal(undefined);
    }
    expect(answerOf(hits, url, lookup(204, 'No Content', {}))).to.equal(undefined);
    expect(answerOf(hits, url, lookup(200, 'OK', { 'content-encoding': 'gzip' }))).to.equal(undefined);
    expect(served.every((path) => path === '/hostile')).to.equal(true);
  });

  it("property: any query, fragment and request fields — a hit is made at once, equal to fetch's", async () => {
    const names = ['accept', 'accept-language', 'user-agent', 'accept-encoding', 'x-api-version', 'sec-fetch-mode'];
    const fieldName = fc.constantFrom(...names).chain((name) => fc.constantFrom(name, name.toUpperCase(), name[0]?.toUpperCase() + name.slice(1)));
    const fieldValue = fc.stringMatching(/^[ \t]{0,2}[!-~]{1,12}( [!-~]{1,6})?[ \t]{0,2}$/);
    const request = fc.record({
      query: fc.string({ unit: fc.constantFrom('a', 'Z', '%', '20', '=', '&', ' ', 'é', '\u{1F600}', '/', '?', '+', '"', '<', '\\'), maxLength: 12 }),
      fragment: fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
      fields: fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 5 }),
      vary: fc.subarray(names),
      asObject: fc.boolean(),
    });
    const cache = memoryCache();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(request, async ({ query, fragment, fields, vary, asObject }) => {
        run += 1;
        const varied = vary.join(', ');
        env.origin.route('/any', (req, res) => {
          res.writeHead(200, { 'cache-control': 'max-age=60', ...(varied === '' ? {} : { vary: varied }) });
          // The body says which variant it is: a hit of another variant would show.
          res.end(JSON.stringify(vary.map((name) => req.headers[name] ?? null)));
        });
        const url = `${env.origin.url}/any?run=${run}&${query}${fragment === undefined ? '' : `#${fragment}`}`;
        const init: CacheFetchInit = { headers: asObject ? Object.fromEntries(fields) : fields };
        await warm(cache, url, init);
        const { atOnce, throughFetch, made } = await both(cache, url, init);
        expect(made, `made by the cache: ${url}`).to.equal(true);
        expect(atOnce).to.deep.equal(throughFetch);
      }),
      { numRuns: 60 },
    );
  });
});
