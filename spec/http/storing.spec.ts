import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { type HttpCache, rawPartitions } from '../../lib/cache.js';
import { resolveOptions } from '../../lib/options.js';
import { readResponse } from '../../lib/policy/response.js';
import { storeDecision } from '../../lib/policy/storable.js';
import { decodeRecord } from '../../lib/records/codec.js';
import type { StoredResponse } from '../../lib/records/model.js';
import { fetchText, useOrigin } from '../support.js';

async function storedRecords(cache: HttpCache): Promise<StoredResponse[]> {
  await cache.settled();
  const records: StoredResponse[] = [];
  for await (const [, bytes] of rawPartitions(cache).responses.entries()) {
    const record = decodeRecord(bytes);
    if (record?.kind === 'response') records.push(record);
  }
  return records;
}

describe('RFC 9111 §3: storing responses', () => {
  const env = useOrigin();
  const url = (path: string) => `${env.origin.url}${path}`;

  async function twice(cache: HttpCache, path: string, init?: Parameters<HttpCache['fetch']>[1]) {
    const first = await fetchText(cache, url(path), init);
    const second = await fetchText(cache, url(path), init);
    return { first, second, hits: env.origin.hits(path) };
  }

  it('§3: a response with explicit freshness is stored whatever its final status (here 500 and 299)', async () => {
    env.origin.route('/error', respond(500, { 'cache-control': 'max-age=60' }, 'broken'));
    env.origin.route('/odd', respond(299, { 'cache-control': 'max-age=60' }, 'odd'));
    const cache = env.cache();
    expect((await twice(cache, '/error')).second.cacheStatus).to.match(/^cachette; hit/);
    expect((await twice(cache, '/odd')).second.cacheStatus).to.match(/^cachette; hit/);
  });

  it('§3: without explicit freshness, only heuristically cacheable statuses get a lifetime', async () => {
    env.origin.route('/a', respond(500, { 'last-modified': new Date(Date.now() - 86_400_000).toUTCString() }, 'x'));
    const { first, hits } = await twice(env.cache({ expireAfter: 60 }), '/a');
    expect(first.cacheStatus).to.match(/detail=status$/);
    expect(hits).to.equal(2);
  });

  it('§3: a 206 Partial Content is never stored', async () => {
    env.origin.route('/partial', respond(206, { 'cache-control': 'max-age=60', 'content-range': 'bytes 0-1/10' }, 'ab'));
    const { first, hits } = await twice(env.cache(), '/partial');
    expect(first.cacheStatus).to.match(/detail=partial-content$/);
    expect(hits).to.equal(2);
  });

  it('§3.1: connection-specific header fields are not stored', async () => {
    env.origin.route('/a', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', connection: 'keep-alive, x-hop', 'keep-alive': 'timeout=5', 'x-hop': 'hop-only', 'x-end': 'kept' });
      res.end('x');
    });
    const cache = env.cache();
    const { second } = await twice(cache, '/a');
    expect(second.headers.get('x-end')).to.equal('kept');
    const [record] = await storedRecords(cache);
    const names = (record as StoredResponse).headers.filter((_, i) => i % 2 === 0);
    expect(names).to.not.include.members(['connection', 'keep-alive', 'x-hop', 'transfer-encoding']);
    expect(names).to.include('x-end');
  });

  it('§5.2.2.5: no-store is never stored', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60, no-store' }, 'x'));
    const { first, hits } = await twice(env.cache(), '/a');
    expect(first.cacheStatus).to.equal('cachette; fwd=uri-miss; fwd-status=200; detail=no-store');
    expect(hits).to.equal(2);
  });

  it('§5.2.2.3: must-understand with an understood status overrides no-store', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60, no-store, must-understand' }, 'x'));
    env.origin.route('/b', respond(299, { 'cache-control': 'max-age=60, no-store, must-understand' }, 'x'));
    const cache = env.cache();
    expect((await twice(cache, '/a')).second.cacheStatus).to.match(/hit/);
    const b = await twice(cache, '/b');
    expect(b.first.cacheStatus).to.match(/detail=must-understand$/);
    expect(b.hits).to.equal(2);
  });

  describe('§3.5 and §5.2.2.7: shared and private caches', () => {
    it('private responses: not stored by a shared cache, stored by a private one', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'private, max-age=60' }, 'mine'));
      expect((await twice(env.cache(), '/a')).first.cacheStatus).to.match(/detail=private$/);
      expect((await twice(env.cache({ type: 'private' }), '/a')).second.cacheStatus).to.match(/hit/);
    });

    it('private="field": a shared cache stores the response without that field', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'private="x-user", max-age=60', 'x-user': 'alice', 'x-public': 'yes' }, 'x'));
      const cache = env.cache();
      const { first, second } = await twice(cache, '/a');
      expect(first.headers.get('x-user'), 'the first caller sees it').to.equal('alice');
      expect(second.cacheStatus).to.match(/hit/);
      expect(second.headers.get('x-user')).to.equal(null);
      expect(second.headers.get('x-public')).to.equal('yes');
    });

    it('§3.5: a shared cache stores a response to an authorized request only with public, s-maxage or must-revalidate', () => {
      const decide = (cacheControl: string, perCredential: boolean) =>
        storeDecision({
          options: resolveOptions({}),
          method: 'GET',
          url: 'http://h/a',
          requestDirectives: {},
          authorized: true,
          perCredential,
          response: readResponse(200, { 'cache-control': cacheControl }, []),
          requestTime: 0,
          responseTime: 0,
        });
      expect(decide('max-age=60', false)).to.deep.equal({ store: false, reason: 'authorization' });
      for (const allowed of ['public, max-age=60', 's-maxage=60', 'max-age=60, must-revalidate']) expect(decide(allowed, false).store, allowed).to.equal(true);
      // Keyed by the credential (credentialed: 'per-credential'), the entry is that user's alone: private rules apply.
      expect(decide('max-age=60', true).store).to.equal(true);
      expect(decide('private, max-age=60', true).store).to.equal(true);
      expect(decide('private, max-age=60', false)).to.deep.equal({ store: false, reason: 'private' });
    });

    it("credentialed: 'per-credential' caches authorized responses (private ones too) for their credential alone", async () => {
      env.origin.route('/plain', (req, res) => {
        res.writeHead(200, { 'cache-control': 'private, max-age=60' });
        res.end(`for ${req.headers.authorization}`);
      });
      const shared = env.cache({ credentialed: 'per-credential' });
      const alice = await twice(shared, '/plain', { headers: { authorization: 'Bearer alice' } });
      expect([alice.first.body, alice.second.body]).to.deep.equal(['for Bearer alice', 'for Bearer alice']);
      expect(alice.second.cacheStatus).to.match(/hit/);
      const bob = await twice(shared, '/plain', { headers: { authorization: 'Bearer bob' } });
      expect(bob.first).to.include({ body: 'for Bearer bob' });
      expect(bob.first.cacheStatus).to.match(/fwd=uri-miss/);
      // Without credentials, a private response is still not stored by a shared cache.
      expect((await twice(shared, '/plain')).first.cacheStatus).to.match(/detail=private$/);
    });

    it('Set-Cookie: a shared cache does not store the response unless told the rest is shareable, and never the cookie; a private cache stores it', async () => {
      env.origin.route('/session', respond(200, { 'cache-control': 'max-age=60', 'set-cookie': 'session=abc' }, 'x'));
      env.origin.route('/tracked', respond(200, { 'cache-control': 'max-age=60, no-cache="set-cookie"', 'set-cookie': 'lb=1' }, 'x'));
      env.origin.route('/public', respond(200, { 'cache-control': 'public, max-age=60', 'set-cookie': 'lb=2' }, 'x'));
      const shared = env.cache();
      expect((await twice(shared, '/session')).first.cacheStatus).to.match(/detail=set-cookie$/);
      for (const path of ['/tracked', '/public']) {
        const { first, second } = await twice(shared, path);
        expect(first.headers.get('set-cookie'), 'the first caller gets its cookie').to.match(/lb=/);
        expect(second.cacheStatus).to.match(/hit/);
        expect(second.headers.get('set-cookie'), 'no one else gets it').to.equal(null);
      }
      const privateCache = env.cache({ type: 'private' });
      const { second } = await twice(privateCache, '/session');
      expect(second.cacheStatus).to.match(/hit/);
      expect(second.headers.get('set-cookie'), 'a private cache serves one user: the cookie is theirs').to.equal('session=abc');
    });
  });

  it('§4.1: Vary: * is never stored (it could never match)', async () => {
    env.origin.route('/a', respond(200, { 'cache-control': 'max-age=60', vary: '*' }, 'x'));
    const { first, hits } = await twice(env.cache(), '/a');
    expect(first.cacheStatus).to.match(/detail=vary-star$/);
    expect(hits).to.equal(2);
  });
});
