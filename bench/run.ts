/**
 * `npm run bench`: every benchmark in its own process (Node 24 ones with
 * `npx -y node@24`), the ratios the targets are stated in, a table, and
 * bench/results/latest.json (from which bench/chart.ts draws the README's chart).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_COMPRESSION } from '../lib/options.js';
import { drawHitChart, drawLoadChart } from './chart.js';
import { machine, median, round2 } from './harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dist = join(root, 'dist', 'bench');

function run(node: string, script: string, args: string[] = [], env: Record<string, string> = {}): any {
  process.stderr.write(`… ${script} ${args.join(' ')}${node === process.execPath ? '' : ' (Node 24)'}\n`);
  const output = execFileSync(node, ['--expose-gc', join(dist, script), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(output.trim().split('\n').pop() as string);
}

function node24(): string {
  return execFileSync('npx', ['-y', 'node@24', '-p', 'process.execPath'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .trim()
    .split('\n')
    .pop() as string;
}

/** The three consumers a hit is measured through: undici.request, undici's fetch, the runtime's global fetch (cachette: cache.fetch). */
type Via = 'request' | 'fetch' | 'globalFetch';

/** hit.js in several fresh processes: JIT and GC luck differ from one process to the next, the median of the medians less so. */
function runHits(node: string, contenders: string[], env: Record<string, string> = {}, times = 7): any {
  const runs = Array.from({ length: times }, () => run(node, 'hit.js', contenders, env));
  const results: Record<string, any> = {};
  for (const id of contenders) {
    const pick = (via: Via) => {
      const medians = runs.map((one) => one.results[id][via].medianUs as number);
      return { medianUs: median(medians), runs: medians };
    };
    results[id] = { name: runs[0].results[id].name, request: pick('request'), fetch: pick('fetch'), globalFetch: pick('globalFetch') };
  }
  return { machine: runs[0].machine, results };
}

const n24 = node24();
const n24Env = { NODE_OPTIONS: `--import=${join(root, 'scripts', 'node24-peers.mjs')}` };
/**
 * Each cachette storage is measured with its peer (and the floor) in processes of their own: in one
 * process, two storages behind the same interceptor make its call sites polymorphic and slow both.
 */
function runHitGroups(node: string, groups: string[][], env: Record<string, string> = {}): any {
  const merged: any = { machine: undefined, results: {} };
  for (const group of groups) {
    const result = runHits(node, group, env);
    merged.machine ??= result.machine;
    for (const [id, value] of Object.entries<any>(result.results)) merged.results[id] ??= value;
  }
  return merged;
}
const hit20 = runHitGroups(process.execPath, [
  ['floor', 'undici-memory', 'cachette-memory'],
  ['floor', 'cachette-sqlite'],
]);
const hit24 = runHitGroups(
  n24,
  [
    ['floor', 'undici-memory', 'cachette-memory'],
    ['floor', 'undici-sqlite', 'cachette-sqlite'],
  ],
  n24Env,
);
const dynamodb = run(process.execPath, 'dynamodb.js');
const redis = run(process.execPath, 'redis.js');
const tierInvalidation = run(process.execPath, 'tier-invalidation.js');
const miss = run(process.execPath, 'miss.js');
const missCpu = run(process.execPath, 'miss-cpu.js');
const coldStart = run(process.execPath, 'cold-start.js');
const load = run(process.execPath, 'load.js');
const memory = run(process.execPath, 'memory.js');
const lambda = run(process.execPath, 'lambda.js');
const checksum = run(process.execPath, 'checksum.js');
const compression20 = run(process.execPath, 'compression.js');
const compression24 = run(n24, 'compression.js', [], n24Env);
const stats = run(process.execPath, 'stats.js');

const us = (result: any, contender: string, via: Via) => result.results[contender][via].medianUs as number;
const ratio = (a: number, b: number) => round2(a / b);
const through = (via: Via) =>
  via === 'request' ? 'request' : via === 'fetch' ? "undici's fetch with the dispatcher" : 'cache.fetch vs global fetch with the dispatcher';

