/**
 * cache.fetch as a drop-in for the runtime's fetch: what it accepts, and a
 * differential against the plain global fetch for what it returns.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { expect } from 'chai';
import { Request as UndiciRequest } from 'undici';
import { useOrigin } from '../support.js';

/** Fields a cache replays differently by design: its own (Age, Cache-Status) and the origin connection's (RFC 9111 §3.1). */
const CONNECTION_FIELDS = new Set(['connection', 'keep-alive', 'transfer-encoding']);

interface Observed {
  isRuntimeResponse: boolean;
  isRuntimeHeaders: boolean;
  prototypeIsResponse: boolean;
  status: number;
  statusText: string;
  ok: boolean;
  url: string;
  redirected: boolean;
  type: string;
  bodyUsedBefore: boolean;
  bodyUsedAfter: boolean;
  headers: Array<[string, string]>;
  setCookies: string[];
  immutable: boolean;
  clone: { body: string; url: string; type: string; status: number } | undefined;
  body: string;
}

/** Everything a caller can observe of a Response. */
async function observe(response: Response, exclude: ReadonlySet<string> = new Set()): Promise<Observed> {
  let immutable = false;
  try {
    response.headers.append('x-probe', '1');
  } catch (error) {
    immutable = error instanceof TypeError;
  }
  const bodyUsedBefore = response.bodyUsed;
  let clone: Observed['clone'];
  if (response.body !== null) {
    const copy = response.clone();
    clone = { body: await copy.text(), url: copy.url, type: copy.type, status: copy.status };
  }
  const body = await response.text();
  return {
    isRuntimeResponse: response instanceof Response,
    isRuntimeHeaders: response.headers instanceof Headers,
    prototypeIsResponse: Object.getPrototypeOf(response) === Response.prototype,
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    url: response.url,
    redirected: response.redirected,
    type: response.type,
    bodyUsedBefore,
    bodyUsedAfter: response.bodyUsed,
    headers: [...response.headers].filter(([name]) => !exclude.has(name)),
    setCookies: response.headers.getSetCookie(),
    immutable,
    clone,
    body,
  };
}

