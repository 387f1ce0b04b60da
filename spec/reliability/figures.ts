/**
 * What the reliability specs measure and print (one line each, for the
 * docs/failure-and-safety.md), and how long they run: `npm test` runs a
 * short version, `npm run soak` a longer one (CACHETTE_SOAK=n multiplies the
 * request counts).
 */
import { appendFileSync } from 'node:fs';

const SOAK = Math.max(1, Number(process.env['CACHETTE_SOAK'] ?? '1') || 1);

/** `count` requests in the short run, `count × SOAK` in a soak. */
export function scaled(count: number): number {
  return Math.round(count * SOAK);
}

export interface Figure {
  requests: number;
  faults: number;
  failures: number;
  /** Extra latency at the 99th percentile over a fault-free run of the same requests, ms. */
  p99AddedMs?: number;
  [detail: string]: number | string | undefined;
}

/** Prints a figure; with CACHETTE_FIGURES=file, also appends it there as a JSON line. */
export function report(name: string, figure: Figure): void {
  const fields = Object.entries(figure)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${value}`);
  console.log(`      figure: ${name}: ${fields.join(' ')}`);
  const file = process.env['CACHETTE_FIGURES'];
  if (file !== undefined && file !== '') appendFileSync(file, `${JSON.stringify({ name, ...figure })}\n`);
}

/** The value at quantile `q` (0..1) of `values`. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Runs `tasks` with at most `concurrency` at a time; resolves with their results in order. */
export async function pool<T>(tasks: Array<() => Promise<T>>, concurrency: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await (tasks[index] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}
