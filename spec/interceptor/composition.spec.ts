/**
 * The interceptor composed on each kind of undici dispatcher caches alike —
 * Client, Pool and BalancedPool included, whose dispatch options carry no origin.
 */
import { expect } from 'chai';
import { Agent, BalancedPool, Client, type Dispatcher, Pool } from 'undici';
import { respond } from '../../fixtures/origin.js';
import { useOrigin } from '../support.js';

describe('composition on every undici dispatcher', () => {
  const env = useOrigin();

  beforeEach(() => {
    env.origin.route('/data', respond(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, 'cached body'));
  });

  const kinds: Array<[string, (origin: string) => Dispatcher]> = [
    ['Agent', () => new Agent()],
    ['Client', (origin) => new Client(origin)],
    ['Pool', (origin) => new Pool(origin, { connections: 2 })],
    ['BalancedPool', (origin) => new BalancedPool([origin])],
  ];

  for (const [name, make] of kinds) {
    it(`${name}: the second and later requests are hits, under the key an Agent uses`, async () => {
      const cache = env.cache();
      const base = make(env.origin.url);
      const dispatcher = base.compose(cache.interceptor());
      try {
        const statuses: string[] = [];
        for (let i = 0; i < 3; i++) {
          const response = await dispatcher.request({
            origin: name === 'Agent' ? env.origin.url : undefined,
            path: '/data',
            method: 'GET',
          } as Dispatcher.RequestOptions);
          expect(await response.body.text()).to.equal('cached body');
          statuses.push(String(response.headers['cache-status']));
        }
        expect(statuses[0]).to.match(/^cachette; fwd=(uri-)?miss; fwd-status=200; stored/);
        expect(statuses.slice(1).every((status) => /^cachette; hit/.test(status))).to.equal(true);
        expect(env.origin.hits('/data')).to.equal(1);
        // The same entry as cache.fetch finds for the URL.
        expect(await cache.contains({ url: `${env.origin.url}/data` })).to.equal(true);
        expect((await cache.fetch(`${env.origin.url}/data`)).headers.get('cache-status')).to.match(/^cachette; hit/);
      } finally {
        await base.close();
      }
    });
  }

  it('two Clients to two origins keep their entries apart', async () => {
    const other = await (await import('../../fixtures/origin.js')).Origin.start();
    other.route('/data', respond(200, { 'cache-control': 'max-age=60' }, 'other body'));
    const cache = env.cache();
    const first = new Client(env.origin.url);
    const second = new Client(other.url);
    const composed = new Map<Client, Dispatcher>([
      [first, first.compose(cache.interceptor())],
      [second, second.compose(cache.interceptor())],
    ]);
    try {
      const read = async (client: Client) => (await (composed.get(client) as Dispatcher).request({ path: '/data', method: 'GET' })).body.text();
      expect([await read(first), await read(second), await read(first), await read(second)]).to.deep.equal([
        'cached body',
        'other body',
        'cached body',
        'other body',
      ]);
      expect([env.origin.hits('/data'), other.hits('/data')]).to.deep.equal([1, 1]);
    } finally {
      await Promise.all([first.close(), second.close()]);
      await other.close();
    }
  });

  it('headers as [name, value] pairs (as undici’s own cache takes them) are keyed and sent as one list; a list of anything else is undici’s to refuse', async () => {
    env.origin.route('/lang', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-language' });
      res.end(`lang=${req.headers['accept-language']} x=${req.headers['x-a']}`);
    });
    const cache = env.cache();
    const agent = new Agent().compose(cache.interceptor());
    try {
      const read = async (headers: unknown) => {
        const response = await agent.request({ origin: env.origin.url, path: '/lang', method: 'GET', headers } as Dispatcher.RequestOptions);
        return `${await response.body.text()} | ${response.headers['cache-status']}`;
      };
      expect(
        await read([
          ['accept-language', 'fr'],
          ['x-a', '1'],
        ]),
      ).to.match(/^lang=fr x=1 \| cachette; fwd=uri-miss/);
      expect(await read({ 'accept-language': 'fr' })).to.match(/^lang=fr x=1 \| cachette; hit/);
      expect(await read([['accept-language', 'de']])).to.match(/^lang=de x=undefined \| cachette; fwd=vary-miss/);
      expect(env.origin.hits('/lang')).to.equal(2);
      // Not pairs: undici's own error, and nothing asked of the origin or the cache.
      const refused = await agent
        .request({ origin: env.origin.url, path: '/lang', method: 'GET', headers: [['accept-language', 'fr', 'extra']] } as never)
        .then(
          () => undefined,
          (error: Error) => error,
        );
      expect(refused?.message).to.be.a('string');
      expect(env.origin.hits('/lang')).to.equal(2);
    } finally {
      await agent.close();
    }
  });
});
