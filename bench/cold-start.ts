/**
 * Cold start: the time a fresh process takes to import each entry point, and
 * the packages each one loads. Prints one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, median } from './harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RUNS = 7;

function importTime(specifier: string): number {
  const source = `const t = performance.now(); await import(${JSON.stringify(specifier)}); console.log(performance.now() - t);`;
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', source], { cwd: root, encoding: 'utf8' }).trim());
}

function packagesLoaded(specifier: string): string[] {
  const folder = mkdtempSync(join(tmpdir(), 'cachette-loads-'));
  const file = join(folder, 'loads.txt');
  try {
    execFileSync(
      process.execPath,
      ['--import', join(root, 'bench', 'trace-loads.mjs'), '--input-type=module', '-e', `await import(${JSON.stringify(specifier)});`],
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

const entries: Record<string, { medianMs: number; packages: string[] }> = {};
for (const specifier of ['cachette', 'cachette/dynamodb', '@aws-sdk/client-dynamodb', 'undici']) {
  const times = Array.from({ length: RUNS }, () => importTime(specifier));
  entries[specifier] = { medianMs: median(times), packages: packagesLoaded(specifier) };
}
process.stdout.write(`${JSON.stringify({ machine: machine(), coldStart: entries })}\n`);
