/**
 * Hit cost: the same 2 KB response served from each cache, through
 * undici.request, undici's fetch and the runtime's global fetch (cachette's
 * `cache.fetch`), against a floor interceptor that answers a canned response
 * with no storage and no policy (the limit of the path).
 * argv: contenders to run (memory floor undici-memory cachette-memory cachette-sqlite undici-sqlite).
 * Prints one JSON line.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import * as undici from 'undici';
import { createCache, type HttpCache } from '../lib/cache.js';
import { undiciAdapter } from '../lib/interceptor/undici/index.js';
import { SqliteStorage } from '../lib/storage/sqlite.js';
import { type Measure, machine, measureInterleaved } from './harness.js';

const BODY = Buffer.alloc(2048, 'x');
// The floor answers what the caches store: the origin's headers, Date included.
const HEADERS = { 'content-type': 'text/plain', 'cache-control': 'max-age=3600', 'content-length': String(BODY.length), date: new Date().toUTCString() };

function floorInterceptor(): Dispatcher.DispatcherComposeInterceptor {
  const rawHeaders = Object.entries(HEADERS).flatMap(([name, value]) => [Buffer.from(name), Buffer.from(value)]);
  return () => (_opts, handler) => {
    const controller = { aborted: false, paused: false, reason: null, rawHeaders, rawTrailers: [], abort() {}, pause() {}, resume() {} };
    handler.onRequestStart?.(controller, {});
    // Object.assign, not spread (a spread of these names is several times slower in V8: the floor would be no floor).
    handler.onResponseStart?.(controller, 200, Object.assign({}, HEADERS), 'OK');
    handler.onResponseData?.(controller, BODY);
    handler.onResponseEnd?.(controller, {});
    return true;
  };
}

interface Opened {
  dispatcher: Dispatcher;
  /** cachette's own `cache.fetch`: the runtime's global fetch through the cache. */
  cacheFetch?: (url: string) => Promise<Response>;
  close: () => Promise<void>;
}

interface Contender {
  name: string;
  dispatcher: () => Promise<Opened>;
}

const folder = mkdtempSync(join(tmpdir(), 'cachette-bench-'));
const undiciStores = (undici as unknown as { cacheStores: Record<string, new (options?: object) => object> }).cacheStores;

/** A cachette contender: its interceptor on an agent of its own, and its cache.fetch. */
function openCachette(cache: HttpCache): Opened {
  const agent = new undici.Agent();
  return {
    dispatcher: agent.compose(cache.interceptor()),
    cacheFetch: (target) => cache.fetch(target),
    close: async () => {
      await agent.close();
      await cache.close();
    },
  };
}

const contenders: Record<string, Contender> = {
  floor: {
    name: 'floor (canned response)',
    dispatcher: async () => {
      const agent = new undici.Agent();
      return { dispatcher: agent.compose(floorInterceptor()), close: () => agent.close() };
    },
  },
  'undici-memory': {
    name: 'undici interceptors.cache + MemoryCacheStore',
    dispatcher: async () => {
      const agent = new undici.Agent();
      const store = new (undiciStores['MemoryCacheStore'] as new () => object)();
      return { dispatcher: agent.compose(undici.interceptors.cache({ store } as never)), close: () => agent.close() };
    },
  },
  'cachette-memory': {
    name: 'cachette + MemoryStorage',
    dispatcher: async () => openCachette(createCache()),
  },
  'cachette-sqlite': {
    name: 'cachette + SqliteStorage',
    dispatcher: async () => openCachette(createCache({ storage: new SqliteStorage({ path: join(folder, `cachette-${Date.now()}.db`) }) })),
  },
  'undici-sqlite': {
    name: 'undici interceptors.cache + SqliteCacheStore',
    dispatcher: async () => {
      const Store = undiciStores['SqliteCacheStore'] as new (options: object) => object;
      const agent = new undici.Agent();
      const store = new Store({ location: join(folder, `undici-${Date.now()}.db`) });
      return { dispatcher: agent.compose(undici.interceptors.cache({ store } as never)), close: () => agent.close() };
    },
  },
};

const server = http.createServer((_req, res) => {
  res.writeHead(200, HEADERS);
  res.end(BODY);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/data`;

const opened: Array<Opened & { id: string; name: string }> = [];
for (const id of process.argv.slice(2)) {
  const contender = contenders[id];
  if (contender === undefined) throw new Error(`unknown contender ${id}`);
  opened.push({ id, name: contender.name, ...(await contender.dispatcher()) });
}
const viaRequest = (dispatcher: Dispatcher) => async () => {
  const response = await undici.request(url, { dispatcher });
  if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
  await response.body.arrayBuffer();
};
const viaFetch = (dispatcher: Dispatcher) => async () => {
  const response = await undici.fetch(url, { dispatcher });
  await response.arrayBuffer();
};
// The first request fills each cache; from then on, everything is a hit.
for (const { dispatcher } of opened) await viaRequest(dispatcher)();
await new Promise((resolve) => setTimeout(resolve, 100));
const byRequest = await measureInterleaved(Object.fromEntries(opened.map(({ id, dispatcher }) => [id, viaRequest(dispatcher)])));
// undici's fetch with each dispatcher, in interleaved rounds.
const byFetch = await measureInterleaved(Object.fromEntries(opened.map(({ id, dispatcher }) => [id, viaFetch(dispatcher)])), { perRound: 1000 });
// The runtime's global fetch: cachette's cache.fetch, the others with their dispatcher (as a user of them writes it).
const globalFetches: Record<string, () => Promise<unknown>> = {};
for (const { id, dispatcher, cacheFetch } of opened) {
  const init: Record<string, unknown> = { dispatcher: undiciAdapter.forEveryConsumer(dispatcher) };
  const fetcher = cacheFetch ?? ((target: string) => globalThis.fetch(target, init));
  const first = await fetcher(url);
  await first.arrayBuffer();
  if (id.startsWith('cachette') && first.headers.get('cache-status')?.includes('hit') !== true) throw new Error(`${id} through the global fetch: not a hit`);
  globalFetches[id] = async () => {
    const response = await fetcher(url);
    await response.arrayBuffer();
  };
}
const byGlobalFetch = await measureInterleaved(globalFetches, { perRound: 1000 });
const results: Record<string, { name: string; request: Measure; fetch: Measure; globalFetch: Measure }> = {};
for (const { id, name, close } of opened) {
  results[id] = { name, request: byRequest[id] as Measure, fetch: byFetch[id] as Measure, globalFetch: byGlobalFetch[id] as Measure };
  await close();
}
server.close();
rmSync(folder, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ machine: machine(), results })}\n`);
