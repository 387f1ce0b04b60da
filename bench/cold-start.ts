/**
 * Cold start: the time a fresh process takes to import each entry point (and,
 * for cachette, to make one cache), the packages each one loads, and the
 * difference to what it is compared with (cachette to undici, cachette/dynamodb
 * to the AWS SDK alone), measured in pairs run one after the other, so the
 * machine's moment weighs on both alike. Prints one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, median } from './harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/**
 * Pairs per comparison: a fresh process's import time varies by ±10 ms on a busy 2-core VM, and one run's median
 * over 21 pairs once read +28.9 ms where the runs before read +5.0 to +10.5 (its two sides 15 ms slower than usual):
 * 41, the comparisons taking turns.
 */
const RUNS = 41;

/** `cachette` makes a cache too: what a program does before its first request. */
function importTime(specifier: string): number {
  const make = makes(specifier);
  const source = `const t = performance.now(); const m = await import(${JSON.stringify(specifier)}); ${make} console.log(performance.now() - t);`;
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', source], { cwd: root, encoding: 'utf8' }).trim());
}

/** What the measured program does after the import: for cachette, make one cache. */
function makes(specifier: string): string {
  return specifier === 'cachette' ? 'm.createCache();' : '';
}

function packagesLoaded(specifier: string): string[] {
  const folder = mkdtempSync(join(tmpdir(), 'cachette-loads-'));
  const file = join(folder, 'loads.txt');
  try {
    execFileSync(
      process.execPath,
      [
        '--import',
        join(root, 'bench', 'trace-loads.mjs'),
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(specifier)}); ${makes(specifier)}`,
      ],
      {
        cwd: root,
        env: { ...process.env, CACHETTE_TRACE_LOADS: file, NODE_OPTIONS: '' },
      },
    );
    return [...new Set(readFileSync(file, 'utf8').trim().split('\n').filter(Boolean))].sort();
  } catch {
    return [];
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

const comparisons = [
  ['cachette', 'undici'],
  ['cachette/dynamodb', '@aws-sdk/client-dynamodb'],
] as const;
const times: Record<string, number[]> = Object.fromEntries(comparisons.flat().map((specifier) => [specifier, []]));
const extra: Record<string, number[]> = Object.fromEntries(comparisons.map(([ours]) => [ours, []]));
for (let i = 0; i < RUNS; i++) {
  // The comparisons take turns, pair by pair: a slow spell of the machine weighs on both, not on whichever ran in it.
  for (const [ours, theirs] of comparisons) {
    // Every other pair the other way round: neither always runs first (a warmer page cache, a quieter moment).
    let theirTime: number;
    let ourTime: number;
    if (i % 2 === 0) {
      theirTime = importTime(theirs);
      ourTime = importTime(ours);
    } else {
      ourTime = importTime(ours);
      theirTime = importTime(theirs);
    }
    times[theirs]?.push(theirTime);
    times[ours]?.push(ourTime);
    extra[ours]?.push(ourTime - theirTime);
  }
}
const entries: Record<string, { medianMs: number; packages: string[] }> = {};
const pairs: Record<string, { against: string; medianExtraMs: number; extraMs: number[] }> = {};
for (const [ours, theirs] of comparisons) {
  for (const specifier of [ours, theirs]) entries[specifier] = { medianMs: median(times[specifier] ?? []), packages: packagesLoaded(specifier) };
  const each = extra[ours] ?? [];
  pairs[ours] = { against: theirs, medianExtraMs: Math.round(median(each) * 10) / 10, extraMs: each.map((ms) => Math.round(ms * 10) / 10) };
}
process.stdout.write(`${JSON.stringify({ machine: machine(), coldStart: entries, coldStartPairs: pairs })}\n`);