interface Target {
  target: string;
  value: string;
  met: boolean;
}
const targets: Target[] = [];
for (const [label, result] of [
  ['Node 20, undici 7', hit20],
  ['Node 24, undici 8', hit24],
] as const) {
  for (const via of ['request', 'fetch', 'globalFetch'] as const) {
    const floor = us(result, 'floor', via);
    const cachette = us(result, 'cachette-memory', via);
    const undici = us(result, 'undici-memory', via);
    // Issue 25: at most 1.2 × the floor through undici.request; the fetches carry fetch's own cost on both sides.
    const bound = via === 'request' ? 1.2 : 1.3;
    // Paired: the ratio in each process (where both ran interleaved, with the same JIT and GC luck and the machine's
    // same moment), the median of those; the processes' own figures show the spread.
    const floorRuns = result.results.floor[via].runs as number[];
    const cachetteRuns = result.results['cachette-memory'][via].runs as number[];
    const perProcess = cachetteRuns.map((value, i) => round2(value / (floorRuns[i] as number)));
    const paired = median(perProcess);
    const spread = `process by process ${perProcess.join(' / ')}; rounds of the floor ${floorRuns.join('/')} µs, of cachette ${cachetteRuns.join('/')} µs`;
    targets.push({
      target: `memory hit ≤ ${bound} × floor (${label}, ${through(via)}; median of the ratios in each process)`,
      value: `${paired} × (${spread})`,
      met: paired <= bound,
    });
    targets.push({
      target: `memory hit ≤ 0.67 × undici MemoryCacheStore (${label}, ${through(via)})`,
      value: `${ratio(cachette, undici)} × (the floor itself: ${ratio(floor, undici)} ×)`,
      met: cachette <= 0.67 * undici,
    });
  }
}
for (const via of ['request', 'fetch', 'globalFetch'] as const) {
  const cachette = us(hit24, 'cachette-sqlite', via);
  const undici = us(hit24, 'undici-sqlite', via);
  targets.push({
    target: `SQLite hit ≤ 0.67 × undici SqliteCacheStore (Node 24, ${through(via)})`,
    value: `${ratio(cachette, undici)} ×`,
    met: cachette <= 0.67 * undici,
  });
}
const dynamoHit = dynamodb.dynamodb.hit;
targets.push({
  target: 'DynamoDB hit: exactly 1 GetItem',
  value: JSON.stringify(dynamoHit.commandsPerHit),
  met: dynamoHit.commandsPerHit.GetItemCommand === 1 && Object.keys(dynamoHit.commandsPerHit).length === 1,
});
targets.push({
  target: 'DynamoDB hit ≤ 1.15 × raw GetItem',
  value: `${ratio(dynamoHit.cachetteHitUs.medianUs, dynamoHit.rawGetItemUs.medianUs)} × (a floor interceptor doing the same GetItem: ${ratio(dynamoHit.floorHitUs.medianUs, dynamoHit.rawGetItemUs.medianUs)} ×)`,
  met: dynamoHit.cachetteHitUs.medianUs <= 1.15 * dynamoHit.rawGetItemUs.medianUs,
});
const redisHit = redis.redis;
targets.push({
  target: 'Redis hit: exactly 1 command (GET)',
  value: JSON.stringify(redisHit.commandsPerHit),
  met: redisHit.commandsPerHit.get === 1 && Object.keys(redisHit.commandsPerHit).length === 1,
});
targets.push({
  target: 'Redis hit ≤ 1.15 × raw GET + one round trip (PING)',
  value: `${redisHit.cachetteHitUs} µs ≤ 1.15 × ${redisHit.rawGetUs} + ${redisHit.pingUs} µs (${ratio(redisHit.cachetteHitUs, redisHit.rawGetUs)} × the raw GET; a floor interceptor doing the same GET: ${ratio(redisHit.floorHitUs, redisHit.rawGetUs)} ×)`,
  met: redisHit.cachetteHitUs <= 1.15 * redisHit.rawGetUs + redisHit.pingUs,
});
for (const [placement, label] of [
  ['ownProcess', 'origin in its own process, 2 KB'],
  ['ownProcess20k', 'origin in its own process, 20 KB'],
  ['sameProcess', 'origin in the same process, 2 KB'],
  ['sameProcess20k', 'origin in the same process, 20 KB'],
] as const) {
  const m = miss.miss[placement];
  const versus = `undici's cache: ${ratio(m.undiciCacheUs.medianUs, m.originUs.medianUs)} ×; a floor that only keeps a copy of each body: ${ratio(m.floorUs.medianUs, m.originUs.medianUs)} ×`;
  targets.push({
    target: `miss ≤ 1.1 × origin only (loopback, ${label})`,
    value: `${ratio(m.cachetteUs.medianUs, m.originUs.medianUs)} × (+${round2(m.cachetteUs.medianUs - m.originUs.medianUs)} µs; ${versus})`,
    met: m.cachetteUs.medianUs <= 1.1 * m.originUs.medianUs,
  });
  targets.push({
    target: `miss ≤ 0.85 × a miss through undici's cache (loopback, ${label})`,
    value: `${ratio(m.cachetteUs.medianUs, m.undiciCacheUs.medianUs)} × (the origin alone: ${ratio(m.originUs.medianUs, m.undiciCacheUs.medianUs)} ×; the copy-keeping floor: ${ratio(m.floorUs.medianUs, m.undiciCacheUs.medianUs)} ×)`,
    met: m.cachetteUs.medianUs <= 0.85 * m.undiciCacheUs.medianUs,
  });
}
// The CPU a miss costs the caller's process: each contender in processes of its own (bench/miss-cpu.ts), the
// spread of the runs beside the medians; the same figures measured in one process, interleaved, for comparison.
for (const [size, placement, label] of [
  ['2048', 'ownProcess', '2 KB'],
  ['20480', 'ownProcess20k', '20 KB'],
] as const) {
  const c = missCpu.missCpu[size];
  const spread = (id: string) => `${c[id].cpuUs} (${Math.min(...c[id].runs)}–${Math.max(...c[id].runs)})`;
  const own = (id: string) => c[id].cpuUs - c.origin.cpuUs;
  const together = miss.miss[placement];
  targets.push({
    target: `CPU of a miss in the caller's process ≤ 0.85 × through undici's cache (loopback, origin in its own process, ${label}; one contender per process)`,
    value: `${ratio(c.cachette.cpuUs, c.undici.cpuUs)} × (${c.cachette.cpuUs} vs ${c.undici.cpuUs} µs; undici's client alone ${c.origin.cpuUs} µs)`,
    met: c.cachette.cpuUs <= 0.85 * c.undici.cpuUs,
  });
  targets.push({
    target: `CPU of a miss in the caller's process ≤ 1.1 × through undici's cache (loopback, origin in its own process, ${label}; one contender per process)`,
    value:
      `${ratio(c.cachette.cpuUs, c.undici.cpuUs)} × (µs, median of ${c.cachette.runs.length} processes each, range: cachette ${spread('cachette')}, undici's cache ${spread('undici')}, ` +
      `undici's client alone ${spread('origin')}, floor keeping a copy ${spread('floor')}, floor keeping the caller's chunks ${spread('floorShared')}; ` +
      `the caches' own part ${round2(own('cachette'))} vs ${round2(own('undici'))} µs; in one process, interleaved: ${ratio(together.cachetteUs.cpuUs, together.undiciCacheUs.cpuUs)} ×)`,
    met: c.cachette.cpuUs <= 1.1 * c.undici.cpuUs,
  });
}
targets.push({ target: '100 concurrent misses → 1 origin request', value: `${miss.coalescing.originRequests}`, met: miss.coalescing.originRequests === 1 });
/** The first and third quartiles of a list, as `a to b`. */
const middleHalf = (values: number[]): string => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return `${round2(at(0.25))} to ${round2(at(0.75))}`;
};
for (const [ours, pair] of Object.entries<any>(coldStart.coldStartPairs)) {
  targets.push({
    target: `cold start: import('${ours}')${ours === 'cachette' ? ' and createCache()' : ''} ≤ import('${pair.against}') + 15 ms (paired runs, median)`,
    value: `+${pair.medianExtraMs} ms${Array.isArray(pair.extraMs) ? ` (${pair.extraMs.length} pairs; their middle half ${middleHalf(pair.extraMs)} ms)` : ''}`,
    met: pair.medianExtraMs <= 15,
  });
}
{
  const c = load.load.contenders;
  const rps = (id: string): number => c[id].requestsPerSecond;
  /**
   * Two load contenders compared round by round (each round runs every contender once, in turn): the median of
   * the rounds' ratios, which a machine that slows down during the run (seen: a third round 23–47% below the
   * first) touches far less than a ratio of each contender's own median round.
   */
  const paired = (ours: { rounds: number[]; requestsPerSecond: number }, theirs: { rounds: number[]; requestsPerSecond: number }) => {
    const each = ours.rounds.map((value, i) => value / (theirs.rounds[i] as number));
    const value = each.length === theirs.rounds.length && each.length > 0 ? median(each) : ours.requestsPerSecond / theirs.requestsPerSecond;
    return {
      value,
      text: `${round2(value)} × (round by round ${each.map(round2).join(' / ')}; median rounds ${ours.requestsPerSecond} vs ${theirs.requestsPerSecond} req/s`,
    };
  };
  const memory = paired(c['cachette-memory'], c['undici-memory']);
  targets.push({
    target: "under load: cachette on MemoryStorage ≥ 1.3 × undici's cache (MemoryCacheStore), requests per second",
    value: `${memory.text}; no cache ${rps('none')})`,
    met: memory.value >= 1.3,
  });
  const m = load.load.mixed;
  for (const suffix of ['', '@24']) {
    const plain = m[`fetch${suffix}`];
    const ours = m[`cachette-fetch${suffix}`];
    // What fetch with a dispatcher costs, apart from the cache: the runtime's fetch given an undici Agent, and cache.fetch of a disabled cache.
    const split = (id: string) => (m[`${id}${suffix}`] === undefined ? '' : `; ${id} ${round2(paired(m[`${id}${suffix}`], plain).value)} ×`);
    const fetching = paired(ours, plain);
    targets.push({
      target: `under load, about 40% hits: cache.fetch ≥ the runtime's own fetch with no cache (Node ${suffix === '' ? '20' : '24'}), requests per second`,
      value: `${fetching.text}; hit ratio ${ours.hitRatio}${split('fetch-agent')}${split('cachette-fetch-disabled')})`,
      met: fetching.value >= 1,
    });
  }
  const redis = paired(c['cachette-redis-tier'], c['undici-cache-redis']);
  targets.push({
    // undici-cache-redis keeps a client-side copy in memory (Redis tracking): the like-for-like is cachette's memory tier.
    target: 'under load: cachette on Redis (with its memory tier) ≥ the best Redis-backed peer (undici-cache-redis)',
    value: `${redis.text}; RedisStorage alone ${rps('cachette-redis')})`,
    met: redis.value >= 1,
  });
  const tier = paired(c['cachette-redis-tier'], c['cachette-memory']);
  targets.push({
    target: 'under load: RedisStorage with a memory tier within 10% of MemoryStorage alone',
    value: `${tier.text})`,
    met: tier.value >= 0.9,
  });
  // Each contender's p99 is the median of its rounds' (one round's p99 is a handful of requests: a GC pause, the
  // machine's moment); older results without the rounds' p99 use the median round's.
  const p99 = (figures: any): number => (Array.isArray(figures.p99Rounds) ? median(figures.p99Rounds) : figures.p99Ms);
  const p99Text = (figures: any): string => `${p99(figures)} ms${Array.isArray(figures.p99Rounds) ? ` (rounds ${figures.p99Rounds.join('/')})` : ''}`;
  const worst = Object.entries<any>(c)
    // Node 20 against Node 20: the @24 contenders run on another runtime than the no-cache one.
    .filter(([id]) => id.startsWith('cachette') && !id.endsWith('@24'))
    .sort((a, b) => p99(b[1]) - p99(a[1]))[0] as [string, any];
  targets.push({
    target: 'under load: no cachette contender has a p99 above the no-cache contender’s (median of the rounds’ p99)',
    value: `worst ${worst[0]} ${p99Text(worst[1])} vs no cache ${p99Text(c.none)}`,
    met: p99(worst[1]) <= p99(c.none),
  });
}
const loads = coldStart.coldStart.cachette.packages as string[];
targets.push({
  target: "import('cachette') and createCache() load neither the AWS SDK, better-sqlite3 nor msgpackr (MemoryStorage never encodes)",
  value: loads.join(', '),
  met: !loads.some((name) => name.startsWith('@aws-sdk') || name === 'better-sqlite3' || name === 'msgpackr'),
});
targets.push({
  target: 'MemoryStorage stays within maxBytes under 100,000 URLs',
  value: `${memory.memory.peakStoredBytes} ≤ ${memory.memory.maxBytes}`,
  met: memory.memory.withinBound,
});

