#!/usr/bin/env node
// Runs the whole suite twice: on this machine's Node (20, with undici 7) and on
// Node 24 with undici 8 and better-sqlite3 13 (Node fetched with `npx -y node@24`;
// the peers swapped in by scripts/node24-peers.mjs). Ends with one
// line, "N passed, N failed", the totals of both runs.
//
// Then the HTTP and fetch specs once more with every cache on Redis (a real
// redis-server, installed by scripts/ensure-redis.mjs where it can be).
//
//   node scripts/test.mjs [mocha args...]      both runtimes, and the Redis run
//   node scripts/test.mjs --runtime=current    this Node only (quicker, for development)
//   node scripts/test.mjs --runtime=redis      only the Redis run
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runtimeArg = args.find((arg) => arg.startsWith('--runtime='));
const mochaArgs = args.filter((arg) => arg !== runtimeArg);
const only = runtimeArg?.split('=')[1];
const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const work = mkdtempSync(join(tmpdir(), 'cachette-test-'));

function node24() {
  // npx caches the download; later runs only resolve the path.
  const out = execFileSync('npx', ['-y', 'node@24', '-p', 'process.execPath'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop();
}

const runs = [];
if (only === undefined || only === 'current') {
  runs.push({ label: `Node ${process.version}, undici 7`, node: process.execPath, env: {}, args: [] });
}
if (only === undefined || only === '24') {
  const node = node24();
  runs.push({
    label: 'Node 24, undici 8',
    node,
    env: {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${join(root, 'scripts', 'node24-peers.mjs')}`.trim(),
      CACHETTE_EXPECT_UNDICI: '8',
    },
    args: [],
  });
}
if (only === undefined || only === 'redis') {
  spawnSync(process.execPath, [join(root, 'scripts', 'ensure-redis.mjs')], { cwd: root, stdio: 'inherit' });
  runs.push({
    label: `HTTP and fetch specs on Redis, Node ${process.version}`,
    node: process.execPath,
    env: { CACHETTE_TEST_STORAGE: 'redis' },
    args: ['--config', join(root, 'scripts', 'mocharc-redis.json')],
  });
}

/**
 * Runs mocha and waits for it to exit. Once it has written its totals it has
 * EXIT_GRACE_MS to exit, or it is killed and counted as one failure: a
 * handle left open, or Node 24's deadlock while exiting (nodejs/node#54918),
 * must make the run fail, not hang CI.
 */
const EXIT_GRACE_MS = 60_000;
function runMocha(run, stats) {
  return new Promise((resolve) => {
    const child = spawn(run.node, [mocha, ...run.args, ...mochaArgs], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ...run.env, CACHETTE_TEST_STATS: stats },
    });
    let killer;
    const watch = setInterval(() => {
      if (killer !== undefined || !existsSync(stats)) return;
      killer = setTimeout(() => {
        console.error(`mocha wrote its totals but had not exited ${EXIT_GRACE_MS / 1000} s later (a handle left open, or nodejs/node#54918): killed`);
        child.kill('SIGKILL');
      }, EXIT_GRACE_MS);
    }, 1000);
    child.on('error', (error) => {
      // It could not be started: no 'exit' follows.
      clearInterval(watch);
      console.error(`mocha could not be started: ${error.message}`);
      resolve({ status: null, signal: null, killed: false });
    });
    child.on('exit', (status, signal) => {
      clearInterval(watch);
      clearTimeout(killer);
      resolve({ status, signal, killed: killer !== undefined && signal === 'SIGKILL' });
    });
  });
}

let passed = 0;
let failed = 0;
for (const [index, run] of runs.entries()) {
  const stats = join(work, `stats-${index}.json`);
  console.log(`\n=== ${run.label} (${run.node})`);
  const result = await runMocha(run, stats);
  if (existsSync(stats)) {
    const totals = JSON.parse(readFileSync(stats, 'utf8'));
    passed += totals.passes;
    failed += totals.failures;
    if (result.status !== 0 && totals.failures === 0) {
      // Killed at exit (above), or failing after its last spec (a teardown): one failure, so it cannot pass silently.
      if (!result.killed) console.error(`mocha exited (${result.status ?? result.signal}) after reporting no failures`);
      failed += 1;
    }
  } else {
    // The runner died before reporting: count the run as one failure so it cannot pass silently.
    console.error(`mocha exited (${result.status ?? result.signal}) without totals`);
    failed += 1;
  }
}
rmSync(work, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
