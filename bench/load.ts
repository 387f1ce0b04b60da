/**
 * Under load: an app that answers its clients by calling an upstream API
 * through each contender (bench/load-proxy.ts, a process each), driven by
 * autocannon — 50 connections spread over 100 URLs of 2 KB JSON, the
 * upstream (bench/load-upstream.ts, its own process) answering after 1 ms
 * with `max-age=600`. Per contender: requests per second, latency p50/p99,
 * the hit ratio (1 − upstream requests / requests served) and the proxy's
 * RSS, all in one run: seven rounds through every contender (every other
 * one backwards), each contender standing by its median round, every round's
 * requests per second kept beside it. Prints one JSON line.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dynamoEndpoint, stopDynamoLocal } from '../fixtures/dynamodb-local.js';
import { startRedis } from '../fixtures/redis-server.js';
import { machine } from './harness.js';

/** One contender's figures in one round. */
interface LoadFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  served: number;
  errors: number;
  hitRatio: number;
  rssMiB: number;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  requests: Array<{ setupRequest: (request: { path: string }) => { path: string } }>;
}) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const here = fileURLToPath(new URL('.', import.meta.url));
const DURATION_S = Number(process.env['LOAD_SECONDS'] ?? 5);
/**
 * Each contender runs this many times, in a fresh proxy each time, the rounds interleaved (LOAD_ROUNDS): seven, as
 * one 5 s round of the same code differs from the next by ±12% on a 2-core VM, and a slow spell of the VM can take
 * two or three rounds of five (docs/performance.md).
 */
const ROUNDS = Number(process.env['LOAD_ROUNDS'] ?? 7);
const URLS = 100;