{
  const t = tierInvalidation.tierInvalidation;
  targets.push({
    target: "a memory tier on Redis drops what another process purged within one round trip of the purge (p99: at most the purge call's own p99 + 1 ms)",
    value: `from the start of A's purge to B's memory dropping the URL: p50 ${t.p50Ms} ms, p99 ${t.p99Ms} ms (A's purge call: p50 ${t.purgeP50Ms}, p99 ${t.purgeP99Ms} ms; ${t.rounds} purges)`,
    met: t.p99Ms <= t.purgeP99Ms + 1,
  });
}

{
  // The default codec: one every supported Node has, storing within 5% of the fewest bytes, whose hit decodes fastest.
  const codecs20 = compression20.compression.codecs as Record<string, { bytes: number; decodeUs: number }>;
  const everywhere = Object.entries(codecs20).filter(([name]) => name !== 'none');
  const fewest = Math.min(...everywhere.map(([, figures]) => figures.bytes));
  const chosen = everywhere.filter(([, figures]) => figures.bytes <= fewest * 1.05).sort((a, b) => a[1].decodeUs - b[1].decodeUs)[0]?.[0];
  const describeCodec = (name: string, figures: { bytes: number; decodeUs: number }) => `${name} ${figures.bytes} B, hit decode ${figures.decodeUs} µs`;
  targets.push({
    target: 'compression: the default codec is the one the figures choose (on every supported Node; within 5% of the fewest bytes; fastest hit decode)',
    value: `default ${DEFAULT_COMPRESSION.codec}, figures choose ${chosen} (13 KB JSON: ${Object.entries(
      compression24.compression.codecs as Record<string, { bytes: number; decodeUs: number }>,
    )
      .map(([name, figures]) => describeCodec(name, figures))
      .join('; ')}, Node 24)`,
    met: chosen === DEFAULT_COMPRESSION.codec,
  });
}

