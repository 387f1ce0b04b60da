/**
 * Per-key invalidation of memory tiers on Redis (client-side caching): two
 * processes, each with a memory tier in front of one redis-server, and a
 * `syncEvery` of an hour (the generation stamp would not be read in the
 * time of the spec). Process A purges one URL of 1,000; B's memory drops that
 * one — heard from Redis, not from the stamp — and keeps the other 999.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createClient } from '@redis/client';
import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { type RedisServer, startRedis } from '../../fixtures/redis-server.js';
import { NODE_CHILD_FLAGS, useOrigin } from '../support.js';

const worker = fileURLToPath(new URL('../../fixtures/tier-worker.js', import.meta.url));

type Reply = { watching?: boolean; cacheStatus?: string; body?: string; deleted?: number; hits?: number; inMemory?: boolean | number; held?: number };

type Worker = { ask(op: string, url?: string, count?: number): Promise<Reply>; child: ChildProcess };

/** Until a worker's memory tier watches Redis's changes (its tracking connection is up; memory was emptied then). */
async function watching(worker: Worker): Promise<void> {
  for (let polls = 0; (await worker.ask('watching')).watching !== true; polls++) {
    expect(polls, 'the memory tier never started watching').to.be.below(500);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function start(env: Record<string, string>): Promise<Worker> {
  const child = fork(worker, {
    execArgv: [...process.execArgv, ...NODE_CHILD_FLAGS],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (reply: Reply) => void>();
  let next = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready`)));
    child.on('message', (message: Reply & { id?: number; ready?: boolean }) => {
      if (message.ready === true) resolve();
      else if (message.id !== undefined) waiting.get(message.id)?.(message);
    });
  });
  return {
    child,
    ask: (op, url = '', count) =>
      new Promise((resolve) => {
        const id = next++;
        waiting.set(id, resolve);
        child.send({ id, op, url, count });
      }),
  };
}

describe('memory tiers on Redis drop exactly what other processes change (client-side caching)', function () {
  this.timeout(120_000);
  const env = useOrigin();
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
  });

  it('A purges one URL of 1,000: B keeps 999 in memory and misses the one', async () => {
    for (let i = 0; i < 1000; i++) env.origin.route(`/u${i}`, respond(200, { 'cache-control': 'max-age=600' }, `body ${i}`));
    const shared = { STORAGE: 'redis', REDIS_URL: redis.url, KEY_PREFIX: `tiers-${randomUUID()}:`, SYNC_EVERY: '3600' };
    const a = await start(shared);
    const b = await start(shared);
    try {
      await Promise.all([watching(a), watching(b)]);
      const base = `${env.origin.url}/u`;
      expect((await a.ask('fetch-all', base, 1000)).hits).to.equal(0);
      // B reads them all from Redis into its memory, then from memory.
      expect(await b.ask('fetch-all', base, 1000)).to.include({ hits: 1000, inMemory: 1000 });
      expect((await b.ask('in-memory', `${base}7`)).inMemory).to.equal(true);
      const requests = env.origin.hits();

      expect((await a.ask('purge', `${base}7`)).deleted).to.equal(1);
      // B hears of it from Redis within a round trip: poll its memory, not a clock.
      let polls = 0;
      while ((await b.ask('in-memory', `${base}7`)).inMemory === true) {
        polls += 1;
        expect(polls, 'B never dropped the purged URL').to.be.below(500);
      }
      expect((await b.ask('in-memory', `${base}8`)).held).to.equal(999);
      const after = await b.ask('fetch-all', base, 1000);
      expect(after.hits).to.equal(999);
      expect(env.origin.hits() - requests).to.equal(1);
      expect(env.origin.hits('/u7')).to.equal(2);
    } finally {
      await Promise.all([a.ask('close'), b.ask('close')]);
    }
  });

  it('a lost tracking connection empties B’s memory once, then B watches again', async () => {
    for (let i = 0; i < 20; i++) env.origin.route(`/v${i}`, respond(200, { 'cache-control': 'max-age=600' }, `v${i}`));
    const shared = { STORAGE: 'redis', REDIS_URL: redis.url, KEY_PREFIX: `tiers-${randomUUID()}:`, SYNC_EVERY: '3600' };
    const a = await start(shared);
    const b = await start(shared);
    const admin = createClient({ url: redis.url });
    await admin.connect();
    try {
      await Promise.all([watching(a), watching(b)]);
      const base = `${env.origin.url}/v`;
      await a.ask('fetch-all', base, 20);
      expect(await b.ask('fetch-all', base, 20)).to.include({ hits: 20, inMemory: 20 });
      // Kill every connection that receives invalidations: B's tracker among them.
      const list = String(await admin.sendCommand(['CLIENT', 'LIST']));
      // The trackers: tracking on (flag t) for themselves (redir=0); the storages' own connections redirect to them.
      const trackers = list.split('\n').filter((line) => /\bflags=\S*t/.test(line) && /\bredir=0\b/.test(line));
      expect(trackers.length).to.be.at.least(2);
      for (const line of trackers) await admin.sendCommand(['CLIENT', 'KILL', 'ID', /id=(\d+)/.exec(line)?.[1] as string]);
      let polls = 0;
      while (((await b.ask('in-memory', `${base}3`)).held as number) > 0) {
        polls += 1;
        expect(polls, 'B kept its memory after losing its tracking connection').to.be.below(500);
      }
      // Watching again: B fills its memory, and hears of A's next purge.
      await watching(b);
      expect((await b.ask('fetch-all', base, 20)).hits).to.equal(20);
      await a.ask('purge', `${base}5`);
      polls = 0;
      while ((await b.ask('in-memory', `${base}5`)).inMemory === true) {
        polls += 1;
        expect(polls, 'B never dropped the purged URL after watching again').to.be.below(500);
      }
    } finally {
      await admin.close();
      await Promise.all([a.ask('close'), b.ask('close')]);
    }
  });
});
