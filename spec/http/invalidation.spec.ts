import diagnostics from 'node:diagnostics_channel';
import { expect } from 'chai';
import { Gate, respond } from '../../fixtures/origin.js';
import { fetchText, useOrigin } from '../support.js';

describe('RFC 9111 §4.4: invalidation by unsafe methods', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  beforeEach(() => {
    for (const path of ['/items', '/items/1', '/items/2', '/other']) {
      env.origin.route(path, (req, res) => {
        if (req.method === 'GET') {
          res.writeHead(200, { 'cache-control': 'max-age=600' });
          res.end(`${path} v${env.origin.hits(path)}`);
          return;
        }
        const headers: Record<string, string> = {};
        const location = req.headers['x-location'];
        const contentLocation = req.headers['x-content-location'];
        if (typeof location === 'string') headers['location'] = location;
        if (typeof contentLocation === 'string') headers['content-location'] = contentLocation;
        res.writeHead(Number(req.headers['x-status'] ?? 200), headers);
        res.end('done');
      });
    }
  });

  async function cachedAfter(
    init: { method: string; body?: string | null; headers?: Record<string, string> },
    target: string,
    paths: string[],
  ): Promise<Record<string, boolean>> {
    const cache = env.cache();
    for (const path of paths) await fetchText(cache, url(path));
    const unsafe = await fetchText(cache, url(target), init);
    expect(unsafe.cacheStatus).to.equal('cachette; fwd=method');
    await cache.settled();
    const cached: Record<string, boolean> = {};
    for (const path of paths) cached[path] = await cache.contains({ url: url(path) });
    return cached;
  }

  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    it(`a successful ${method} invalidates the target URI`, async () => {
      const cached = await cachedAfter({ method, body: method === 'DELETE' ? null : 'x' }, '/items/1', ['/items/1', '/items/2']);
      expect(cached).to.deep.equal({ '/items/1': false, '/items/2': true });
    });
  }

  it('the next GET after the invalidating request goes to the origin', async () => {
    const cache = env.cache();
    expect((await fetchText(cache, url('/items/1'))).body).to.equal('/items/1 v1');
    await fetchText(cache, url('/items/1'), { method: 'PUT', body: 'new' });
    expect((await fetchText(cache, url('/items/1'))).body).to.equal('/items/1 v3');
  });

  it('Location and Content-Location on the same origin are invalidated too', async () => {
    const cached = await cachedAfter(
      { method: 'POST', body: 'x', headers: { 'x-location': '/items/1', 'x-content-location': `${url('/items/2')}` } },
      '/items',
      ['/items', '/items/1', '/items/2', '/other'],
    );
    expect(cached).to.deep.equal({ '/items': false, '/items/1': false, '/items/2': false, '/other': true });
  });

  it('a Location on another origin is left alone', async () => {
    const cached = await cachedAfter({ method: 'POST', body: 'x', headers: { 'x-location': 'http://elsewhere.example/items/1' } }, '/items', ['/items/1']);
    expect(cached).to.deep.equal({ '/items/1': true });
  });

  it('an error response invalidates nothing', async () => {
    const cached = await cachedAfter({ method: 'DELETE', headers: { 'x-status': '500' } }, '/items/1', ['/items/1']);
    expect(cached).to.deep.equal({ '/items/1': true });
  });

  it('safe methods invalidate nothing', async () => {
    env.origin.route('/items/1', respond(200, { 'cache-control': 'max-age=600' }, 'x'));
    const cached = await cachedAfter({ method: 'OPTIONS' }, '/items/1', ['/items/1']);
    expect(cached).to.deep.equal({ '/items/1': true });
  });
});

