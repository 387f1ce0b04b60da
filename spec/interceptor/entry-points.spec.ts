import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Agent, type Dispatcher, getGlobalDispatcher, request, fetch as undiciFetch } from 'undici';
import { respond } from '../../fixtures/origin.js';
import { useOrigin } from '../support.js';

describe('entry points: a miss then a hit through each way of using the cache', () => {
  const env = useOrigin();
  const body = randomBytes(2048);

  beforeEach(() => {
    env.origin.route('/data', respond(200, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream' }, body));
  });

  it('cache.fetch', async () => {
    const cache = env.cache();
    const first = await cache.fetch(`${env.origin.url}/data`);
    expect(Buffer.from(await first.arrayBuffer()).equals(body)).to.equal(true);
    expect(first.headers.get('cache-status')).to.match(/^cachette; fwd=uri-miss; fwd-status=200; stored; ttl=(59|60)$/);

    const second = await cache.fetch(`${env.origin.url}/data`);
    expect(Buffer.from(await second.arrayBuffer()).equals(body)).to.equal(true);
    expect(second.headers.get('cache-status')).to.match(/^cachette; hit; ttl=\d+$/);
    expect(second.headers.get('age')).to.match(/^\d+$/);
    // Framing as the origin sent it: a hit does not invent a Content-Length the miss did not have.
    expect(second.headers.get('content-length')).to.equal(first.headers.get('content-length'));
    expect(env.origin.hits('/data')).to.equal(1);
  });

  it("undici's fetch with the dispatcher option", async () => {
    const cache = env.cache();
    for (let i = 0; i < 3; i++) {
      const response = await undiciFetch(`${env.origin.url}/data`, { dispatcher: cache.dispatcher });
      expect(Buffer.from(await response.arrayBuffer()).equals(body)).to.equal(true);
    }
    expect(env.origin.hits('/data')).to.equal(1);
  });

  it("Node's global fetch with the dispatcher option", async () => {
    const cache = env.cache();
    for (let i = 0; i < 3; i++) {
      const response = await globalThis.fetch(`${env.origin.url}/data`, { dispatcher: cache.dispatcher } as unknown as RequestInit);
      expect(Buffer.from(await response.arrayBuffer()).equals(body)).to.equal(true);
      if (i > 0) expect(response.headers.get('cache-status')).to.match(/hit/);
    }
    expect(env.origin.hits('/data')).to.equal(1);
  });

  it('undici.request through new Agent().compose(cache.interceptor())', async () => {
    const cache = env.cache();
    const agent = new Agent().compose(cache.interceptor());
    try {
      for (let i = 0; i < 3; i++) {
        const response = await request(`${env.origin.url}/data`, { dispatcher: agent });
        expect(response.statusCode).to.equal(200);
        expect(Buffer.from(await response.body.arrayBuffer()).equals(body)).to.equal(true);
        if (i > 0) expect(response.headers['cache-status']).to.match(/^cachette; hit/);
      }
    } finally {
      await agent.close();
    }
    expect(env.origin.hits('/data')).to.equal(1);
  });

  it('stream() through the composed agent', async () => {
    const cache = env.cache();
    const agent = new Agent().compose(cache.interceptor());
    const { Writable } = await import('node:stream');
    try {
      for (let i = 0; i < 2; i++) {
        const chunks: Buffer[] = [];
        await agent.stream(
          { origin: env.origin.url, path: '/data', method: 'GET' },
          () =>
            new Writable({
              write(chunk: Buffer, _encoding, callback) {
                chunks.push(chunk);
                callback();
              },
            }),
        );
        expect(Buffer.concat(chunks).equals(body)).to.equal(true);
      }
    } finally {
      await agent.close();
    }
    expect(env.origin.hits('/data')).to.equal(1);
  });

  it('install() serves the global fetch, uninstall() restores the previous dispatcher', async () => {
    const cache = env.cache();
    const before = getGlobalDispatcher();
    cache.install();
    try {
      expect(getGlobalDispatcher()).to.not.equal(before);
      for (let i = 0; i < 3; i++) {
        const response = await globalThis.fetch(`${env.origin.url}/data`);
        expect(Buffer.from(await response.arrayBuffer()).equals(body)).to.equal(true);
      }
      const viaUndici = await undiciFetch(`${env.origin.url}/data`);
      expect(viaUndici.headers.get('cache-status')).to.match(/hit/);
      await viaUndici.arrayBuffer();
    } finally {
      cache.uninstall();
    }
    expect(getGlobalDispatcher()).to.equal(before);
    expect(env.origin.hits('/data')).to.equal(1);

    const after = await globalThis.fetch(`${env.origin.url}/data`);
    await after.arrayBuffer();
    expect(after.headers.get('cache-status')).to.equal(null);
    expect(env.origin.hits('/data')).to.equal(2);
  });
});

describe('a hit from memory', () => {
  const env = useOrigin();

  it('is answered before dispatch returns (no turn of the event loop)', async () => {
    env.origin.route('/data', respond(200, { 'cache-control': 'max-age=60' }, 'body'));
    const cache = env.cache();
    await (await cache.fetch(`${env.origin.url}/data`)).text();
    await cache.settled();
    // Composed on an Agent, as undici 8 says at compose time (null: no origin of its own).
    const compose = cache.interceptor() as (next: Dispatcher.Dispatch, origin: null) => Dispatcher.Dispatch;
    const dispatch = compose(() => {
      throw new Error('a hit must not be forwarded');
    }, null);
    const events: string[] = [];
    dispatch(
      { origin: env.origin.url, path: '/data', method: 'GET', headers: {} },
      {
        onRequestStart: () => events.push('start'),
        onResponseStart: (_controller, status) => events.push(`status ${status}`),
        onResponseData: (_controller, chunk) => events.push(`data ${chunk.toString()}`),
        onResponseEnd: () => events.push('end'),
        onResponseError: (_controller, error) => events.push(`error ${error.message}`),
      },
    );
    expect(events).to.deep.equal(['start', 'status 200', 'data body', 'end']);
  });

  it('each hit has its own raw header list: a consumer that edits one in place changes no other hit', async () => {
    env.origin.route('/data', respond(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, 'body'));
    const cache = env.cache();
    // Between the cache and undici's own handler, an interceptor that empties the list it is handed
    // (undici's decompress interceptor edits rawHeaders in place the same way).
    const emptying =
      (dispatch: Dispatcher.Dispatch): Dispatcher.Dispatch =>
      (opts, handler) =>
        dispatch(opts, {
          onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
          onResponseStart: (controller, status, headers, statusText) => {
            const raw: unknown = controller.rawHeaders;
            if (Array.isArray(raw)) raw.splice(0, raw.length);
            handler.onResponseStart?.(controller, status, headers, statusText);
          },
          onResponseData: (controller, chunk) => handler.onResponseData?.(controller, chunk),
          onResponseEnd: (controller, trailers) => handler.onResponseEnd?.(controller, trailers),
          onResponseError: (controller, error) => handler.onResponseError?.(controller, error),
        });
    const agent = new Agent().compose(cache.interceptor());
    try {
      await (await request(`${env.origin.url}/data`, { dispatcher: agent })).body.text();
      await cache.settled();
      await (await request(`${env.origin.url}/data`, { dispatcher: agent.compose(emptying) })).body.text();
      const hit = await undiciFetch(`${env.origin.url}/data`, { dispatcher: agent });
      expect(await hit.text()).to.equal('body');
      expect(hit.headers.get('content-type')).to.equal('text/plain');
      expect(hit.headers.get('cache-status')).to.match(/^cachette; hit; ttl=\d+$/);
    } finally {
      await agent.close();
    }
  });

  it('a v1 handler (onHeaders, onData, onComplete) gets every header of a hit, and pausing in onHeaders holds the body back', async () => {
    env.origin.route(
      '/links',
      respond(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain', 'content-length': '4', link: ['</a>; rel=a', '</b>; rel=b'] }, 'body'),
    );
    const cache = env.cache();
    const agent = new Agent().compose(cache.interceptor());
    const events: string[] = [];
    let headers: string[] = [];
    let resume: (() => void) | undefined;
    try {
      await (await request(`${env.origin.url}/links`, { dispatcher: agent })).body.text();
      await cache.settled();
      agent.dispatch({ origin: env.origin.url, path: '/links', method: 'GET' }, {
        onConnect: () => events.push('connect'),
        onHeaders: (status: number, raw: Array<Buffer | Buffer[]>, resumeBody: () => void) => {
          events.push(`status ${status}`);
          // A v1 handler takes a repeated field as repeated pairs or as one name with an array of values.
          headers = raw
            .flatMap((value, i) => (i % 2 === 1 ? [] : [value as Buffer].flatMap((name) => [raw[i + 1]].flat().flatMap((item) => [name, item as Buffer]))))
            .map((bytes) => bytes.toString('latin1'));
          resume = resumeBody;
          return false;
        },
        onData: (chunk: Buffer) => {
          events.push(`data ${chunk.toString()}`);
          return true;
        },
        onComplete: () => events.push('end'),
        onError: (error: Error) => events.push(`error ${error.message}`),
      } as unknown as Dispatcher.DispatchHandler);
      await new Promise((resolve) => setImmediate(resolve));
      expect(events).to.deep.equal(['connect', 'status 200']);
      const pairs = headers.flatMap((value, i) => (i % 2 === 0 ? [`${value.toLowerCase()}: ${headers[i + 1]}`] : []));
      expect(pairs).to.include.members(['content-type: text/plain', 'link: </a>; rel=a', 'link: </b>; rel=b', 'content-length: 4']);
      expect(pairs.find((pair) => pair.startsWith('cache-status: '))).to.match(/^cache-status: cachette; hit; ttl=\d+$/);
      expect(pairs.find((pair) => pair.startsWith('age: '))).to.match(/^age: \d+$/);
      resume?.();
      await new Promise((resolve) => setImmediate(resolve));
      expect(events).to.deep.equal(['connect', 'status 200', 'data body', 'end']);
    } finally {
      await agent.close();
    }
    expect(env.origin.hits('/links')).to.equal(1);
  });

  it('Age and Cache-Status follow each entry, whichever was served last', async () => {
    env.origin.route('/young', respond(200, { 'cache-control': 'max-age=60' }, 'young'));
    env.origin.route('/old', respond(200, { 'cache-control': 'max-age=600', age: '100' }, 'old'));
    const cache = env.cache();
    for (const path of ['/young', '/old']) await (await cache.fetch(`${env.origin.url}${path}`)).text();
    await cache.settled();
    for (let round = 0; round < 3; round++) {
      const young = await cache.fetch(`${env.origin.url}/young`);
      await young.text();
      expect(Number(young.headers.get('age'))).to.be.below(5);
      expect(young.headers.get('cache-status')).to.match(/^cachette; hit; ttl=(5[5-9]|60)$/);
      const old = await cache.fetch(`${env.origin.url}/old`);
      await old.text();
      expect(Number(old.headers.get('age'))).to.be.within(100, 105);
      expect(old.headers.get('cache-status')).to.match(/^cachette; hit; ttl=(49[5-9]|500)$/);
    }
  });
});