/** Node 24, for the contenders that need it (undici's SqliteCacheStore is node:sqlite), with its peers (undici 8). */
const node24 = execFileSync('npx', ['-y', 'node@24', '-p', 'process.execPath'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  .trim()
  .split('\n')
  .pop() as string;
const node24Options = `--import=${join(here, '..', '..', 'scripts', 'node24-peers.mjs')}`;

function start(script: string, args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const on24 = args[0]?.endsWith('@24') === true;
  const child = fork(join(here, script), args, {
    env: { ...process.env, ...env, NODE_OPTIONS: on24 ? node24Options : '' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    ...(on24 ? { execPath: node24 } : {}),
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${script} ${args.join(' ')} exited with ${code}`)));
    child.once('message', (message: { port: number }) => resolve({ child, port: message.port }));
  });
}

/**
 * Stops a proxy and waits for it to be gone: the next contender is not measured while one exits beside it
 * (its heap torn down, its storage's connections closed).
 */
async function stop(child: ChildProcess): Promise<void> {
  child.removeAllListeners('exit');
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.disconnect();
  const late = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(late);
}

function ask<T>(child: ChildProcess, question: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (message) => resolve(message as T));
    child.send(question);
  });
}

const redis = await startRedis();
const dynamodb = await dynamoEndpoint();
const folder = mkdtempSync(join(tmpdir(), 'cachette-load-'));
const upstream = await start('load-upstream.js', [], {});
/** One DynamoDB table for the run: each round's proxy starts empty in memory and finds what the rounds before stored, as a new instance of a fleet does. */
const table = `load_${process.pid}`;
/** Contenders a target compares run side by side in each round (memory tier beside both MemoryStorage and undici-cache-redis). */
const contenders = [
  'none',
  'undici-memory',
  'cachette-memory',
  'cachette-redis-tier',
  'undici-cache-redis',
  'cachette-redis',
  'cachette-sqlite',
  'cachette-dynamodb-tier',
  // undici's SqliteCacheStore needs node:sqlite: both SQLite contenders again, on Node 24.
  'undici-sqlite@24',
  'cachette-sqlite@24',
];
/** Through fetch, on a workload of about 40% hits (10 KB, 3 URLs in 5 `no-store`): the runtime's fetch, and cache.fetch (see load-proxy.ts). */
const fetchContenders = [
  'fetch',
  'cachette-fetch',
  // What fetch with a dispatcher costs apart from the cache: an undici Agent of the package's, then the chain of a disabled cache.
  'fetch-agent',
  'cachette-fetch-disabled',
  'fetch@24',
  'cachette-fetch@24',
  'fetch-agent@24',
  'cachette-fetch-disabled@24',
];
/** LOAD_ONLY=a,b: only those contenders (while working on one; `npm run bench` runs them all). */
const only = process.env.LOAD_ONLY?.split(',');
const results: Record<string, unknown> = {};
const mixed: Record<string, unknown> = {};
/** One autocannon run against a proxy: 50 connections taking the URLs under `prefix` in turn. */
function drive(port: number, prefix: string, seconds: number): Promise<AutocannonResult> {
  let n = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 50,
    duration: seconds,
    requests: [
      {
        setupRequest: (request) => {
          n = (n + 37) % URLS;
          return { ...request, path: `${prefix}/items/${n}` };
        },
      },
    ],
  });
}

try {
  // Unmeasured: the upstream and autocannon warm up (their JIT, the upstream's two paths) on a proxy with no
  // cache, so that the first contender measured does not run against a cold upstream.
  const warm = await start('load-proxy.js', ['none'], { UPSTREAM: `http://127.0.0.1:${upstream.port}` });
  await drive(warm.port, '', 2);
  await drive(warm.port, '/mixed', 2);
  await stop(warm.child);
  const chosen = [...contenders, ...fetchContenders].filter((name) => only === undefined || only.includes(name));
  const environment = (contender: string, round: number | string) => ({
    UPSTREAM: `http://127.0.0.1:${upstream.port}`,
    REDIS_URL: redis.url,
    DYNAMODB_ENDPOINT: dynamodb,
    DYNAMODB_TABLE: table,
    SQLITE_PATH: join(folder, `${contender}-${round}.db`),
  });
  if (chosen.includes('cachette-dynamodb-tier')) {
    // DynamoDB Local runs on the machine measured, and its first requests cost it seconds of CPU (its JIT, the
    // table's creation: 2.8 CPU-s in the first 2 s of a round, measured from /proc): unmeasured, it creates the
    // run's one table and warms up, so that a round measures the cache's process rather than DynamoDB Local's.
    const warmTier = await start('load-proxy.js', ['cachette-dynamodb-tier'], environment('cachette-dynamodb-tier', 'warm'));
    await drive(warmTier.port, '', 2);
    await stop(warmTier.child);
  }
  const runs = new Map<string, LoadFigures[]>(chosen.map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Every other round backwards: no contender always runs at the same point of the machine's drift.
    for (const contender of round % 2 === 0 ? chosen : [...chosen].reverse()) {
      const prefix = fetchContenders.includes(contender) ? '/mixed' : '';
      const proxy = await start('load-proxy.js', [contender], environment(contender, round));
      const before = (await ask<{ count: number }>(upstream.child, 'count')).count;
      const run = await drive(proxy.port, prefix, DURATION_S);
      const upstreamRequests = (await ask<{ count: number }>(upstream.child, 'count')).count - before;
      const rssMiB = (await ask<{ rss: number }>(proxy.child, 'rss')).rss / 1024 / 1024;
      await stop(proxy.child);
      const served = run.requests.total;
      runs.get(contender)?.push({
        requestsPerSecond: Math.round(run.requests.average),
        p50Ms: run.latency.p50,
        p99Ms: run.latency.p99,
        served,
        errors: run.errors + run.non2xx,
        // Requests still in flight when the run stops reach the upstream uncounted by autocannon: never below 0.
        hitRatio: served === 0 ? 0 : Math.max(0, Math.round((1 - upstreamRequests / served) * 1000) / 1000),
        rssMiB: Math.round(rssMiB * 10) / 10,
      });
    }
  }
  for (const [contender, figures] of runs) {
    // The round with the median requests per second stands for the contender; every round's figure is kept (the spread).
    const sorted = [...figures].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
    const middle = sorted[Math.floor(sorted.length / 2)] as LoadFigures;
    (fetchContenders.includes(contender) ? mixed : results)[contender] = {
      ...middle,
      rounds: figures.map((one) => one.requestsPerSecond),
      p99Rounds: figures.map((one) => one.p99Ms),
    };
  }
} finally {
  upstream.child.removeAllListeners('exit');
  upstream.child.disconnect();
  await redis.stop();
  await stopDynamoLocal();
  rmSync(folder, { recursive: true, force: true });
}
process.stdout.write(
  `${JSON.stringify({ machine: machine(), load: { seconds: DURATION_S, rounds: ROUNDS, connections: 50, urls: URLS, contenders: results, mixed } })}\n`,
);
