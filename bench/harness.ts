/** Timing helpers for the benchmarks: rounds, medians, the machine they ran on. */
import os from 'node:os';
import { Agent, type Dispatcher, request } from 'undici';

export interface Measure {
  /** Median over the rounds, in µs per operation. */
  medianUs: number;
  rounds: number[];
  /** This process's CPU time (user and system), median over the rounds, in µs per operation (measureInterleaved only). */
  cpuUs?: number;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `operation` sequentially: `warmup` times, then `rounds` rounds of `perRound`; µs per operation, median of the rounds. */
export async function measure(operation: () => Promise<unknown>, options: { warmup?: number; rounds?: number; perRound?: number } = {}): Promise<Measure> {
  const { warmup = 1000, rounds = 7, perRound = 2000 } = options;
  for (let i = 0; i < warmup; i++) await operation();
  const results: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    for (let i = 0; i < perRound; i++) await operation();
    results.push(((performance.now() - started) * 1000) / perRound);
  }
  return { medianUs: median(results), rounds: results.map((value) => round2(value)) };
}

/**
 * Measures several contenders in turn, round after round, so that the
 * machine's drift (other processes, CPU frequency, GC) touches them alike:
 * the ratios between them are what the benchmarks report.
 */
export async function measureInterleaved(
  operations: Record<string, () => Promise<unknown>>,
  options: { warmup?: number; rounds?: number; perRound?: number } = {},
): Promise<Record<string, Measure>> {
  const { warmup = 5000, rounds = 31, perRound = 1000 } = options;
  const names = Object.keys(operations);
  for (const name of names) {
    const operation = operations[name] as () => Promise<unknown>;
    for (let i = 0; i < warmup; i++) await operation();
  }
  const results = Object.fromEntries(names.map((name) => [name, [] as number[]]));
  const cpu = Object.fromEntries(names.map((name) => [name, [] as number[]]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      const operation = operations[name] as () => Promise<unknown>;
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      for (let i = 0; i < perRound; i++) await operation();
      results[name]?.push(((performance.now() - started) * 1000) / perRound);
      const used = process.cpuUsage(cpuBefore);
      cpu[name]?.push((used.user + used.system) / perRound);
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const values = results[name] as number[];
      return [name, { medianUs: median(values), rounds: values.map(round2), cpuUs: median(cpu[name] as number[]) }];
    }),
  );
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return round2(sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2);
}

export function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

export function machine(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    node: process.version,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
  };
}

/** One GET of `url` through `dispatcher`, its body read: what a hit costs a caller of undici.request. */
export function requestThrough(url: string, dispatcher: Dispatcher): () => Promise<void> {
  return async () => {
    const response = await request(url, { dispatcher });
    await response.body.arrayBuffer();
  };
}

/**
 * The limit of a hit on a network storage: an interceptor that does one read
 * of the storage (`read`), then answers a canned 200 with `body`, as a hit would.
 */
export function floorAfter(read: () => Promise<unknown>, body: Buffer): Dispatcher {
  return new Agent().compose(() => (_opts, handler) => {
    read().then(
      () => {
        const controller = { aborted: false, paused: false, reason: null, rawHeaders: null, rawTrailers: [], abort() {}, pause() {}, resume() {} };
        handler.onRequestStart?.(controller as never, {});
        handler.onResponseStart?.(controller as never, 200, { 'cache-control': 'max-age=3600', 'content-length': String(body.length) }, 'OK');
        handler.onResponseData?.(controller as never, body);
        handler.onResponseEnd?.(controller as never, {});
      },
      (error: unknown) => handler.onResponseError?.(null as never, error as Error),
    );
    return true;
  });
}

/**
 * The floor of a storing cache: pass every response on and keep its body, up
 * to `maxBytes` (oldest out first); no key, no policy, no encoding. `copy`
 * keeps an exact-size copy (the caller's chunks are theirs to change, so a
 * cache must); `shared` keeps the caller's own chunks, as undici's cache
 * does: the two apart are what the copy costs.
 */
export function keepingInterceptor(maxBytes: number, keep: 'copy' | 'shared'): Dispatcher.DispatcherComposeInterceptor {
  const kept = new Map<string, { body: Buffer | Buffer[]; size: number }>();
  let keptBytes = 0;
  return (dispatch) => (opts, handler) => {
    const chunks: Buffer[] = [];
    return dispatch(opts, {
      onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
      onResponseStart: (controller, status, headers, statusText) => handler.onResponseStart?.(controller, status, headers, statusText),
      onResponseData: (controller, chunk) => {
        chunks.push(chunk);
        handler.onResponseData?.(controller, chunk);
      },
      onResponseEnd: (controller, trailers) => {
        handler.onResponseEnd?.(controller, trailers);
        let size = 0;
        for (const chunk of chunks) size += chunk.byteLength;
        let body: Buffer | Buffer[] = chunks;
        if (keep === 'copy') {
          body = Buffer.allocUnsafeSlow(size);
          let offset = 0;
          for (const chunk of chunks) offset += chunk.copy(body, offset);
        }
        kept.set(`${opts.origin}${opts.path}`, { body, size });
        keptBytes += size;
        for (const [key, value] of kept) {
          if (keptBytes <= maxBytes) break;
          kept.delete(key);
          keptBytes -= value.size;
        }
      },
      onResponseError: (controller, error) => handler.onResponseError?.(controller, error),
    });
  };
}
