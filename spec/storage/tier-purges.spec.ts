/**
 * Memory tiers hear purges: two processes, each with a memory tier in front
 * of one shared storage (DynamoDB Local, a real redis-server). Process A
 * purges a URL; process B, which was answering it from memory, stops within
 * its `syncEvery` — checked as states, not times: with syncEvery 0 (check
 * before every answer from memory) B's very next request misses; with an
 * hour, B keeps answering from memory (the bound is the one configured).
 * A soft purge reaches them the same way: B's next request revalidates.
 */

import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { dropTables, dynamoStorage } from '../../fixtures/dynamodb.js';
import { dynamoEndpoint } from '../../fixtures/dynamodb-local.js';
import { respond } from '../../fixtures/origin.js';
import { type RedisServer, startRedis } from '../../fixtures/redis-server.js';
import { NODE_CHILD_FLAGS, useOrigin } from '../support.js';

const worker = fileURLToPath(new URL('../../fixtures/tier-worker.js', import.meta.url));

interface Process {
  ask(op: 'fetch' | 'purge' | 'soft-purge' | 'close', url?: string): Promise<{ cacheStatus?: string; body?: string; deleted?: number }>;
  child: ChildProcess;
}

async function start(env: Record<string, string>): Promise<Process> {
  const child = fork(worker, {
    execArgv: [...process.execArgv, ...NODE_CHILD_FLAGS],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (reply: Record<string, unknown>) => void>();
  let next = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready`)));
    child.on('message', (message: { id?: number; ready?: boolean }) => {
      if (message.ready === true) resolve();
      else if (message.id !== undefined) waiting.get(message.id)?.(message);
    });
  });
  return {
    child,
    ask: (op, url = '') =>
      new Promise((resolve) => {
        const id = next++;
        waiting.set(id, resolve);
        child.send({ id, op, url });
      }),
  };
}

for (const backend of ['DynamoDB Local', 'redis-server'] as const) {
  describe(`memory tiers hear purges made by another process (${backend})`, function () {
    this.timeout(120_000);
    const env = useOrigin();
    let redis: RedisServer | undefined;
    let shared: Record<string, string>;
    const processes: Process[] = [];

    before(async function () {
      this.timeout(180_000);
      if (backend === 'redis-server') redis = await startRedis();
      else await dynamoEndpoint();
    });
    after(async () => {
      await redis?.stop();
    });
    beforeEach(async () => {
      if (backend === 'redis-server') {
        shared = { STORAGE: 'redis', REDIS_URL: (redis as RedisServer).url, KEY_PREFIX: `tiers-${randomUUID()}:` };
      } else {
        const table = await dynamoStorage();
        shared = { STORAGE: 'dynamodb', DYNAMODB_ENDPOINT: await dynamoEndpoint(), TABLE: table.tableName };
      }
    });
    afterEach(async () => {
      await Promise.all(processes.splice(0).map((one) => one.ask('close')));
      if (backend === 'DynamoDB Local') await dropTables();
    });

    async function pair(syncEvery: number): Promise<[Process, Process]> {
      const a = await start({ ...shared, SYNC_EVERY: String(syncEvery) });
      const b = await start({ ...shared, SYNC_EVERY: String(syncEvery) });
      processes.push(a, b);
      return [a, b];
    }

    it('with syncEvery 0, B’s next request after A’s purge is a miss', async () => {
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600' }, 'v1'));
      const url = `${env.origin.url}/a`;
      const [a, b] = await pair(0);
      expect((await a.ask('fetch', url)).cacheStatus).to.match(/fwd=uri-miss/);
      expect((await b.ask('fetch', url)).cacheStatus).to.match(/^cachette; hit/);
      expect((await b.ask('fetch', url)).cacheStatus).to.match(/^cachette; hit/);
      expect((await a.ask('purge', url)).deleted).to.equal(1);
      const after = await b.ask('fetch', url);
      expect(after.cacheStatus).to.match(/fwd=uri-miss/);
      expect(env.origin.hits('/a')).to.equal(2);
    });

    it('with syncEvery 0, B’s next request after A’s soft purge revalidates what it holds', async () => {
      env.origin.route('/a', (req, res) => {
        const fresh = req.headers['if-none-match'] === '"v1"';
        res.writeHead(fresh ? 304 : 200, { 'cache-control': 'max-age=600', etag: '"v1"' });
        res.end(fresh ? undefined : 'v1');
      });
      const url = `${env.origin.url}/a`;
      const [a, b] = await pair(0);
      await a.ask('fetch', url);
      expect((await b.ask('fetch', url)).cacheStatus).to.match(/^cachette; hit/);
      expect((await a.ask('soft-purge', url)).deleted).to.equal(1);
      const after = await b.ask('fetch', url);
      expect(after).to.include({ body: 'v1' });
      expect(after.cacheStatus).to.match(/fwd=stale/);
      expect(env.origin.requests.map((request) => request.headers['if-none-match'] ?? null)).to.deep.equal([null, '"v1"']);
      expect((await b.ask('fetch', url)).cacheStatus).to.match(/^cachette; hit/);
    });

    it(
      backend === 'redis-server'
        ? 'with syncEvery an hour, B hears of the purge all the same: Redis tells of each changed key (tier-invalidation.spec.ts)'
        : 'with syncEvery an hour, B goes on answering from memory: the bound is the one configured',
      async () => {
        env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600' }, 'v1'));
        const url = `${env.origin.url}/a`;
        const [a, b] = await pair(3600);
        await a.ask('fetch', url);
        expect((await b.ask('fetch', url)).cacheStatus).to.match(/^cachette; hit/);
        await a.ask('purge', url);
        if (backend === 'redis-server') {
          // Heard within a round trip, not at once: ask until B misses (bounded).
          let status = '';
          for (let polls = 0; polls < 200 && !/fwd=uri-miss/.test(status); polls++) status = (await b.ask('fetch', url)).cacheStatus ?? '';
          expect(status).to.match(/fwd=uri-miss/);
          expect(env.origin.hits('/a')).to.equal(2);
        } else {
          expect((await b.ask('fetch', url)).cacheStatus).to.match(/^cachette; hit/);
          expect(env.origin.hits('/a')).to.equal(1);
        }
      },
    );
  });
}
