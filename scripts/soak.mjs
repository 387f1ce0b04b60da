#!/usr/bin/env node
// The reliability suite, longer: `npm run soak` runs spec/reliability with
// every request count multiplied (CACHETTE_SOAK, default 10), collects the
// figures each spec prints, and ends with them as a table.
//
//   npm run soak                 ten times the requests of `npm test`
//   CACHETTE_SOAK=50 npm run soak
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'cachette-soak-'));
const figures = join(work, 'figures.jsonl');
const folder = join(root, 'dist', 'spec', 'reliability');
const specs = readdirSync(folder)
  .filter((name) => name.endsWith('.spec.js'))
  .map((name) => join(folder, name));
const result = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules', 'mocha', 'bin', 'mocha.js'),
    '--no-config',
    '--require',
    join(root, 'dist', 'spec', 'hooks.js'),
    '--timeout',
    '1800000',
    '--reporter',
    'spec',
    ...specs,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, CACHETTE_SOAK: process.env.CACHETTE_SOAK ?? '10', CACHETTE_FIGURES: figures } },
);

if (existsSync(figures)) {
  console.log('\nFigures (requests, faults injected, failures, wrong bodies, p99 added latency):');
  for (const line of readFileSync(figures, 'utf8').trim().split('\n')) {
    const { name, ...fields } = JSON.parse(line);
    console.log(
      `  ${name.padEnd(60)} ${Object.entries(fields)
        .map(([key, value]) => `${key}=${value}`)
        .join(' ')}`,
    );
  }
}
rmSync(work, { recursive: true, force: true });
process.exit(result.status ?? 1);
