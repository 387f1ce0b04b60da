import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Agent, fetch as undiciFetch, request, getGlobalDispatcher } from 'undici';
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
    expect(second.headers.get('content-length')).to.equal(String(body.length));
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
        await agent.stream({ origin: env.origin.url, path: '/data', method: 'GET' }, () => new Writable({
          write(chunk: Buffer, _encoding, callback) {
            chunks.push(chunk);
            callback();
          },
        }));
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
    const dispatch = cache.interceptor()(() => {
      throw new Error('a hit must not be forwarded');
    });
    const events: string[] = [];
    dispatch({ origin: env.origin.url, path: '/data', method: 'GET', headers: {} }, {
      onRequestStart: () => events.push('start'),
      onResponseStart: (_controller, status) => events.push(`status ${status}`),
      onResponseData: (_controller, chunk) => events.push(`data ${chunk.toString()}`),
      onResponseEnd: () => events.push('end'),
      onResponseError: (_controller, error) => events.push(`error ${error.message}`),
    });
    expect(events).to.deep.equal(['start', 'status 200', 'data body', 'end']);
  });
});
