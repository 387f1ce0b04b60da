/**
 * `cache.fetch` makes the Response of a request that is no fresh hit itself,
 * through the cache's dispatcher, where the runtime's fetch would pass the
 * answer on as it is (lib/fetch-through.ts); anything fetch shapes — a
 * redirect, an encoding, a null-body status, an error before the answer — is
 * handed to fetch with the answer already in flight. A differential spec:
 * each answer is held against the one the runtime's fetch gives for the same
 * request through a cache of its own (`fetch(url, { dispatcher })`), field by
 * field, body, clone and errors included, and the origin is shown to get each
 * request once.
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import type { HttpCache } from '../../lib/cache.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { useOrigin } from '../support.js';
import { madeAtOnce, snapshot } from './snapshot.js';

/** What a rejection says: its class, message, and its cause's. */
function failure(error: unknown): Record<string, unknown> {
  const seen = error as Error & { cause?: Error & { code?: string } };
  return { name: seen.name, message: seen.message, cause: seen.cause?.name, code: seen.cause?.code, causeMessage: seen.cause?.message };
}

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: Record<string, unknown> }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error: failure(error) };
  }
}

describe('cache.fetch: requests that are no fresh hit, answered through the cache as fetch answers them', () => {
  const env = useOrigin({ clock: true });
  const runtimeFetch = globalThis.fetch;

  /** A cache whose cache.fetch has learned what the runtime's fetch sends (until then, fetch carries every call). */
  async function readyCache(storage?: 'memory'): Promise<HttpCache> {
    env.origin.route('/learn', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end('learn');
    });
    const cache = env.cache(storage === 'memory' ? { storage: new MemoryStorage() } : undefined);
    for (let turn = 0; turn < 50; turn++) {
      const response = await cache.fetch(`${env.origin.url}/learn`);
      await response.arrayBuffer();
      if (madeAtOnce(response)) return cache;
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error('cache.fetch never made a response itself');
  }

  /** The same request through cache.fetch and through the runtime's fetch with a cache of its own, each read the same way. */
  async function both(path: string, route: (req: IncomingMessage, res: ServerResponse) => void, init?: RequestInit) {
    // What the origin is sent, each time: the two requests must be the same to it.
    const sent: Array<Record<string, unknown>> = [];
    env.origin.route(path.split('?')[0] as string, (req, res) => {
      sent.push({ method: req.method, url: req.url, headers: req.headers });
      route(req, res);
    });
    const ours = await readyCache();
    const theirs = env.cache();
    const url = `${env.origin.url}${path}`;
    const before = env.origin.hits(path.split('?')[0] as string);
    const mine = await ours.fetch(url, init);
    const made = madeAtOnce(mine);
    const through = await snapshot(mine);
    const hitsOurs = env.origin.hits(path.split('?')[0] as string) - before;
    const fetched = await snapshot(await runtimeFetch(url, { ...init, dispatcher: theirs.dispatcher } as unknown as RequestInit));
    await Promise.all([ours.settled(), theirs.settled()]);
    expect(sent).to.have.length(2);
    expect(sent[0]).to.deep.equal(sent[1]);
    // What each cache stored of it (the learning calls are not stored).
    expect(ours.stats().stored).to.equal(theirs.stats().stored);
    return { through, fetched, made, hitsOurs };
  }

  /** How the same URL settles through cache.fetch and through the runtime's fetch with a cache of its own. */
  async function settledBoth(cache: HttpCache, url: string) {
    const mine = await settle(cache.fetch(url));
    const theirs = await settle(runtimeFetch(url, { dispatcher: env.cache().dispatcher } as unknown as RequestInit));
    return { mine, theirs };
  }

  const made: Array<{ name: string; path: string; route: (req: IncomingMessage, res: ServerResponse) => void }> = [
    {
      name: 'a document not to store, with two Set-Cookie fields and a Latin-1 value',
      path: '/no-store?q=1#frag',
      route: (_req, res) => {
        res.setHeader('set-cookie', ['a=1; Path=/', 'b=2']);
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-latin': 'caf\u00e9' });
        res.end('{"a":1}');
      },
    },
    {
      name: 'a document to store',
      path: '/stored',
      route: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', etag: '"v1"' });
        res.end('stored body');
      },
    },
    {
      name: 'a status other than 200 with its own reason phrase',
      path: '/teapot',
      route: (_req, res) => {
        res.writeHead(418, 'Short And Stout', { 'cache-control': 'no-store' });
        res.end('no coffee');
      },
    },
    {
      name: 'a body of 1 MiB in 64 KiB writes',
      path: '/large',
      route: (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        for (let i = 0; i < 16; i++) res.write(Buffer.alloc(65536, 97 + i));
        res.end();
      },
    },
  ];

  for (const one of made) {
    it(`${one.name}: made by the cache, equal to fetch's, one origin request`, async () => {
      const { through, fetched, made: byCache, hitsOurs } = await both(one.path, one.route);
      expect(byCache).to.equal(true);
      expect(through).to.deep.equal(fetched);
      expect(hitsOurs).to.equal(1);
    });
  }

  it('a stored answer is a hit at once the next time; a stale one is revalidated through the cache', async () => {
    let version = 1;
    env.origin.route('/versioned', (req, res) => {
      if (req.headers['if-none-match'] === `"v${version}"`) {
        res.writeHead(304, { 'cache-control': 'max-age=10', etag: `"v${version}"` });
        res.end();
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=10', etag: `"v${version}"` });
      res.end(`version ${version}`);
    });
    const cache = await readyCache('memory');
    const url = `${env.origin.url}/versioned`;
    expect(await (await cache.fetch(url)).text()).to.equal('version 1');
    await cache.settled();
    expect(await (await cache.fetch(url)).text()).to.equal('version 1');
    expect(env.origin.hits('/versioned')).to.equal(1);
    await env.clock.advance(20);
    const revalidated = await cache.fetch(url);
    expect(madeAtOnce(revalidated)).to.equal(true);
    expect(await revalidated.text()).to.equal('version 1');
    expect(env.origin.hits('/versioned')).to.equal(2);
    expect(cache.stats().revalidations.notModified).to.equal(1);
    version = 2;
    await env.clock.advance(20);
    expect(await (await cache.fetch(url)).text()).to.equal('version 2');
  });

  const handed: Array<{ name: string; path: string; route: (req: IncomingMessage, res: ServerResponse) => void; targetHits?: string }> = [
    {
      name: 'a redirect (fetch follows it, through the cache)',
      path: '/from',
      targetHits: '/to',
      route: (req, res) => {
        if (req.url === '/from') {
          res.writeHead(302, { location: '/to', 'cache-control': 'no-store' });
          res.end('moved');
          return;
        }
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('arrived');
      },
    },
    {
      name: 'a gzip body (fetch decodes it)',
      path: '/gzip',
      route: (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-encoding': 'gzip', 'content-type': 'text/plain' });
        res.end(gzipSync('decoded by fetch'));
      },
    },
    {
      name: 'a field value with blanks around it (a Response made with Headers would trim them; fetch keeps them)',
      path: '/blanks',
      route: (_req, res) => {
        res.writeHead(200, { 'cache-control': 'no-store', 'x-a': 'v \t', 'x-b': ' w' });
        res.end('blanks');
      },
    },
    {
      name: 'a 204 (fetch gives no body)',
      path: '/empty',
      route: (_req, res) => {
        res.writeHead(204, { 'cache-control': 'no-store' });
        res.end();
      },
    },
  ];

  for (const one of handed) {
    it(`${one.name}: handed to fetch in flight, equal to fetch's, one origin request`, async () => {
      if (one.targetHits !== undefined) env.origin.route(one.targetHits, one.route);
      const { through, fetched, made: byCache, hitsOurs } = await both(one.path, one.route);
      expect(byCache).to.equal(false);
      expect(through).to.deep.equal(fetched);
      expect(hitsOurs).to.equal(1);
      if (one.targetHits !== undefined) expect(env.origin.hits(one.targetHits)).to.equal(2);
    });
  }

  it('a Host field: fetch drops it, and so the request is the one fetch sends', async () => {
    const {
      through,
      fetched,
      made: byCache,
      hitsOurs,
    } = await both(
      '/host',
      (req, res) => {
        res.writeHead(200, { 'cache-control': 'no-store' });
        res.end(`for ${req.headers.host}`);
      },
      { headers: { host: 'elsewhere.example' } },
    );
    expect(byCache).to.equal(false);
    expect(through).to.deep.equal(fetched);
    expect(hitsOurs).to.equal(1);
  });

  it('a 407: the network error fetch makes of it (fetch does no proxy authentication), stored or not', async () => {
    env.origin.route('/proxy-auth', (_req, res) => {
      res.writeHead(407, { 'cache-control': 'max-age=60', 'proxy-authenticate': 'Basic' });
      res.end('proxy');
    });
    const ours = await readyCache('memory');
    const url = `${env.origin.url}/proxy-auth`;
    const theirs = await settle(runtimeFetch(url, { dispatcher: env.cache().dispatcher } as unknown as RequestInit));
    expect(theirs.error).to.not.equal(undefined);
    // A miss, then (if it was stored) a hit.
    expect(await settle(ours.fetch(url))).to.deep.equal(theirs);
    await ours.settled();
    expect(await settle(ours.fetch(url))).to.deep.equal(theirs);
  });

  it('a 421: fetch sends the request again on a new connection, and so does cache.fetch', async () => {
    let misdirected = 0;
    env.origin.route('/misdirected', (_req, res) => {
      if (misdirected % 2 === 0) {
        misdirected += 1;
        res.writeHead(421, { 'cache-control': 'no-store' });
        res.end('misdirected');
        return;
      }
      misdirected += 1;
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end('right server');
    });
    const ours = await readyCache();
    const url = `${env.origin.url}/misdirected`;
    const mine = await snapshot(await ours.fetch(url));
    expect(misdirected).to.equal(2);
    const fetched = await snapshot(await runtimeFetch(url, { dispatcher: env.cache().dispatcher } as unknown as RequestInit));
    expect(misdirected).to.equal(4);
    expect(mine).to.deep.equal(fetched);
  });

  it('a URL on a port fetch blocks ("bad port"): the rejection fetch gives, and nothing is sent', async () => {
    let received = 0;
    const blocked = createServer((_req, res) => {
      received += 1;
      res.end('sent');
    });
    // Any of a few of the standard's bad ports that is free here.
    let port: number | undefined;
    for (const candidate of [10080, 6666, 6667, 6668, 4190, 3659]) {
      const listening = await new Promise<boolean>((resolve) => {
        blocked.once('error', () => resolve(false));
        blocked.listen(candidate, '127.0.0.1', () => resolve(true));
      });
      if (listening) {
        port = candidate;
        break;
      }
    }
    if (port === undefined) throw new Error('none of the bad ports tried is free on 127.0.0.1');
    try {
      const { mine, theirs } = await settledBoth(await readyCache(), `http://127.0.0.1:${port}/ok`);
      expect(theirs.error).to.not.equal(undefined);
      expect(mine).to.deep.equal(theirs);
      expect(received).to.equal(0);
    } finally {
      blocked.closeAllConnections();
      await new Promise((resolve) => blocked.close(resolve));
    }
  });

  it('a connection refused: the rejection fetch gives', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const { mine, theirs } = await settledBoth(await readyCache(), `http://127.0.0.1:${port}/nothing`);
    expect(mine.error).to.not.equal(undefined);
    expect(mine).to.deep.equal(theirs);
    expect(mine.error?.['code']).to.equal('ECONNREFUSED');
  });

  it('a connection dropped before the answer: the rejection fetch gives, one origin request', async () => {
    env.origin.route('/drop', (req) => {
      req.socket.destroy();
    });
    const ours = await readyCache();
    const url = `${env.origin.url}/drop`;
    const mine = await settle(ours.fetch(url));
    expect(env.origin.hits('/drop')).to.equal(1);
    const theirs = await settle(runtimeFetch(url, { dispatcher: env.cache().dispatcher } as unknown as RequestInit));
    expect(mine.error).to.not.equal(undefined);
    expect(mine).to.deep.equal(theirs);
  });

  it("a connection dropped inside the body: the body fails as fetch's does, and nothing is stored", async () => {
    env.origin.route('/cut', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '100000' });
      res.write(Buffer.alloc(1000, 120));
      setImmediate(() => res.socket?.destroy());
    });
    const ours = await readyCache();
    const url = `${env.origin.url}/cut`;
    const mine = await ours.fetch(url);
    expect(madeAtOnce(mine)).to.equal(true);
    const theirs = await runtimeFetch(url, { dispatcher: env.cache().dispatcher } as unknown as RequestInit);
    const [read, fetchRead] = [await settle(mine.arrayBuffer()), await settle(theirs.arrayBuffer())];
    expect(read.error).to.deep.include({ name: 'TypeError', message: 'terminated' });
    expect(read).to.deep.equal(fetchRead);
    await ours.settled();
    expect(ours.stats().stored).to.equal(0);
  });

  /** A route whose body never ends; how many of its responses were cut off before the end. */
  function endless(path: string, cacheControl: string): () => number {
    let closedEarly = 0;
    env.origin.route(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': cacheControl });
      const timer = setInterval(() => res.write(Buffer.alloc(65536, 120)), 1);
      res.on('close', () => {
        clearInterval(timer);
        if (!res.writableFinished) closedEarly++;
      });
    });
    return () => closedEarly;
  }

  it('a body cancelled: the request is aborted and nothing is stored', async () => {
    const closedEarly = endless('/endless', 'max-age=60');
    const cache = await readyCache();
    const url = `${env.origin.url}/endless`;
    const response = await cache.fetch(url);
    expect(madeAtOnce(response)).to.equal(true);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).to.equal(false);
    await reader.cancel();
    for (let turn = 0; turn < 200 && closedEarly() === 0; turn++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(closedEarly()).to.equal(1);
    await cache.settled();
    expect(cache.stats().stored).to.equal(0);
  });

  it("a Response dropped unread lets its connection go once collected (as fetch's does)", async () => {
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    const closedEarly = endless('/dropped', 'no-store');
    const cache = await readyCache();
    await (async () => {
      const response = await cache.fetch(`${env.origin.url}/dropped`);
      expect(madeAtOnce(response)).to.equal(true);
    })();
    for (let turn = 0; turn < 200 && closedEarly() === 0; turn++) {
      collect();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(closedEarly()).to.equal(1);
  });

  it('a body read from, released and kept while its Response is collected is not cut off (as fetch leaves it)', async () => {
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    let rest: (() => void) | undefined;
    env.origin.route('/kept', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.write('aaaaaaaaaa');
      rest = () => res.end('bbbbbbbbbb');
    });
    const cache = await readyCache();
    const body = await (async () => {
      const response = await cache.fetch(`${env.origin.url}/kept`);
      expect(madeAtOnce(response)).to.equal(true);
      const stream = response.body as ReadableStream<Uint8Array>;
      const reader = stream.getReader();
      expect(Buffer.from((await reader.read()).value as Uint8Array).toString()).to.equal('aaaaaaaaaa');
      reader.releaseLock();
      return stream;
    })();
    // The Response is gone; its body is still held, by the caller.
    for (let turn = 0; turn < 20; turn++) {
      collect();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    rest?.();
    const reader = body.getReader();
    let text = '';
    for (let step = await reader.read(); !step.done; step = await reader.read()) text += Buffer.from(step.value).toString();
    expect(text).to.equal('bbbbbbbbbb');
  });

  it('a reader with its own buffer (BYOB) reads the body', async () => {
    env.origin.route('/byob', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end('abcdefghij');
    });
    const cache = await readyCache();
    const response = await cache.fetch(`${env.origin.url}/byob`);
    expect(madeAtOnce(response)).to.equal(true);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader({ mode: 'byob' });
    const parts: string[] = [];
    for (;;) {
      const { done, value } = await reader.read(new Uint8Array(4));
      if (done) break;
      parts.push(Buffer.from(value).toString());
    }
    expect(parts.join('')).to.equal('abcdefghij');
  });
});
