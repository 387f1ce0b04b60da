/**
 * No request gets another's response: whatever undici uses to build the
 * request target — path, undici's `query`, a `Host` field, the method as
 * written, a body — is in the key, or the request bypasses the cache with a
 * named reason. On every entry point a caller has: the dispatcher, the
 * interceptor composed on an Agent or on a Client, and `cache.fetch`.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Agent, Client, type Dispatcher, interceptors, Pool, request } from 'undici';
import { FaultyStorage } from '../../fixtures/faulty-storage.js';
import { Gate, Origin, respond } from '../../fixtures/origin.js';
import type { HttpCache } from '../../lib/cache.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { decisions, useOrigin } from '../support.js';

interface Answer {
  status: number;
  body: string;
  cacheStatus: string;
}

type Send = (path: string, options?: { headers?: Record<string, string>; query?: Record<string, unknown>; method?: string; body?: string }) => Promise<Answer>;

/** The entry points, each a way to send a request through `cache` to `origin`. */
function entryPoints(): Array<{ name: string; open: (cache: HttpCache, origin: string) => { send: Send; close: () => Promise<void> } }> {
  const through =
    (dispatcher: Dispatcher, origin: string): Send =>
    async (path, options = {}) => {
      const response = await request(`${origin}${path}`, { dispatcher, ...options } as Parameters<typeof request>[1]);
      const cacheStatus = response.headers['cache-status'];
      return { status: response.statusCode, body: await response.body.text(), cacheStatus: String(cacheStatus) };
    };
  return [
    { name: 'cache.dispatcher', open: (cache, origin) => ({ send: through(cache.dispatcher, origin), close: async () => undefined }) },
    {
      name: 'an Agent composed with cache.interceptor()',
      open: (cache, origin) => {
        const agent = new Agent().compose(cache.interceptor());
        return { send: through(agent, origin), close: () => agent.close() };
      },
    },
    {
      name: 'a Client composed with cache.interceptor()',
      open: (cache, origin) => {
        const client = new Client(origin).compose(cache.interceptor());
        return { send: through(client, origin), close: () => client.close() };
      },
    },
  ];
}