const results = {
  date: new Date().toISOString(),
  machine: machine() as { cpu: string; cores: number },
  node24: hit24.machine.node,
  hit: { node20: hit20.results, node24: hit24.results },
  dynamodb: dynamodb.dynamodb,
  redis: redis.redis,
  miss: miss.miss,
  missCpu: missCpu.missCpu,
  coalescing: miss.coalescing,
  coldStart: coldStart.coldStart,
  coldStartPairs: coldStart.coldStartPairs,
  load: load.load,
  memory: memory.memory,
  lambda: lambda.lambda,
  checksum: checksum.checksum,
  compression: { node20: compression20.compression, node24: compression24.compression },
  tierInvalidation: tierInvalidation.tierInvalidation,
  stats: stats.stats,
  targets,
};
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(root, 'bench', 'results', 'hit-cost.svg'), drawHitChart(results));
writeFileSync(join(root, 'bench', 'results', 'load.svg'), drawLoadChart(results));

const rows: Array<[string, string, string, string, string]> = [];
for (const [label, result] of [
  ['Node 20', hit20],
  ['Node 24', hit24],
] as const) {
  for (const value of Object.values<any>(result.results))
    rows.push([`hit ${label}`, value.name, `${value.request.medianUs} µs`, `${value.fetch.medianUs} µs`, `${value.globalFetch.medianUs} µs`]);
}
console.log("\nHit cost (median µs per request; undici.request | undici's fetch with the dispatcher | global fetch: cache.fetch for cachette)");
for (const row of rows) console.log(`  ${row[0].padEnd(12)} ${row[1].padEnd(48)} ${row[2].padStart(12)} ${row[3].padStart(12)} ${row[4].padStart(12)}`);
console.log(
  `\nDynamoDB: raw GetItem ${dynamoHit.rawGetItemUs.medianUs} µs, floor interceptor doing it ${dynamoHit.floorHitUs.medianUs} µs, cachette hit ${dynamoHit.cachetteHitUs.medianUs} µs`,
);
console.log(
  `Clear ${dynamodb.dynamodb.clear.entries}: cachette ${dynamodb.dynamodb.clear.cachette.ms} ms ${JSON.stringify(dynamodb.dynamodb.clear.cachette.commands)}; hand-written ${dynamodb.dynamodb.clear.handWritten.ms} ms ${JSON.stringify(dynamodb.dynamodb.clear.handWritten.commands)}`,
);
for (const placement of ['ownProcess', 'ownProcess20k', 'sameProcess', 'sameProcess20k']) {
  const m = miss.miss[placement];
  console.log(
    `Miss (${placement}): origin only ${m.originUs.medianUs} µs, floor keeping a copy ${m.floorUs.medianUs} µs, cachette ${m.cachetteUs.medianUs} µs, undici's cache ${m.undiciCacheUs.medianUs} µs (CPU in this process: ${m.originUs.cpuUs}, ${m.floorUs.cpuUs}, ${m.cachetteUs.cpuUs}, ${m.undiciCacheUs.cpuUs} µs)`,
  );
}
console.log(
  `Cold start: ${Object.entries<any>(coldStart.coldStart)
    .map(([name, value]) => `${name} ${value.medianMs} ms`)
    .join(', ')}`,
);
console.log(`Memory: ${JSON.stringify(memory.memory)}`);
console.log(`Under load (${load.load.connections} connections, ${load.load.urls} URLs, ${load.load.seconds} s each; req/s, p50/p99 ms, hit ratio, RSS MiB):`);
for (const [id, r] of [...Object.entries<any>(load.load.contenders), ...Object.entries<any>(load.load.mixed).map(([id, r]) => [`${id} (40% hits)`, r])]) {
  console.log(
    `  ${id.padEnd(22)} ${String(r.requestsPerSecond).padStart(7)} req/s  ${r.p50Ms}/${r.p99Ms} ms  hits ${r.hitRatio}  ${r.rssMiB} MiB${r.errors > 0 ? `  ${r.errors} errors` : ''}`,
  );
}
console.log(
  `Redis: PING ${redisHit.pingUs} µs, raw GET ${redisHit.rawGetUs} µs, floor interceptor doing it ${redisHit.floorHitUs} µs, cachette hit ${redisHit.cachetteHitUs} µs`,
);
console.log(
  `Record checksum (decode with the CRC-32 | the CRC-32 alone): ${Object.entries<any>(checksum.checksum)
    .map(([size, value]) => `${size} ${value.decodeUs} µs | ${value.crcUs} µs`)
    .join(', ')}`,
);
for (const [label, figures] of [
  ['Node 20', compression20.compression],
  ['Node 24', compression24.compression],
] as const) {
  console.log(
    `Compressed records, ${label}, ${figures.bodyBytes} B of JSON (bytes stored | write CPU | hit decode): ${Object.entries<any>(figures.codecs)
      .map(([name, value]) => `${name} ${value.bytes} B | ${value.encodeUs} µs | ${value.decodeUs} µs`)
      .join(', ')}`,
  );
}
console.log(
  `Stats (always on): counting per hit ${stats.stats.countingPerHitNs.toFixed(1)} ns of a ${stats.stats.hitUs.toFixed(1)} µs hit; with an observer ${stats.stats.hitObservedUs.toFixed(1)} µs; stats() ${(stats.stats.snapshotNs / 1000).toFixed(2)} µs`,
);
console.log(`Lambda: bundle ${lambda.lambda.bundleKiB} KiB; first response after process start: ${JSON.stringify(lambda.lambda.firstResponseMs)} ms`);
console.log('\nTargets');
for (const target of targets) console.log(`  ${target.met ? 'met   ' : 'MISSED'} ${target.target}: ${target.value}`);
console.log(`\nwrote bench/results/latest.json, hit-cost.svg and load.svg (${results.machine.cpu}, ${results.machine.cores} cores)`);
