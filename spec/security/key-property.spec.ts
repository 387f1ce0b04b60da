/**
 * Property: two requests that differ in something an origin can observe —
 * a byte of the path, the order of repeated query names, `+` against `%2B`,
 * an encoded slash, NFC against NFD, a Host, the method, a byte of the body
 * — never share a key. Requests that differ only where RFC 3986 and RFC 9110
 * §4.2.3 make URIs equivalent (scheme and host case, a default port) may.
 * Checked on the key itself, then end to end against an origin that echoes
 * what it received.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { request } from 'undici';
import { resolveOptions } from '../../lib/options.js';
import { KeyPolicy } from '../../lib/policy/key.js';
import { analyzeRequest, type DispatchLike } from '../../lib/policy/request.js';
import { useOrigin } from '../support.js';

const options = resolveOptions({ methods: ['GET', 'POST'] });
const keys = () => new KeyPolicy({ matchHeaders: [], perCredential: false });

/** The key of a request, or undefined when the cache would not look it up. */
function keyOf(policy: KeyPolicy, request: DispatchLike, body?: Uint8Array): string | undefined {
  const analysis = analyzeRequest(request, options, policy, body);
  return analysis.cacheable ? analysis.request.key : undefined;
}

const segment = fc.string({ unit: fc.constantFrom(...'abAB09-._~'.split('')), minLength: 1, maxLength: 6 });
const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((segments) => `/${segments.join('/')}`);
const param = fc.tuple(fc.constantFrom('a', 'b', 'q', 'id'), fc.string({ unit: fc.constantFrom(...'xyz19'.split('')), maxLength: 4 }));
const query = fc.array(param, { maxLength: 4 });

interface Generated {
  method: 'GET' | 'POST';
  path: string;
  query: Array<[string, string]>;
  body: string;
}
const generated: fc.Arbitrary<Generated> = fc.record({
  method: fc.constantFrom('GET' as const, 'POST' as const),
  path,
  query,
  body: fc.string({ maxLength: 8 }),
});

function target(request: Generated, pathText = request.path): string {
  return request.query.length === 0 ? pathText : `${pathText}?${request.query.map(([name, value]) => `${name}=${value}`).join('&')}`;
}

/** Changes an origin can observe, each turning one request into another. */
const observable: Array<
  [string, (request: Generated) => { base: DispatchLike & { bodyText?: string }; changed: DispatchLike & { bodyText?: string } } | undefined]
> = [
  ['a path byte', (r) => ({ base: plain(r), changed: plain(r, `${r.path}x`) })],
  ['an encoded slash', (r) => ({ base: plain(r, `${r.path}/x`), changed: plain(r, `${r.path}%2Fx`) })],
  ['+ against %2B', (r) => ({ base: plain(r, `${r.path}+`), changed: plain(r, `${r.path}%2B`) })],
  ['+ against %2B in a query value', (r) => ({ base: withQuery(r, 'q=a+b'), changed: withQuery(r, 'q=a%2Bb') })],
  ['%20 against + in a query value', (r) => ({ base: withQuery(r, 'q=a+b'), changed: withQuery(r, 'q=a%20b') })],
  [
    'NFC against NFD',
    (r) => ({
      base: plain(r, `${r.path}/${encodeURIComponent('é'.normalize('NFC'))}`),
      changed: plain(r, `${r.path}/${encodeURIComponent('é'.normalize('NFD'))}`),
    }),
  ],
  ['the order of repeated names', (r) => ({ base: withQuery(r, 'a=1&a=2'), changed: withQuery(r, 'a=2&a=1') })],
  ['an empty query', (r) => (r.query.length > 0 ? undefined : { base: plain(r), changed: plain(r, `${r.path}?`) })],
  ['a Host', (r) => ({ base: plain(r), changed: { ...plain(r), headers: { host: 'other.example' } } })],
  ['the method', (r) => (r.method === 'GET' ? { base: plain(r), changed: { ...plain(r), method: 'POST', bodyText: '' } } : undefined)],
  ['a body byte', (r) => (r.method === 'POST' ? { base: plain(r), changed: { ...plain(r), bodyText: `${r.body}!` } } : undefined)],
  [
    'the Content-Type of a body',
    (r) => (r.method === 'POST' ? { base: plain(r), changed: { ...plain(r), headers: { 'content-type': 'text/plain' } } } : undefined),
  ],
];

function plain(r: Generated, pathText = r.path): DispatchLike & { bodyText?: string } {
  const dispatched: DispatchLike & { bodyText?: string } = { origin: 'http://h.example', path: target(r, pathText), method: r.method };
  if (r.method === 'POST') dispatched.bodyText = r.body;
  return dispatched;
}

function withQuery(r: Generated, extra: string): DispatchLike & { bodyText?: string } {
  const base = plain(r);
  return { ...base, path: `${base.path}${base.path.includes('?') ? '&' : '?'}${extra}` };
}

const bytes = (request: { bodyText?: string }) => (request.bodyText === undefined ? undefined : Buffer.from(request.bodyText));

describe('property: requests an origin can tell apart never share a key', () => {
  for (const [change, make] of observable) {
    it(`${change}`, () => {
      const policy = keys();
      fc.assert(
        fc.property(generated, (request) => {
          const pair = make(request);
          if (pair === undefined) return;
          const a = keyOf(policy, pair.base, bytes(pair.base));
          const b = keyOf(policy, pair.changed, bytes(pair.changed));
          expect(a, `${JSON.stringify(pair.base)}`).to.be.a('string');
          expect(a === b, `${JSON.stringify(pair.base)} and ${JSON.stringify(pair.changed)}`).to.equal(false);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('equivalent URIs may share one: scheme and host case, a default port', () => {
    const policy = keys();
    fc.assert(
      fc.property(generated, (request) => {
        const base = plain(request);
        const spelled = { ...base, origin: 'HTTP://H.Example:80' };
        expect(keyOf(policy, spelled, bytes(spelled))).to.equal(keyOf(policy, base, bytes(base)));
      }),
    );
  });

  describe('end to end', () => {
    const env = useOrigin();

    it('through the cache, every generated pair gets what the origin says to each', async () => {
      const cache = env.cache({ methods: ['GET', 'POST'] });
      const echo = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, body: Buffer) => {
        res.writeHead(200, { 'cache-control': 'max-age=600' });
        res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, type: req.headers['content-type'], body: body.toString('hex') }));
      };
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(generated, fc.constantFrom(...observable), async (generatedRequest, [, make]) => {
          const pair = make(generatedRequest);
          if (pair === undefined) return;
          runs += 1;
          for (const dispatched of [pair.base, pair.changed, pair.base, pair.changed]) {
            env.origin.route(new URL(dispatched.path.split('?')[0] as string, 'http://x').pathname, echo);
            const headers = (dispatched.headers ?? {}) as Record<string, string>;
            const sent = { method: dispatched.method, path: dispatched.path, headers, body: bytes(dispatched) };
            const viaCache = await request(env.origin.url, { dispatcher: cache.dispatcher, ...sent } as never).then((r) => r.body.text());
            const direct = await request(env.origin.url, sent as never).then((r) => r.body.text());
            const received = JSON.parse(viaCache);
            expect(received, `${JSON.stringify(dispatched)}`).to.deep.equal(JSON.parse(direct));
          }
        }),
        { numRuns: 150 },
      );
      expect(runs).to.be.greaterThan(50);
    });
  });
});
