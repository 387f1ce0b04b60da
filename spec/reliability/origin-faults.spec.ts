/**
 * An origin that fails mid-way, with identical requests collapsed onto the
 * one that meets the fault: every request settles (a response or the
 * origin's error), no one gets a truncated or foreign body, nothing broken is
 * stored, and the next request after the origin recovers is served whole.
 */

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { Agent } from 'undici';
import { respond } from '../../fixtures/origin.js';
import { rawPartitions } from '../../lib/cache.js';
import { useOrigin } from '../support.js';
import { report } from './figures.js';

const GOOD = `complete body ${'y'.repeat(1000)}`;
const FOLLOWERS = 10;

type Faulty = (req: IncomingMessage, res: ServerResponse) => void;

const faults: Array<[string, Faulty]> = [
  [
    'a connection reset mid-body',
    (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(GOOD.length) });
      res.write(GOOD.slice(0, 100));
      setTimeout(() => res.socket?.destroy(), 20);
    },
  ],
  [
    'a body shorter than its Content-Length',
    (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(GOOD.length) });
      res.write(GOOD.slice(0, 100));
      setTimeout(() => res.socket?.end(), 20);
    },
  ],
  [
    'bad chunked framing',
    (req) => {
      req.socket.write('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\nnot a chunk\r\n');
      setTimeout(() => req.socket.destroy(), 20);
    },
  ],
  [
    "a body that stalls (the dispatcher's bodyTimeout ends it)",
    (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(GOOD.length) });
      res.write(GOOD.slice(0, 100));
    },
  ],
];

describe('reliability: origin faults with collapsed followers', function () {
  this.timeout(60_000);
  const env = useOrigin();
  let agent: Agent;

  beforeEach(() => {
    agent = new Agent({ bodyTimeout: 300, headersTimeout: 1000 });
  });

  afterEach(async () => {
    await agent.destroy();
  });

  /** FOLLOWERS identical requests at once; what each ended with. */
  async function burst(
    url: string,
    cache: ReturnType<typeof env.cache>,
  ): Promise<Array<{ ok: true; status: number; body: string } | { ok: false; error: string }>> {
    return Promise.all(
      Array.from({ length: FOLLOWERS }, async () => {
        try {
          const response = await cache.fetch(url, { dispatcher: agent });
          return { ok: true as const, status: response.status, body: await response.text() };
        } catch (error) {
          return { ok: false as const, error: (error as Error).name };
        }
      }),
    );
  }

  for (const [name, fault] of faults) {
    it(`${name}: every request settles, none with a wrong body, nothing stored, then served whole`, async () => {
      let broken = true;
      env.origin.route('/r', (req, res) => {
        if (broken) return fault(req, res);
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(GOOD.length) });
        res.end(GOOD);
      });
      const cache = env.cache();
      const outcomes = await burst(`${env.origin.url}/r`, cache);
      await cache.settled();
      const wrong = outcomes.filter((outcome) => outcome.ok && outcome.body !== GOOD).length;
      const errors = outcomes.filter((outcome) => !outcome.ok).length;
      report(`origin ${name}`, { requests: FOLLOWERS, faults: env.origin.hits('/r'), failures: 0, errorsPassedOn: errors, wrongBodies: wrong });
      expect(wrong).to.equal(0);
      expect(errors).to.equal(FOLLOWERS);
      expect(env.origin.hits('/r'), 'followers did not all retry at once').to.be.at.most(2);
      expect(await rawPartitions(cache).responses.size()).to.equal(0);

      broken = false;
      const recovered = await cache.fetch(`${env.origin.url}/r`, { dispatcher: agent });
      expect(await recovered.text()).to.equal(GOOD);
      await cache.settled();
      expect(await rawPartitions(cache).responses.size()).to.equal(1);
    });
  }

  it('a 503: followers get the same 503 (one origin request), and it is not stored', async () => {
    env.origin.route('/r', respond(503, { 'retry-after': '1' }, 'busy'));
    const cache = env.cache();
    const outcomes = await burst(`${env.origin.url}/r`, cache);
    expect(outcomes.every((outcome) => outcome.ok && outcome.status === 503 && outcome.body === 'busy')).to.equal(true);
    expect(env.origin.hits('/r')).to.equal(1);
    await cache.settled();
    expect(await rawPartitions(cache).responses.size()).to.equal(0);
  });

  it('a refused connection: followers get the same error, not one attempt each', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const cache = env.cache();
    const outcomes = await burst(`http://127.0.0.1:${port}/r`, cache);
    expect(outcomes.every((outcome) => !outcome.ok)).to.equal(true);
  });

  for (const [name, fault, leaderGetsStale] of [
    ['a reset before the headers', (req: IncomingMessage) => req.socket.destroy(), true],
    ['a reset mid-body', (faults[0] as [string, Faulty])[1], false],
    ['bad chunked framing', (faults[2] as [string, Faulty])[1], false],
  ] as Array<[string, Faulty, boolean]>) {
    it(`with stale-if-error and ${name}: the followers get the stale entry${leaderGetsStale ? ', the leader too' : '; the leader, who has the failed headers already, the error'}`, async () => {
      let broken = false;
      env.origin.route('/r', (req, res) => {
        if (broken) return fault(req, res);
        res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"g"', 'content-length': String(GOOD.length) });
        res.end(GOOD);
      });
      const cache = env.cache({ staleIfError: true });
      await (await cache.fetch(`${env.origin.url}/r`, { dispatcher: agent })).text();
      await cache.settled();
      broken = true;
      const outcomes = await burst(`${env.origin.url}/r`, cache);
      const stale = outcomes.filter((outcome) => outcome.ok && outcome.status === 200 && outcome.body === GOOD).length;
      expect(stale, JSON.stringify(outcomes.slice(0, 2))).to.equal(leaderGetsStale ? FOLLOWERS : FOLLOWERS - 1);
      expect(env.origin.hits('/r')).to.equal(2);
    });
  }
});
