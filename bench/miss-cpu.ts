/**
 * The CPU a miss costs the caller's process, each contender in processes of
 * its own: misses of new URLs through it, to an origin in another process,
 * and this process's user and system time per miss (`process.cpuUsage`).
 * One process per contender and run, the contenders' runs alternating: in
 * one process, every cache's stored bodies would share one heap, and each
 * would pay for the others' garbage collection and fresh pages. Prints one
 * JSON line: per body size and contender, the median of the runs and every
 * run (the spread).
 *
 * argv (a run of one contender, as the parent starts it): contender, origin port, body size.
 */
import { execFileSync, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as undici from 'undici';
import { createCache } from '../lib/cache.js';
import { MemoryStorage } from '../lib/storage/memory.js';
import { keepingInterceptor, machine, median } from './harness.js';

const CONTENDERS = ['origin', 'floor', 'floorShared', 'cachette', 'undici'] as const;
type Contender = (typeof CONTENDERS)[number];
const SIZES = [2048, 20 * 1024];
const RUNS = 7;
const WARMUP = 500;
const MISSES = 2500;
const MAX_BYTES = 256 * 1024 * 1024;

const undiciStores = (undici as unknown as { cacheStores: Record<string, new (options?: object) => object> }).cacheStores;

/** One run: this process, one contender, WARMUP then MISSES misses; prints its CPU per miss. */
async function runOne(contender: Contender, port: number, size: number): Promise<void> {
  const agent = new undici.Agent();
  const cache = contender === 'cachette' ? createCache({ storage: new MemoryStorage({ maxBytes: MAX_BYTES }) }) : undefined;
  const dispatchers: Record<Contender, () => undici.Dispatcher> = {
    origin: () => agent,
    floor: () => agent.compose(keepingInterceptor(MAX_BYTES, 'copy')),
    floorShared: () => agent.compose(keepingInterceptor(MAX_BYTES, 'shared')),
    cachette: () => agent.compose((cache as NonNullable<typeof cache>).interceptor()),
    undici: () => {
      const store = new (undiciStores['MemoryCacheStore'] as new (options: object) => object)({ maxSize: MAX_BYTES, maxCount: 1_000_000 });
      return agent.compose(undici.interceptors.cache({ store } as never));
    },
  };
  const dispatcher = dispatchers[contender]();
  let counter = 0;
  const miss = async () => {
    // A URL never asked before: every request is a miss.
    const response = await undici.request(`http://127.0.0.1:${port}/item?n=${counter++}&size=${size}`, { dispatcher });
    await response.body.arrayBuffer();
  };
  for (let i = 0; i < WARMUP; i++) await miss();
  const before = process.cpuUsage();
  for (let i = 0; i < MISSES; i++) await miss();
  const used = process.cpuUsage(before);
  await cache?.settled();
  await agent.close();
  await cache?.close();
  process.stdout.write(`${JSON.stringify({ cpuUs: (used.user + used.system) / MISSES, userUs: used.user / MISSES })}\n`);
}

if (process.argv.length > 2) {
  await runOne(process.argv[2] as Contender, Number(process.argv[3]), Number(process.argv[4]));
} else {
  const origin = fork(fileURLToPath(new URL('./origin-process.js', import.meta.url)));
  const port = await new Promise<number>((resolve, reject) => {
    origin.once('message', (message) => resolve(message as number));
    origin.once('error', reject);
  });
  const bySize: Record<string, Record<Contender, { cpuUs: number; runs: number[] }>> = {};
  for (const size of SIZES) {
    const runs = Object.fromEntries(CONTENDERS.map((contender) => [contender, [] as number[]])) as Record<Contender, number[]>;
    for (let round = 0; round < RUNS; round++) {
      // Each round starts with another contender: whatever the machine does meanwhile falls on each alike.
      for (let i = 0; i < CONTENDERS.length; i++) {
        const contender = CONTENDERS[(round + i) % CONTENDERS.length] as Contender;
        const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), contender, String(port), String(size)], { encoding: 'utf8' });
        runs[contender].push(Math.round(JSON.parse(output.trim().split('\n').pop() as string).cpuUs));
      }
    }
    bySize[String(size)] = Object.fromEntries(CONTENDERS.map((contender) => [contender, { cpuUs: median(runs[contender]), runs: runs[contender] }])) as Record<
      Contender,
      { cpuUs: number; runs: number[] }
    >;
  }
  origin.disconnect();
  process.stdout.write(`${JSON.stringify({ machine: machine(), missCpu: bySize })}\n`);
}