describe("cache.fetch: a drop-in for the runtime's fetch", () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  /** A fixed response: no Date (it would differ between two fetches a second apart). */
  const fixed =
    (status: number, headers: Record<string, string | string[]>, body = '') =>
    (_req: IncomingMessage, res: ServerResponse) => {
      res.removeHeader('date');
      res.sendDate = false;
      res.writeHead(status, headers);
      res.end(body);
    };

  beforeEach(() => {
    env.origin.route(
      '/json',
      fixed(200, { 'cache-control': 'max-age=60', 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'x-many': ['1', '2'] }, '{"ok":true}'),
    );
    env.origin.route('/missing', fixed(404, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, 'not here'));
    env.origin.route('/empty', fixed(204, { 'cache-control': 'max-age=60' }));
    env.origin.route('/moved', fixed(301, { location: '/json', 'cache-control': 'max-age=60' }));
    env.origin.route('/echo', (req, res, body) => {
      res.removeHeader('date');
      res.sendDate = false;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, headers: req.headers, body: body.toString('base64') }));
    });
  });

  it('is a function of its own: unbound, called with no `this`, handed around', async () => {
    // Private cache: the fixture sets cookies, which a shared cache would not store.
    const { fetch } = env.cache({ type: 'private' });
    const first = await fetch(url('/json'));
    expect(await first.text()).to.equal('{"ok":true}');
    const second = await fetch.call(undefined, url('/json'));
    expect(second.headers.get('cache-status')).to.match(/^cachette; hit/);
    expect(await Reflect.apply(fetch, null, [url('/json')]).then((response: Response) => response.status)).to.equal(200);
    expect(env.origin.hits('/json')).to.equal(1);
  });

  describe('returns what the plain global fetch returns, on a miss and on a hit', () => {
    for (const [path, init] of [
      ['/json', undefined],
      ['/missing', undefined],
      ['/empty', undefined],
      ['/moved', undefined],
      ['/moved', { redirect: 'manual' as const }],
    ] as const) {
      it(`GET ${path}${init === undefined ? '' : ` (redirect: ${init.redirect})`}`, async () => {
        const cache = env.cache({ type: 'private' });
        const plain = await observe(await globalThis.fetch(url(path), init));
        const miss = await observe(await cache.fetch(url(path), init), new Set(['cache-status']));
        const hit = await observe(await cache.fetch(url(path), init), new Set(['cache-status', 'age']));

        expect(plain.isRuntimeResponse && plain.prototypeIsResponse && plain.isRuntimeHeaders && plain.immutable).to.equal(true);
        expect(miss).to.deep.equal(plain);
        // The hit was served from the cache (the final hop, for a redirect)...
        const requestsAfterMiss = env.origin.hits();
        expect(requestsAfterMiss).to.be.greaterThan(0);
        // ...and differs only in the fields of the origin's connection, which a cache does not replay.
        const plainWithoutConnection = { ...plain, headers: plain.headers.filter(([name]) => !CONNECTION_FIELDS.has(name)) };
        expect(hit).to.deep.equal(plainWithoutConnection);
      });
    }

    it('HEAD /json: forwarded while nothing is stored, then answered from the stored GET', async () => {
      const cache = env.cache({ type: 'private' });
      const plain = await observe(await globalThis.fetch(url('/json'), { method: 'HEAD' }));
      const forwarded = await observe(await cache.fetch(url('/json'), { method: 'HEAD' }), new Set(['cache-status']));
      expect(forwarded).to.deep.equal(plain);
      await (await cache.fetch(url('/json'))).text();
      const requests = env.origin.hits();
      const hit = await cache.fetch(url('/json'), { method: 'HEAD' });
      expect(hit.headers.get('cache-status')).to.match(/^cachette; hit/);
      const plainGet = await observe(await globalThis.fetch(url('/json')));
      // The GET's fields (the origin's HEAD may frame itself differently), no body.
      expect(await observe(hit, new Set(['cache-status', 'age']))).to.deep.equal({
        ...plainGet,
        headers: plainGet.headers.filter(([name]) => !CONNECTION_FIELDS.has(name)),
        body: '',
        clone: undefined,
        bodyUsedAfter: false,
      });
      expect(env.origin.hits()).to.equal(requests + 1); // the plain GET only
    });

    it('the hit is served from the cache (no origin request), as Age and Cache-Status say', async () => {
      const cache = env.cache({ type: 'private' });
      await (await cache.fetch(url('/moved'))).text();
      const before = env.origin.hits();
      const hit = await cache.fetch(url('/moved'));
      expect(hit.redirected).to.equal(true);
      expect(hit.url).to.equal(url('/json'));
      expect(hit.headers.get('cache-status')).to.match(/^cachette; hit/);
      expect(hit.headers.get('age')).to.match(/^\d+$/);
      await hit.text();
      expect(env.origin.hits()).to.equal(before);
    });
  });

  describe("accepts every input the runtime's fetch accepts", () => {
    it('a URL object, and an object with a toString', async () => {
      const cache = env.cache({ type: 'private' });
      expect((await cache.fetch(new URL(url('/json')))).status).to.equal(200);
      const hit = await cache.fetch({ toString: () => url('/json') } as unknown as string);
      expect(hit.headers.get('cache-status')).to.match(/hit/);
      expect(env.origin.hits('/json')).to.equal(1);
    });

    it('a global Request: its method, headers, body and signal', async () => {
      const cache = env.cache();
      const post = new Request(url('/echo'), { method: 'POST', headers: { 'x-from': 'request' }, body: 'payload' });
      const echoed = (await (await cache.fetch(post)).json()) as { method: string; headers: Record<string, string>; body: string };
      expect(echoed.method).to.equal('POST');
      expect(echoed.headers['x-from']).to.equal('request');
      expect(Buffer.from(echoed.body, 'base64').toString()).to.equal('payload');

      const controller = new AbortController();
      controller.abort(new Error('gave up'));
      const aborted = await cache.fetch(new Request(url('/json'), { signal: controller.signal })).then(
        () => 'resolved',
        (error: Error) => error.message,
      );
      expect(aborted).to.equal('gave up');
    });

    it('a global Request for a GET is cached like a URL, its headers in the key where matchHeaders says so', async () => {
      const cache = env.cache({ type: 'private', matchHeaders: ['accept-language'] });
      await (await cache.fetch(new Request(url('/json'), { headers: { 'accept-language': 'fr' } }))).text();
      const same = await cache.fetch(new Request(url('/json'), { headers: { 'accept-language': 'fr' } }));
      expect(same.headers.get('cache-status')).to.match(/hit/);
      const other = await cache.fetch(new Request(url('/json'), { headers: { 'accept-language': 'de' } }));
      expect(other.headers.get('cache-status')).to.match(/fwd=uri-miss/);
      expect(env.origin.hits('/json')).to.equal(2);
    });

    it("a Request of the undici package, turned into the runtime's own", async () => {
      const cache = env.cache();
      const echoed = (await (
        await cache.fetch(new UndiciRequest(url('/echo'), { method: 'PUT', headers: { 'x-from': 'undici' }, body: 'bytes' }) as unknown as Request)
      ).json()) as { method: string; headers: Record<string, string>; body: string };
      expect([echoed.method, echoed.headers['x-from'], Buffer.from(echoed.body, 'base64').toString()]).to.deep.equal(['PUT', 'undici', 'bytes']);
    });

    const bodies: Array<[string, () => NonNullable<RequestInit['body']>, (echo: { headers: Record<string, string>; body: Buffer }) => void]> = [
      [
        'FormData with a file',
        () => {
          const form = new FormData();
          form.append('purpose', 'test');
          form.append('file', new Blob([Buffer.from([0, 1, 2, 255, 254])], { type: 'application/octet-stream' }), 'bytes.bin');
          return form;
        },
        (echo) => {
          expect(echo.headers['content-type']).to.match(/^multipart\/form-data; boundary=/);
          const text = echo.body.toString('latin1');
          expect(text).to.contain('name="purpose"\r\n\r\ntest\r\n');
          expect(text).to.contain('filename="bytes.bin"');
          expect(echo.body.includes(Buffer.from([0, 1, 2, 255, 254]))).to.equal(true);
        },
      ],
      [
        'Blob',
        () => new Blob(['blob body'], { type: 'text/x-blob' }),
        (echo) => {
          expect(echo.headers['content-type']).to.equal('text/x-blob');
          expect(echo.body.toString()).to.equal('blob body');
        },
      ],
      [
        'URLSearchParams',
        () => new URLSearchParams({ a: '1', b: 'two words' }),
        (echo) => {
          expect(echo.headers['content-type']).to.equal('application/x-www-form-urlencoded;charset=UTF-8');
          expect(echo.body.toString()).to.equal('a=1&b=two+words');
        },
      ],
      [
        'a ReadableStream',
        () =>
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode('streamed '));
              controller.enqueue(new TextEncoder().encode('body'));
              controller.close();
            },
          }),
        (echo) => {
          expect(echo.body.toString()).to.equal('streamed body');
        },
      ],
    ];
    for (const [name, make, check] of bodies) {
      it(`${name} as a body arrives byte for byte, as through the plain fetch`, async () => {
        const cache = env.cache();
        const send = async (fetcher: typeof globalThis.fetch) => {
          const init = { method: 'POST', body: make(), duplex: 'half' } as RequestInit;
          const echo = (await (await fetcher(url('/echo'), init)).json()) as { headers: Record<string, string>; body: string };
          return { headers: echo.headers, body: Buffer.from(echo.body, 'base64') };
        };
        const through = await send(cache.fetch as typeof globalThis.fetch);
        const plain = await send(globalThis.fetch);
        check(through);
        // A multipart boundary is random: compare the rest.
        const boundary = (echo: { headers: Record<string, string>; body: Buffer }) => /boundary=(.+)$/.exec(echo.headers['content-type'] ?? '')?.[1];
        const normalize = (echo: { headers: Record<string, string>; body: Buffer }) => {
          const mark = boundary(echo);
          return mark === undefined ? echo.body.toString('latin1') : echo.body.toString('latin1').replaceAll(mark, 'BOUNDARY');
        };
        expect(normalize(through)).to.equal(normalize(plain));
      });
    }
  });

  it('an init that is not an object, or a member that throws, rejects as fetch does (never throws)', async () => {
    const cache = env.cache();
    const outcome = (call: () => Promise<unknown>) => {
      try {
        return call().then(
          () => 'resolved',
          (error: Error) => error.constructor.name,
        );
      } catch {
        return Promise.resolve('threw');
      }
    };
    expect(await outcome(() => cache.fetch(url('/json'), 42 as unknown as RequestInit))).to.equal('TypeError');
    const hostile = {
      get cache(): string {
        throw new RangeError('no');
      },
    };
    expect(await outcome(() => cache.fetch(url('/json'), hostile as RequestInit))).to.equal('RangeError');
    expect(await outcome(() => cache.fetch('not a url'))).to.equal('TypeError');
  });

  it('an aborted body read fails on a hit as on a miss', async () => {
    env.origin.route('/big', fixed(200, { 'cache-control': 'max-age=60' }, 'x'.repeat(512 * 1024)));
    const cache = env.cache();
    await (await cache.fetch(url('/big'))).arrayBuffer();
    const controller = new AbortController();
    const hit = await cache.fetch(url('/big'), { signal: controller.signal });
    expect(hit.headers.get('cache-status')).to.match(/hit/);
    const reader = (hit.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    controller.abort();
    const outcome = await (async () => {
      for (;;) {
        const { done } = await reader.read();
        if (done) return 'completed';
      }
    })().catch((error: Error) => error.name);
    expect(outcome).to.equal('AbortError');
  });
});
