import { expect } from 'chai';
import { request } from 'undici';
import { Origin, respond } from '../../fixtures/origin.js';
import { rawPartitions } from '../../lib/cache.js';
import { normalizeRequestHeaders } from '../../lib/policy/headers.js';
import { KeyPolicy } from '../../lib/policy/key.js';
import { NO_URL_POLICY, normalizeAbsoluteUrl, normalizeRequestUrl, type UrlPolicy } from '../../lib/policy/url.js';
import { decodeRecord } from '../../lib/records/codec.js';
import type { StoredResponse } from '../../lib/records/model.js';
import { redactParameters, redactUrl } from '../../lib/redact.js';
import { useOrigin } from '../support.js';

const none = NO_URL_POLICY;
/** The URL policy of `ignoredParameters: names`. */
const ignoring = (...names: string[]): UrlPolicy => ({ ignored: new Set(names), redacted: new Set(names.map((name) => name.toLowerCase())) });

describe('cache keys', () => {
  describe('URL normalization', () => {
    it('lower-cases scheme and host, drops the default port and the fragment', () => {
      const a = normalizeAbsoluteUrl('HTTP://Example.COM:80/Path?x=1#frag', none);
      const b = normalizeAbsoluteUrl('http://example.com/Path?x=1', none);
      expect(a.keyUrl).to.equal('http://example.com/Path?x=1');
      expect(a).to.deep.equal(b);
      expect(normalizeAbsoluteUrl('https://example.com:443/', none).keyUrl).to.equal('https://example.com/');
      expect(normalizeAbsoluteUrl('https://example.com:8443/', none).keyUrl).to.equal('https://example.com:8443/');
    });

    it('sorts query parameters by name, keeping the order of repeated names', () => {
      const url = normalizeRequestUrl('http://h', '/p?b=2&a=1&c=3&a=0', none);
      expect(url.keyUrl).to.equal('http://h/p?a=1&a=0&b=2&c=3');
    });

    it('keeps apart what the origin gets apart: an empty query, empty parameters, a fragment a raw dispatch sends', () => {
      const keyUrl = (path: string) => normalizeRequestUrl('http://h', path, none).keyUrl;
      // Names that differ only in case keep their order (an origin may read them as one name, whose values then come in that order).
      expect(keyUrl('/p?A=1&a=2')).to.not.equal(keyUrl('/p?a=2&A=1'));
      expect(keyUrl('/p?b=1&A=2')).to.equal(keyUrl('/p?A=2&b=1'));
      expect(keyUrl('/p?')).to.equal('http://h/p?');
      expect(keyUrl('/p?')).to.not.equal(keyUrl('/p'));
      expect(keyUrl('/p?a=1&&b=2')).to.not.equal(keyUrl('/p?a=1&b=2'));
      expect(keyUrl('/p#x')).to.not.equal(keyUrl('/p'));
      expect(normalizeRequestUrl('http://h', '/p#x', none).storedUrl, 'a fragment never leaves the cache').to.equal('http://h/p');
      expect(() => normalizeRequestUrl('http://h', 'http://other.example/p', none)).to.throw(TypeError, /origin-form/);
    });

    it('leaves ignored parameters out of the key and redacts them in the stored URL', () => {
      const ignored = ignoring('api_key');
      const url = normalizeRequestUrl('http://h', '/p?q=cats&api_key=s3cret', ignored);
      expect(url.keyUrl).to.equal('http://h/p?q=cats');
      expect(url.storedUrl).to.equal('http://h/p?api_key=REDACTED&q=cats');
      expect(url.storedUrl).to.not.include('s3cret');
      // Encoded names are recognized too.
      expect(normalizeRequestUrl('http://h', '/p?api%5Fkey=x', ignored).keyUrl).to.equal('http://h/p');
    });

    it('gives a query already in order back as it is, exactly as sorting it would (differential, 5,000 queries)', () => {
      // The rule, written plainly: parameters sorted by decoded name as its lower case (stable), empty ones kept, ignored ones out of the key,
      // their values redacted whatever the case of their names.
      const reference = (query: string, policy: UrlPolicy) => {
        const ignored = policy.ignored;
        const params = query
          .split('&')
          .map((raw, index) => {
            const equals = raw.indexOf('=');
            const rawName = equals === -1 ? raw : raw.slice(0, equals);
            let name = rawName;
            try {
              name = decodeURIComponent(rawName.replace(/\+/g, ' '));
            } catch {}
            return { raw, rawName, name, index };
          })
          .sort((a, b) => {
            const [x, y] = [a.name.toLowerCase(), b.name.toLowerCase()];
            return x < y ? -1 : x > y ? 1 : a.index - b.index;
          });
        const key = params.filter((param) => !ignored.has(param.name)).map((param) => param.raw);
        const stored = params.map((param) => (policy.redacted.has(param.name.toLowerCase()) ? `${param.rawName}=REDACTED` : param.raw));
        return {
          keyUrl: key.length === 0 ? 'http://h/p' : `http://h/p?${key.join('&')}`,
          storedUrl: `http://h/p?${stored.join('&')}`,
        };
      };
      let seed = 7;
      const random = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      const names = ['a', 'b', 'b', 'c', 'token', 'A', 'a%20b', 'a+b', '%zz', '', 'ab'];
      const values = ['', '=1', '=x=y', '=%41'];
      for (const ignored of [none, ignoring('token', 'a b')]) {
        for (let i = 0; i < 2500; i++) {
          const count = random(5);
          const params = Array.from({ length: count }, () => `${names[random(names.length)]}${values[random(values.length)]}`);
          // Half of them in order already: the case the shortcut takes.
          if (random(2) === 0) params.sort();
          const query = params.join('&') + (random(8) === 0 ? '&' : '');
          if (query === '') continue;
          const normalized = normalizeRequestUrl('http://h', `/p?${query}`, ignored);
          expect(normalized, query).to.deep.equal(reference(query, ignored));
        }
      }
    });
  });

  describe('redactUrl, which every URL leaving the cache passes', () => {
    const names = new Set(['api_key', 'token']);

    it('drops user information and the fragment, and redacts named parameters whatever their case or encoding', () => {
      expect(redactUrl('https://alice:pw@h.example:8443/p?API_KEY=s&q=1&api%5Fkey=t#access_token=x', names)).to.equal(
        'https://h.example:8443/p?API_KEY=REDACTED&q=1&api%5Fkey=REDACTED',
      );
      expect(redactUrl('http://h/a;token=s/b;x=1?q=1', names)).to.equal('http://h/a;token=REDACTED/b;x=1?q=1');
      expect(redactUrl('http://h/p?api_key[]=s&api_key%5B0%5D=t', names), 'arrays as PHP and qs read them').to.equal(
        'http://h/p?api_key[]=REDACTED&api_key%5B0%5D=REDACTED',
      );
      expect(redactUrl('http://h/p', new Set()), 'nothing to redact: as it is').to.equal('http://h/p');
    });

    it('redacts text that is not a URL as if it were a path and a query', () => {
      expect(redactUrl('not a url?token=s3cret', names)).to.equal('not a url?token=REDACTED');
    });

    it('redacts field values (a Referer, a forwarded query) up to the next &, keeping every other byte', () => {
      expect(redactParameters('token=s;tail s2&q=1', names)).to.equal('token=REDACTED&q=1');
      expect(redactParameters('a b; token=s #x', names)).to.equal('a b; token=REDACTED#x');
      expect(redactParameters('x#token=s', names), 'a fragment holds parameters too').to.equal('x#token=REDACTED');
      expect(redactParameters('http://u:p@h/p?q=1&token=s#frag', names)).to.equal('http://h/p?q=1&token=REDACTED');
      expect(redactParameters('text/html; q=0.9', names)).to.equal('text/html; q=0.9');
    });
  });

  describe('KeyPolicy', () => {
    const headers = (init: Record<string, string>) => normalizeRequestHeaders(init);

    it('gives equal keys to equivalent requests and different keys to different ones', () => {
      const keys = new KeyPolicy({ matchHeaders: [], perCredential: false });
      const key = (method: string, url: string, h: Record<string, string> = {}) => keys.keyFor({ method, url, headers: headers(h) });
      expect(key('GET', 'http://h/a')).to.equal(key('GET', 'http://h/a', { accept: 'text/html' }));
      expect(key('GET', 'http://h/a')).to.not.equal(key('GET', 'http://h/b'));
      expect(key('GET', 'http://h/a')).to.not.equal(key('POST', 'http://h/a'));
      expect(key('GET', 'http://h/a')).to.match(/^[A-Za-z0-9_-]{43}$/);
    });

    it('matchHeaders become part of the key, whatever their case', () => {
      const keys = new KeyPolicy({ matchHeaders: ['accept-language'], perCredential: false });
      const fr = keys.keyFor({ method: 'GET', url: 'http://h/a', headers: headers({ 'Accept-Language': 'fr' }) });
      const en = keys.keyFor({ method: 'GET', url: 'http://h/a', headers: headers({ 'accept-language': 'en' }) });
      const fr2 = keys.keyFor({ method: 'GET', url: 'http://h/a', headers: headers({ 'ACCEPT-LANGUAGE': 'fr' }) });
      expect(fr).to.not.equal(en);
      expect(fr).to.equal(fr2);
    });

    it('per-credential keys differ by credential and never contain it', () => {
      const keys = new KeyPolicy({ matchHeaders: [], perCredential: true });
      const alice = keys.keyFor({ method: 'GET', url: 'http://h/a', headers: headers({ authorization: 'Bearer alice-token' }) });
      const bob = keys.keyFor({ method: 'GET', url: 'http://h/a', headers: headers({ authorization: 'Bearer bob-token' }) });
      const anonymous = keys.keyFor({ method: 'GET', url: 'http://h/a', headers: headers({}) });
      expect(new Set([alice, bob, anonymous]).size).to.equal(3);
      expect(alice).to.not.include('alice');
    });

    it('uses a custom key function, digesting keys too long for every backend', () => {
      const keys = new KeyPolicy({ matchHeaders: [], perCredential: false, custom: (r) => `${r.method}:${r.url}` });
      expect(keys.keyFor({ method: 'GET', url: 'http://h/a', headers: {} })).to.equal('GET:http://h/a');
      const long = keys.keyFor({ method: 'GET', url: `http://h/${'x'.repeat(500)}`, headers: {} });
      expect(long.length).to.equal(43);
      const bad = new KeyPolicy({ matchHeaders: [], perCredential: false, custom: () => '' });
      expect(() => bad.keyFor({ method: 'GET', url: 'http://h/a', headers: {} })).to.throw(TypeError, /key function/);
    });

    it('a custom key still separates credentials when caching per credential', () => {
      const keys = new KeyPolicy({ matchHeaders: [], perCredential: true, custom: (r) => r.url });
      const key = (h: Record<string, string>) => keys.keyFor({ method: 'GET', url: 'http://h/a', headers: headers(h) });
      expect(key({})).to.equal('http://h/a');
      const alice = key({ authorization: 'Bearer alice-token' });
      const bob = key({ authorization: 'Bearer bob-token' });
      expect(new Set([key({}), alice, bob]).size).to.equal(3);
      expect(alice).to.not.include('alice');
    });

    it('ignored query parameters leave the key by exact name (query names are case-sensitive), and are redacted whatever their case', () => {
      const url = normalizeRequestUrl('http://h', '/p?Token=1&token=2', ignoring('Token'));
      expect(url.keyUrl).to.equal('http://h/p?token=2');
      expect(url.storedUrl).to.equal('http://h/p?Token=REDACTED&token=REDACTED');
    });
  });

  describe('through the cache', () => {
    const env = useOrigin();

    it('serves differently spelled but equivalent URLs from one entry', async () => {
      env.origin.route('/search', respond(200, { 'cache-control': 'max-age=60' }, 'results'));
      const cache = env.cache();
      await (await cache.fetch(`${env.origin.url}/search?b=2&a=1`)).text();
      const hit = await cache.fetch(`http://127.0.0.1:${env.origin.port}/search?a=1&b=2`);
      expect(hit.headers.get('cache-status')).to.match(/hit/);
      await hit.text();
      expect(env.origin.hits('/search')).to.equal(1);
    });

    it('one path on two origins is two entries', async () => {
      const other = await Origin.start();
      try {
        env.origin.route('/same', respond(200, { 'cache-control': 'max-age=60' }, 'first origin'));
        other.route('/same', respond(200, { 'cache-control': 'max-age=60' }, 'second origin'));
        const cache = env.cache();
        for (let round = 0; round < 2; round++) {
          expect(await (await request(`${env.origin.url}/same`, { dispatcher: cache.dispatcher })).body.text()).to.equal('first origin');
          expect(await (await request(`${other.url}/same`, { dispatcher: cache.dispatcher })).body.text()).to.equal('second origin');
        }
        expect(env.origin.hits('/same')).to.equal(1);
        expect(other.hits('/same')).to.equal(1);
      } finally {
        await other.close();
      }
    });

    it('ignoredParameters: one entry whatever their value, and the value is never stored', async () => {
      env.origin.route('/data', respond(200, { 'cache-control': 'max-age=60' }, 'data'));
      const cache = env.cache({ ignoredParameters: ['token'] });
      await (await cache.fetch(`${env.origin.url}/data?token=first-secret&page=1`)).text();
      const hit = await cache.fetch(`${env.origin.url}/data?page=1&token=second-secret`);
      expect(hit.headers.get('cache-status')).to.match(/hit/);
      await hit.text();
      expect(env.origin.hits('/data')).to.equal(1);
      await cache.settled();

      const entries: StoredResponse[] = [];
      for await (const [, bytes] of rawPartitions(cache).responses.entries()) entries.push(decodeRecord(bytes) as StoredResponse);
      expect(entries).to.have.length(1);
      expect(entries[0]?.url).to.equal(`${env.origin.url}/data?page=1&token=REDACTED`);
      for await (const [, bytes] of rawPartitions(cache).responses.entries()) expect(Buffer.from(bytes).toString('latin1')).to.not.include('secret');
    });

    it('matchHeaders keep separate entries per header value', async () => {
      env.origin.route('/hello', (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end(req.headers['accept-language'] === 'fr' ? 'bonjour' : 'hello');
      });
      const cache = env.cache({ matchHeaders: ['Accept-Language'] });
      const text = async (lang: string) => (await cache.fetch(`${env.origin.url}/hello`, { headers: { 'accept-language': lang } })).text();
      expect(await text('fr')).to.equal('bonjour');
      expect(await text('en')).to.equal('hello');
      expect(await text('fr')).to.equal('bonjour');
      expect(await text('en')).to.equal('hello');
      expect(env.origin.hits('/hello')).to.equal(2);
    });

    describe('credentials', () => {
      beforeEach(() => {
        env.origin.route('/me', (req, res) => {
          res.writeHead(200, { 'cache-control': 'public, max-age=60' });
          res.end(`user: ${req.headers.authorization ?? req.headers.cookie ?? 'anonymous'}`);
        });
      });

      it('by default, requests with Authorization or Cookie are neither served from nor stored in the cache', async () => {
        const cache = env.cache();
        const anonymous = await (await cache.fetch(`${env.origin.url}/me`)).text();
        expect(anonymous).to.equal('user: anonymous');
        const alice = await cache.fetch(`${env.origin.url}/me`, { headers: { authorization: 'Bearer alice' } });
        expect(await alice.text()).to.equal('user: Bearer alice');
        expect(alice.headers.get('cache-status')).to.equal('cachette; fwd=bypass; detail=credentialed');
        const cookie = await cache.fetch(`${env.origin.url}/me`, { headers: { cookie: 'session=bob' } });
        expect(await cookie.text()).to.equal('user: session=bob');
        expect(await rawPartitions(cache).responses.size()).to.equal(1);
        expect(env.origin.hits('/me')).to.equal(3);
      });

      it('per-credential: each credential gets its own entry, stored without the credential', async () => {
        const cache = env.cache({ credentialed: 'per-credential' });
        const as = async (token: string) => (await cache.fetch(`${env.origin.url}/me`, { headers: { authorization: `Bearer ${token}` } })).text();
        expect(await as('alice-secret')).to.equal('user: Bearer alice-secret');
        expect(await as('bob-secret')).to.equal('user: Bearer bob-secret');
        expect(await as('alice-secret')).to.equal('user: Bearer alice-secret');
        expect(await as('bob-secret')).to.equal('user: Bearer bob-secret');
        expect(env.origin.hits('/me')).to.equal(2);
        await cache.settled();
        for await (const key of rawPartitions(cache).responses.keys()) expect(key).to.not.include('secret');
        for await (const [, bytes] of rawPartitions(cache).responses.entries()) {
          // The body names the user (the origin echoes it); nothing else may hold the credential.
          const record = decodeRecord(bytes) as StoredResponse;
          expect(JSON.stringify({ ...record, body: undefined })).to.not.include('secret');
        }
      });
    });
  });
});