describe('RFC 9111 §4.4: an invalidation also reaches the responses on their way', () => {
  const env = useOrigin({ clock: true });

  /** An origin whose GET answers what /thing is when the GET arrives, held at the gate; a POST changes it. */
  function versioned(): { gate: Gate; version: () => number; bump: () => void } {
    let version = 1;
    const gate = new Gate();
    gate.open();
    env.origin.route('/thing', async (req, res) => {
      if (req.method === 'POST') {
        version += 1;
        res.end('changed');
        return;
      }
      const now = `v${version}`;
      if (req.headers['if-none-match'] === `"${now}"`) {
        await gate.guard(() => undefined)(req, res, Buffer.alloc(0));
        res.writeHead(304, { etag: `"${now}"`, 'cache-control': 'max-age=60' });
        res.end();
        return;
      }
      await gate.guard(() => undefined)(req, res, Buffer.alloc(0));
      res.writeHead(200, { etag: `"${now}"`, 'cache-control': 'max-age=60', 'cache-tag': 'thing' });
      res.end(now);
    });
    return {
      gate,
      version: () => version,
      bump: () => {
        version += 1;
      },
    };
  }

  const waitFor = async (condition: () => boolean) => {
    for (let turn = 0; turn < 500 && !condition(); turn++) await new Promise((resolve) => setImmediate(resolve));
  };

  for (const kind of ['a miss', 'a revalidation'] as const) {
    it(`${kind} sent before a successful POST: a GET made after the POST waits for no such response, and it is not stored`, async () => {
      const { gate } = versioned();
      const cache = env.cache();
      const thing = `${env.origin.url}/thing`;
      if (kind === 'a revalidation') {
        expect((await fetchText(cache, thing)).body).to.equal('v1');
        await cache.settled();
        await env.clock.advance(61);
      }
      gate.close();
      const early = fetchText(cache, thing);
      await waitFor(() => gate.waiting === 1);
      expect((await fetchText(cache, thing, { method: 'POST', body: 'x' })).body).to.equal('changed');
      gate.open();
      // Made after the POST succeeded: the origin's answer as it is now, not the one on its way from before.
      expect((await fetchText(cache, thing)).body).to.equal('v2');
      expect((await early).body).to.equal('v1');
      await cache.settled();
      const later = await fetchText(cache, thing);
      expect(later.body).to.equal('v2');
      expect(later.cacheStatus).to.match(/hit/);
    });
  }

  it('a response on its way when cache.delete() names its entry is not stored', async () => {
    const { gate } = versioned();
    const cache = env.cache();
    const thing = `${env.origin.url}/thing`;
    gate.close();
    const early = fetchText(cache, thing);
    await waitFor(() => gate.waiting === 1);
    await cache.delete({ entries: [thing] });
    gate.open();
    expect((await early).body).to.equal('v1');
    await cache.settled();
    expect(await cache.contains(thing)).to.equal(false);
  });

  for (const [name, purge] of [
    ['tag', (_thing: string) => ({ tags: ['thing'] })],
    ['match', (thing: string) => ({ matching: { url: thing } })],
    ['tag, soft', (_thing: string) => ({ tags: ['thing'], soft: true })],
  ] as const) {
    it(`a purge by ${name} reaches the responses on their way: a request made after it waits for none, and none sent before is stored`, async () => {
      const { gate, bump } = versioned();
      const cache = env.cache({ cacheTagsHeader: 'cache-tag' });
      const thing = `${env.origin.url}/thing`;
      expect((await fetchText(cache, thing)).body).to.equal('v1');
      await cache.settled();
      await env.clock.advance(61);
      gate.close();
      // Sent before the content changes and the purge is made: its answer is the old one.
      const early = fetchText(cache, thing);
      let after: ReturnType<typeof fetchText>;
      try {
        await waitFor(() => gate.waiting === 1);
        bump();
        await cache.delete(purge(thing));
        after = fetchText(cache, thing);
        // At the origin: it joined no flight sent before the purge.
        await waitFor(() => gate.waiting === 2);
        expect(gate.waiting).to.equal(2);
      } finally {
        gate.open();
      }
      const notStored: unknown[] = [];
      const listener = (event: unknown) => {
        if ((event as { stored: boolean }).stored === false) notStored.push((event as { reason: string }).reason);
      };
      diagnostics.subscribe('cachette:store', listener);
      try {
        expect((await early).body).to.equal('v1');
        expect((await after).body).to.equal('v2');
        await cache.settled();
      } finally {
        diagnostics.unsubscribe('cachette:store', listener);
      }
      // The revalidation sent before the purge: its answer is not stored.
      expect(notStored).to.deep.equal(['invalidated']);
      const later = await fetchText(cache, thing);
      expect(later.body).to.equal('v2');
      expect(later.cacheStatus).to.match(/hit/);
    });
  }
});