describe('no poisoning: the key is the target URI', () => {
  const env = useOrigin();

  beforeEach(() => {
    // An origin that tells requests apart by what the cache must key: its Host, its target, its method, its body.
    env.origin.route('/echo', (req, res, body) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
      res.end(`host=${req.headers.host} url=${req.url} method=${req.method} body=${body.toString('latin1')}`);
    });
    env.origin.route('/warm', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end('warm');
    });
  });

  for (const entry of entryPoints()) {
    describe(`through ${entry.name}`, () => {
      let send: Send;
      let close: () => Promise<void>;
      let cache: HttpCache;

      beforeEach(async () => {
        cache = env.cache();
        ({ send, close } = entry.open(cache, env.origin.url));
        // A Client on undici 7 learns its origin from its first request (that one is stored, not looked up).
        await send('/warm');
      });
      afterEach(() => close());

      it('a Host field names another resource: each Host has its entry, none is served another’s', async () => {
        const own = `127.0.0.1:${env.origin.port}`;
        expect((await send('/echo', { headers: { host: 'tenant-a.example' } })).body).to.match(/^host=tenant-a\.example /);
        expect((await send('/echo')).body).to.match(new RegExp(`^host=${own.replace(/\./g, '\\.')} `));
        expect((await send('/echo', { headers: { host: 'tenant-b.example' } })).body).to.match(/^host=tenant-b\.example /);
        const again = await send('/echo', { headers: { host: 'TENANT-A.example:80' } });
        expect(again.body).to.match(/^host=tenant-a\.example /);
        expect(again.cacheStatus).to.match(/; hit/);
        // The origin's own authority, spelled as a Host, is the same resource as no Host at all.
        expect((await send('/echo', { headers: { host: own } })).cacheStatus).to.match(/; hit/);
        expect(env.origin.hits('/echo')).to.equal(3);
      });

      it('a Host as undici sends it: null is an empty Host, U+00A0 is part of it (HTTP trims only blanks)', async () => {
        const own = `127.0.0.1:${env.origin.port}`;
        for (const host of [null, `\u00a0${own}`, `${own}\u00a0`]) {
          await send('/echo', { headers: { host } as unknown as Record<string, string> });
        }
        const plain = await send('/echo');
        expect(plain.body).to.match(new RegExp(`^host=${own.replace(/\./g, '\\.')} `));
        expect(plain.cacheStatus).to.match(/fwd=uri-miss/);
      });

      it("undici's query option is part of the target: { i: 0 } and { i: 1 } are two resources", async () => {
        expect((await send('/echo', { query: { i: 0 } })).body).to.include('url=/echo?i=0 ');
        const second = await send('/echo', { query: { i: 1 } });
        expect(second.body).to.include('url=/echo?i=1 ');
        expect(second.cacheStatus).to.match(/fwd=uri-miss/);
        // The same target written in the path is the same resource.
        expect((await send('/echo?i=1')).cacheStatus).to.match(/; hit/);
        const listed = await send('/echo', { query: { a: [1, 2], b: 'x y' } });
        expect(listed.body).to.include('url=/echo?a=1&a=2&b=x%20y ');
        expect((await send('/echo?a=1&a=2&b=x%20y')).cacheStatus).to.match(/; hit/);
        expect(env.origin.hits('/echo')).to.equal(3);
      });

      it('a method is case-sensitive: a stored GET never answers `get` (which this origin refuses)', async () => {
        await send('/echo');
        const lower = await send('/echo', { method: 'get' });
        expect(lower.status).to.equal(400);
        expect(lower.cacheStatus).to.equal('cachette; fwd=method');
      });

      it('a GET with a body bypasses the cache (the key does not read it), and so does a method override', async () => {
        await send('/echo');
        const withBody = await send('/echo', { method: 'GET', body: 'one' });
        expect(withBody.body).to.include('body=one');
        expect(withBody.cacheStatus).to.match(/fwd=bypass; detail=body/);
        const overridden = await send('/echo', { headers: { 'x-http-method-override': 'DELETE' } });
        expect(overridden.cacheStatus).to.match(/fwd=bypass; detail=method-override/);
        expect(env.origin.hits('/echo')).to.equal(3);
      });
    });
  }

  it('a Client sends to its own origin whatever a request names: a request naming another origin never fills that origin’s entry', async () => {
    const cache = env.cache();
    const other = await Origin.start();
    try {
      other.route('/echo', respond(200, { 'cache-control': 'max-age=600' }, 'the other origin'));
      const client = new Client(env.origin.url).compose(cache.interceptor());
      // Named another origin, sent to the Client's own: not stored under the other's key.
      const sent = await client.request({ origin: other.url, path: '/echo', method: 'GET' });
      expect(await sent.body.text()).to.match(/^host=127/);
      await cache.settled();
      const direct = await request(`${other.url}/echo`, { dispatcher: cache.dispatcher });
      expect(await direct.body.text()).to.equal('the other origin');
      await client.close();
    } finally {
      await other.close();
    }
  });

  describe('where a dispatcher sends a request that names an origin', () => {
    let other: Origin;
    let gate: Gate;
    beforeEach(async () => {
      other = await Origin.start();
      other.route('/a', respond(200, { 'cache-control': 'max-age=600' }, 'the other origin'));
      gate = new Gate();
      gate.open();
      env.origin.route('/a', gate.guard(respond(200, { 'cache-control': 'max-age=600' }, 'this origin')));
    });
    afterEach(() => other.close());

    it('a Pool that queues a request naming another origin: its answer never fills that origin’s entry', async () => {
      const cache = env.cache();
      const pool = new Pool(env.origin.url, { connections: 1 }).compose(cache.interceptor());
      try {
        // The one connection is busy with a request the origin holds while another is queued behind it.
        gate.close();
        const busy = pool.request({ origin: env.origin.url, path: '/a', method: 'GET' }).then((response) => response.body.text());
        while (gate.waiting < 1) await new Promise((resolve) => setImmediate(resolve));
        const queuing = pool.request({ origin: other.url, path: '/a', method: 'GET' });
        gate.open();
        const queued = await queuing;
        expect(await queued.body.text()).to.equal('this origin');
        await busy;
        await cache.settled();
        const victim = await request(`${other.url}/a`, { dispatcher: cache.dispatcher });
        expect(await victim.body.text()).to.equal('the other origin');
      } finally {
        await pool.close();
      }
    });

    it('a Client asked for another origin gets what it sends: never stored as that origin’s, never that origin’s entry once seen', async () => {
      const cache = env.cache();
      const client = new Client(env.origin.url).compose(cache.interceptor());
      try {
        const first = await client.request({ origin: other.url, path: '/a', method: 'GET' });
        expect(await first.body.text()).to.equal('this origin');
        await cache.settled();
        // That origin's own entry, stored through the cache's own Agent.
        const own = await request(`${other.url}/a`, { dispatcher: cache.dispatcher });
        expect(await own.body.text()).to.equal('the other origin');
        await cache.settled();
        const again = await client.request({ origin: other.url, path: '/a', method: 'GET' });
        expect(await again.body.text()).to.equal('this origin');
      } finally {
        await client.close();
      }
    });

    it('an interceptor inside the cache’s that rewrites origins (undici’s dns) never sends a request to another origin', async () => {
      const cache = env.cache();
      const agent = new Agent().compose(interceptors.dns({ dualStack: false, affinity: 4 }), cache.interceptor());
      try {
        for (const [base, expected] of [
          [`http://localhost:${env.origin.port}`, 'this origin'],
          [`http://localhost:${other.port}`, 'the other origin'],
          [`http://localhost:${env.origin.port}`, 'this origin'],
          [`http://localhost:${other.port}`, 'the other origin'],
        ] as const) {
          const response = await request(`${base}/a`, { dispatcher: agent });
          expect(await response.body.text()).to.equal(expected);
        }
      } finally {
        await agent.close();
      }
    });
  });

  it('requests collapsed onto one that carried its own token back each get their own answer', async () => {
    const gate = new Gate();
    env.origin.route(
      '/login',
      gate.guard((req, res) => {
        const token = new URL(req.url ?? '', 'http://x').searchParams.get('api_key');
        res.writeHead(302, { 'cache-control': 'max-age=600', location: `/home?api_key=${token}` });
        res.end();
      }),
    );
    const cache = env.cache({ ignoredParameters: ['api_key'] });
    const seen = decisions(cache);
    const send = async (token: string) => {
      const response = await request(`${env.origin.url}/login?api_key=${token}`, { dispatcher: cache.dispatcher });
      await response.body.text();
      return response.headers.location;
    };
    // Bob's request follows Alice's, under way: both are keyed alike (the token is an ignored parameter).
    const aliceSent = send('alice-token-12345');
    await seen.reached(1);
    const bobSent = send('bob-token-67890');
    await seen.reached(2);
    gate.open();
    const [alice, bob] = await Promise.all([aliceSent, bobSent]);
    expect(alice).to.equal('/home?api_key=alice-token-12345');
    expect(bob).to.equal('/home?api_key=bob-token-67890');
  });

  it('a chosen key (cachette.key) never names the entry of a request keyed the usual way, however it is spelt', async () => {
    env.origin.route('/victim', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600' });
      res.end(`from ${req.url}`);
    });
    env.origin.route('/evil', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600' });
      res.end('from /evil');
    });
    const long = `/victim?pad=${'x'.repeat(300)}`;
    // The key a request gets is no secret: any cache with the same options computes the same one.
    const probe = env.cache();
    const keyOf = async (path: string): Promise<string> => {
      await (await request(`${env.origin.url}${path}`, { dispatcher: probe.dispatcher })).body.text();
      await probe.settled();
      const keys: string[] = [];
      for await (const entry of probe.entries()) keys.push(entry.key);
      await probe.delete({ entries: keys.map((key) => ({ key })) });
      return keys[0] as string;
    };
    // Spelt as the computed key itself, or (for a URL long enough) as the text a computed key is the digest of.
    const chosen = [
      { victim: '/victim', key: await keyOf('/victim') },
      { victim: long, key: JSON.stringify(['GET', `${env.origin.url}${long}`, null, null]) },
    ];
    const cache = env.cache();
    for (const { victim, key } of chosen) {
      const evil = await request(`${env.origin.url}/evil`, { dispatcher: cache.dispatcher, cachette: { key } } as Parameters<typeof request>[1]);
      expect(await evil.body.text()).to.equal('from /evil');
      await cache.settled();
      const answer = await request(`${env.origin.url}${victim}`, { dispatcher: cache.dispatcher });
      expect(await answer.body.text()).to.equal(`from ${victim}`);
      expect(String(answer.headers['cache-status'])).to.not.match(/hit/);
    }
  });

  it('requests collapsed onto one answered with private="x-user": the followers never get the leader’s x-user', async () => {
    let served = 0;
    env.origin.route('/private-field', (_req, res) => {
      served += 1;
      res.writeHead(200, { 'cache-control': 'max-age=60, private="x-user"', 'x-user': `user-${served}` });
      setTimeout(() => res.end('shared part'), 20);
    });
    const cache = env.cache();
    const answers = await Promise.all(
      [1, 2, 3].map(async () => {
        const response = await request(`${env.origin.url}/private-field`, { dispatcher: cache.dispatcher });
        await response.body.text();
        return { user: response.headers['x-user'], status: String(response.headers['cache-status']) };
      }),
    );
    expect(served).to.equal(1);
    // The leader's caller gets the field; those collapsed onto it, like a later hit, do not.
    expect(answers.filter((answer) => answer.status.includes('collapsed')).map((answer) => answer.user)).to.deep.equal([undefined, undefined]);
    expect(answers.map((answer) => answer.user).filter((user) => user !== undefined)).to.deep.equal(['user-1']);
  });

  it('requests collapsed onto a revalidation whose 304 makes the response private: each gets an answer of its own', async () => {
    let served = 0;
    env.origin.route('/turns-private', (req, res) => {
      served += 1;
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'private, max-age=60', 'x-user': `user-${served}` });
        setTimeout(() => res.end(), 20);
        return;
      }
      res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=0' });
      res.end('body');
    });
    const cache = env.cache();
    await (await request(`${env.origin.url}/turns-private`, { dispatcher: cache.dispatcher })).body.text();
    await cache.settled();
    const users = await Promise.all(
      [1, 2].map(async () => {
        const response = await request(`${env.origin.url}/turns-private`, { dispatcher: cache.dispatcher });
        await response.body.text();
        return response.headers['x-user'];
      }),
    );
    expect(new Set(users).size).to.equal(2);
    expect(served).to.equal(3);
  });

  it('…and a token carried back spelt otherwise: a space sent as + and echoed %20, or sent %20 and echoed +', async () => {
    env.origin.route('/next', (req, res) => {
      const token = new URL(req.url ?? '', 'http://x').searchParams.get('api_key') ?? '';
      const spelt = req.url?.includes('+') ? encodeURIComponent(token) : new URLSearchParams({ api_key: token }).toString().slice('api_key='.length);
      res.writeHead(302, { 'cache-control': 'max-age=600', location: `/x?api_key=${spelt}` });
      res.end();
    });
    const cache = env.cache({ ignoredParameters: ['api_key'] });
    for (const token of ['zz+yy', 'alice%20secret%20key']) {
      const response = await request(`${env.origin.url}/next?api_key=${token}`, { dispatcher: cache.dispatcher });
      await response.body.text();
      expect(String(response.headers['cache-status']), token).to.match(/detail=echoes-redacted/);
    }
  });

  it("an origin option that is no URL (`localhost`) names nothing: a Client's requests are cached under its own origin, as undici sends them", async () => {
    const cache = env.cache();
    const client = new Client(env.origin.url).compose(cache.interceptor());
    try {
      const statuses: string[] = [];
      for (let i = 0; i < 3; i++) {
        const response = await client.request({ origin: 'localhost', path: '/echo', method: 'GET' });
        await response.body.text();
        statuses.push(String(response.headers['cache-status']));
        await cache.settled();
      }
      expect(statuses.at(-1)).to.match(/; hit/);
      expect(env.origin.hits('/echo')).to.be.at.most(2);
    } finally {
      await client.close();
    }
  });

  it('a target undici refuses (a line break, a blank) is not looked up: it never gets another request’s entry', async () => {
    const cache = env.cache();
    const send = (path: string, headers: Record<string, string> = {}) => cache.dispatcher.request({ origin: env.origin.url, path, method: 'GET', headers });
    await send('/echo', { host: 'tenant-a' }).then((r) => r.body.text());
    const refused = await send('/echo\nhost:tenant-a').then(
      () => 'answered',
      (error: Error) => error.message,
    );
    expect(refused).to.match(/invalid request path/);
    const again = await send('/echo', { host: 'tenant-a' });
    await again.body.text();
    expect(String(again.headers['cache-status'])).to.match(/; hit/);
  });

  it('an absolute-form target is not keyed as a path of the origin: it bypasses, named', async () => {
    const cache = env.cache();
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      cache.dispatcher.dispatch(
        { origin: env.origin.url, path: 'http://other.example/echo', method: 'GET' },
        {
          onRequestStart: () => undefined,
          onResponseStart: (_controller, _status, headers) => void seen.push(String(headers['cache-status'])),
          onResponseData: () => undefined,
          onResponseEnd: () => resolve(),
          onResponseError: (_controller, error) => reject(error),
        },
      );
    });
    expect(seen).to.deep.equal(['cachette; fwd=bypass; detail=absolute-form']);
    const path = await request(`${env.origin.url}/http://other.example/echo`, { dispatcher: cache.dispatcher });
    await path.body.text();
    expect(String(path.headers['cache-status'])).to.not.match(/hit/);
  });

  it('a query option with a path that has its own query: undici says why, as it does without the cache', async () => {
    const cache = env.cache();
    const failure = await request(`${env.origin.url}/echo?a=1`, { dispatcher: cache.dispatcher, query: { b: 2 } }).then(
      () => undefined,
      (error: Error) => error.message,
    );
    const plain = await request(`${env.origin.url}/echo?a=1`, { query: { b: 2 } }).then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(failure).to.be.a('string');
    expect(failure).to.equal(plain);
  });

  it('a response that carries an ignored parameter back is not stored: the next caller never gets another’s token', async () => {
    env.origin.route('/login', (req, res) => {
      const token = new URL(req.url ?? '', 'http://x').searchParams.get('api_key');
      res.writeHead(302, { 'cache-control': 'max-age=600', location: `/home?api_key=${token}` });
      res.end();
    });
    const cache = env.cache({ ignoredParameters: ['api_key'] });
    const send = (token: string) => request(`${env.origin.url}/login?api_key=${token}`, { dispatcher: cache.dispatcher });
    const first = await send('alice-token-1234');
    expect(String(first.headers['cache-status'])).to.match(/detail=echoes-redacted/);
    await first.body.text();
    const second = await send('bob-token-5678');
    expect(second.headers.location).to.equal('/home?api_key=bob-token-5678');
    await second.body.text();
  });

  it('…however it is carried back: quoted in a next= (encoded twice), with lower-case escapes, under another case, from a POST body', async () => {
    const quote = (path: string) => encodeURIComponent(encodeURIComponent(path));
    env.origin.route('/quoted', (req, res) => {
      res.writeHead(302, { 'cache-control': 'max-age=600', location: `/login?next=${quote(req.url ?? '')}` });
      res.end();
    });
    env.origin.route('/lower', (req, res) => {
      const token = new URL(req.url ?? '', 'http://x').searchParams.get('api_key') ?? '';
      res.writeHead(302, { 'cache-control': 'max-age=600', location: `/x?k=${encodeURIComponent(token).toLowerCase()}` });
      res.end();
    });
    env.origin.route('/cased', (req, res) => {
      const token = new URL(req.url ?? '', 'http://x').searchParams.get('api_key') ?? '';
      res.writeHead(302, { 'cache-control': 'max-age=600', location: `/x?API_KEY=${token}` });
      res.end();
    });
    env.origin.route('/form', (_req, res, body) => {
      res.writeHead(303, { 'cache-control': 'max-age=600', location: `/result?${body.toString()}` });
      res.end();
    });
    const cache = env.cache({ ignoredParameters: ['api_key'], methods: ['GET', 'HEAD', 'POST'] });
    const statusOf = async (path: string, init: Parameters<typeof request>[1] = {}) => {
      const response = await request(`${env.origin.url}${path}`, { dispatcher: cache.dispatcher, ...init });
      await response.body.text();
      return String(response.headers['cache-status']);
    };
    expect(await statusOf('/quoted?api_key=zz%2Fyy%2Bxx%3D%3D')).to.match(/detail=echoes-redacted/);
    expect(await statusOf('/lower?api_key=zz%2Fyy%2Bxx%3D%3D')).to.match(/detail=echoes-redacted/);
    expect(await statusOf('/cased?api_key=pw12')).to.match(/detail=echoes-redacted/);
    const form = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'api_key=alice_secret_key' } as const;
    expect(await statusOf('/form', form)).to.match(/detail=echoes-redacted/);
  });

  it('a POST keyed by its body is keyed by the bytes the origin gets: a caller reusing its body buffer never gets the other body’s answer', async () => {
    // Lookups that take a while (a remote storage): the caller has time to reuse its buffer before the request is sent.
    const storage = new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['slow'], slowMs: 20, seed: 1, operations: ['get'] });
    const cache = env.cache({ storage, methods: ['GET', 'HEAD', 'POST'] });
    const post = async (body: Uint8Array, reuse?: () => void) => {
      const sent = request(`${env.origin.url}/echo`, { dispatcher: cache.dispatcher, method: 'POST', body });
      if (reuse !== undefined) setImmediate(reuse);
      const response = await sent;
      return { body: await response.body.text(), cacheStatus: String(response.headers['cache-status']) };
    };
    const scratch = Buffer.from('query=alice');
    // Sent, then at once the buffer is filled with the next request's body.
    expect((await post(scratch, () => scratch.write('query=bobby'))).body).to.match(/body=query=alice$/);
    await cache.settled();
    const again = await post(Buffer.from('query=alice'));
    expect(again.body).to.match(/body=query=alice$/);
    expect(again.cacheStatus).to.match(/hit/);
    const other = await post(Buffer.from('query=bobby'));
    expect(other.body).to.match(/body=query=bobby$/);
    expect(other.cacheStatus).to.not.match(/hit/);
  });

  for (const [storageName, storage] of [
    ['MemoryStorage (answers at once; the second request waits on the first)', () => new MemoryStorage()],
    ['a storage that answers later', () => new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['slow'], slowMs: 20, seed: 2, operations: ['get'] })],
  ] as const) {
    for (const form of ['object', 'flat list'] as const) {
      it(`${storageName}: a caller reusing its headers ${form} for its next request sends each with its own fields, and Vary keeps their answers apart`, async () => {
        env.origin.route('/me', (req, res) => {
          res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'x-user' });
          res.end(`user=${req.headers['x-user']}`);
        });
        const cache = env.cache({ storage: storage() });
        const fields: Record<string, string> = { 'x-user': 'alice' };
        const list = ['x-user', 'alice'];
        const send = (): Promise<string> =>
          request(`${env.origin.url}/me`, { dispatcher: cache.dispatcher, headers: form === 'object' ? fields : list }).then((response) =>
            response.body.text(),
          );
        const user = (name: string) => {
          fields['x-user'] = name;
          list[1] = name;
        };
        // Each request is made with the fields as they are when it is made; the object is rewritten right after each.
        const alice = send();
        user('bob');
        const bob = send();
        user('carol');
        expect([await alice, await bob]).to.deep.equal(['user=alice', 'user=bob']);
        await cache.settled();
        const again = await request(`${env.origin.url}/me`, { dispatcher: cache.dispatcher, headers: { 'x-user': 'alice' } });
        expect(await again.body.text()).to.equal('user=alice');
        expect(String(again.headers['cache-status'])).to.match(/hit/);
        expect(env.origin.hits('/me')).to.equal(2);
      });
    }
  }

  for (const [storageName, storage] of [
    ['MemoryStorage (answers at once; the second request waits on the first)', () => new MemoryStorage()],
    ['a storage that answers later', () => new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['slow'], slowMs: 20, seed: 4, operations: ['get'] })],
  ] as const) {
    for (const method of ['GET', 'POST'] as const) {
      it(`${storageName}: a caller reusing its options object (a ${method} to another path next) sends each where it was made for`, async () => {
        for (const path of ['/a', '/b']) {
          env.origin.route(path, (_req, res) => {
            // Not stored: a second request to the same path waits on the first, then goes on its own.
            res.writeHead(200, { 'cache-control': method === 'POST' ? 'max-age=600' : 'no-store' });
            setTimeout(() => res.end(`path=${path}`), 20);
          });
        }
        const cache = env.cache({ storage: storage(), methods: ['GET', 'HEAD', 'POST'] });
        const agent = new Agent().compose(cache.interceptor());
        try {
          const opts: Dispatcher.RequestOptions = { origin: env.origin.url, path: '/a', method, ...(method === 'POST' ? { body: 'q' } : {}) };
          const answers = [agent.request(opts), agent.request(opts)];
          opts.path = '/b';
          answers.push(agent.request(opts));
          const bodies = await Promise.all(answers.map(async (answer) => (await answer).body.text()));
          expect(bodies).to.deep.equal(['path=/a', 'path=/a', 'path=/b']);
          await cache.settled();
          expect(env.origin.hits('/b')).to.equal(1);
        } finally {
          await agent.close();
        }
      });
    }
  }

  it('a field inherited through a prototype is not sent by undici, and so neither keyed nor matched against Vary', async () => {
    env.origin.route('/tenant', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'x-tenant' });
      res.end(`tenant=${req.headers['x-tenant'] ?? 'none'}`);
    });
    const cache = env.cache();
    const get = async (headers: Record<string, string>) => (await request(`${env.origin.url}/tenant`, { dispatcher: cache.dispatcher, headers })).body.text();
    const inherited = Object.create({ 'x-tenant': 'A' }) as Record<string, string>;
    expect(await get(inherited)).to.equal('tenant=none');
    await cache.settled();
    expect(await get({ 'x-tenant': 'A' })).to.equal('tenant=A');
    expect(await get(inherited)).to.equal('tenant=none');
    expect(env.origin.hits('/tenant')).to.equal(2);
  });

  it('a URL origin changed after the request was made: sent to the origin it named then, and stored as that one’s', async () => {
    const other = await Origin.start();
    try {
      for (const origin of [env.origin, other]) {
        origin.route('/u', (_req, res) => {
          res.writeHead(200, { 'cache-control': 'max-age=600' });
          res.end(origin === other ? 'other' : 'first');
        });
      }
      const storage = new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['slow'], slowMs: 20, seed: 5, operations: ['get'] });
      const cache = env.cache({ storage });
      const agent = new Agent().compose(cache.interceptor());
      try {
        const origin = new URL(env.origin.url);
        const first = agent.request({ origin, path: '/u', method: 'GET' });
        origin.port = new URL(other.url).port;
        const second = agent.request({ origin, path: '/u', method: 'GET' });
        expect([await (await first).body.text(), await (await second).body.text()]).to.deep.equal(['first', 'other']);
        await cache.settled();
        const again = await request(`${env.origin.url}/u`, { dispatcher: agent });
        expect(await again.body.text()).to.equal('first');
        expect(env.origin.hits('/u')).to.equal(1);
      } finally {
        await agent.close();
      }
    } finally {
      await other.close();
    }
  });

  it('cache.fetch: fetch drops a Host field, so the request is the plain one', async () => {
    const cache = env.cache();
    await cache.fetch(`${env.origin.url}/echo`, { headers: { host: 'tenant-a.example' } }).then((response) => response.text());
    const plain = await cache.fetch(`${env.origin.url}/echo`);
    expect(await plain.text()).to.match(/^host=127\.0\.0\.1:/);
    expect(plain.headers.get('cache-status')).to.match(/; hit/);
  });

  it('inspect() and entries() find the entry of a Host by its target URI', async () => {
    const cache = env.cache();
    await request(`${env.origin.url}/echo`, { dispatcher: cache.dispatcher, headers: { host: 'tenant-a.example' } }).then((r) => r.body.text());
    await cache.settled();
    const found = await cache.inspect({ url: `${env.origin.url}/echo`, headers: { host: 'tenant-a.example' } });
    expect(found.map((entry) => entry.url)).to.deep.equal(['http://tenant-a.example/echo']);
    expect(await cache.inspect(`${env.origin.url}/echo`)).to.deep.equal([]);
    expect(await cache.delete({ entries: [`${env.origin.url}/echo`] })).to.equal(0);
  });

  it('differential: for any header fields, in any form undici takes, the origin gets through a cache that copies them exactly what plain undici sends it', async () => {
    env.origin.route('/fields', (req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store' });
      // Every field line as it arrived, but the ones undici adds itself.
      const lines: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (!/^(host|connection)$/i.test(req.rawHeaders[i] as string)) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      }
      res.end(JSON.stringify(lines));
    });
    // A lookup that answers later: the request is sent with the cache's copy of its fields.
    const storage = new FaultyStorage(new MemoryStorage(), { rate: 1, faults: ['slow'], slowMs: 1, seed: 3, operations: ['get'] });
    const cache = env.cache({ storage });
    const name = fc.constantFrom('x-a', 'X-A', 'x-b', 'accept', '__proto__', 'constructor');
    const value = fc.oneof(fc.stringMatching(/^[ -~]{0,8}$/), fc.array(fc.stringMatching(/^[!-~]{1,4}$/), { minLength: 1, maxLength: 3 }));
    const pairs = fc.array(fc.tuple(name, value), { maxLength: 4 });
    const forms = pairs.chain((list) =>
      fc.constantFrom(
        // An object (the last of a name wins), a flat list, a Map. ([name, value] pairs in an array, which undici
        // alone refuses, the cache takes as undici's own cache interceptor does: spec/interceptor/composition.)
        () => Object.fromEntries(list),
        () => list.flat(),
        () => new Map(list),
      ),
    );
    await fc.assert(
      fc.asyncProperty(forms, async (make) => {
        const outcome = (dispatcher?: Dispatcher) =>
          request(`${env.origin.url}/fields`, { ...(dispatcher === undefined ? {} : { dispatcher }), headers: make() as never }).then(
            (response) => response.body.text(),
            (error: Error) => `failed: ${error.message}`,
          );
        expect(await outcome(cache.dispatcher)).to.equal(await outcome());
      }),
      { numRuns: 80 },
    );
  });

  it('differential: for any query object, the origin gets through the cache exactly what plain undici sends it', async () => {
    const cache = env.cache();
    const scalar = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined));
    const query = fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.oneof(scalar, fc.array(scalar, { maxLength: 3 })), { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(query, async (object) => {
        const outcome = (dispatcher?: Dispatcher) =>
          request(`${env.origin.url}/echo`, { ...(dispatcher === undefined ? {} : { dispatcher }), query: object }).then(
            (response) => response.body.text(),
            (error: Error) => `failed: ${error.message}`,
          );
        expect(await outcome(cache.dispatcher)).to.equal(await outcome());
      }),
      { numRuns: 60 },
    );
  });
});
