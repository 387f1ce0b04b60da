#!/usr/bin/env node
// undici's own cache tests as a peer score, read from a checkout of undici
// (github.com/nodejs/undici: they are not ours to copy here), beside undici's
// own result in the same run:
//
// - its interceptor tests (test/interceptors/cache*.js and
//   test/cache-interceptor/issue-4209.js) against undici's `interceptors.cache`,
//   then against cachette's interceptor in its place (scripts/undici-tests/interceptor.mjs);
// - its CacheStore suite (test/cache-interceptor/cache-store-test-utils.js)
//   against undici's MemoryCacheStore and SqliteCacheStore, then against
//   cachette/undici-store on memory, SQLite, Redis (a redis-server of its own)
//   and DynamoDB Local (started as the specs start it).
//
// Prints the scores and every test cachette fails, with the assertion and its
// line; docs/undici-tests.md says why of each.
//
//   npm run build
//   git clone https://github.com/nodejs/undici && (cd undici && npm install)
//   node scripts/undici-tests.mjs ./undici [--only=interceptor|store]
//
// undici's tests need the Node its package.json asks for (undici 8: Node >= 22.19;
// `npx -y node@24 scripts/undici-tests.mjs ./undici` where the Node is older).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const only = args.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
const given = args.find((arg) => !arg.startsWith('--')) ?? process.env.UNDICI_DIR;
if (given === undefined || (only !== undefined && only !== 'interceptor' && only !== 'store')) {
  console.error('usage: node scripts/undici-tests.mjs <a checkout of github.com/nodejs/undici, npm-installed> [--only=interceptor|store]');
  process.exit(2);
}
const checkout = resolve(given);
const root = resolve(new URL('..', import.meta.url).pathname);
const dist = join(root, 'dist');
const here = join(root, 'scripts', 'undici-tests');

function fail(message) {
  console.error(message);
  process.exit(1);
}

const manifestPath = join(checkout, 'package.json');
const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : undefined;
if (manifest?.name !== 'undici') fail(`${checkout} is not a checkout of undici (no package.json named "undici")`);
const needed = /(\d+)\.(\d+)/.exec(manifest.engines?.node ?? '');
const [major, minor] = process.versions.node.split('.').map(Number);
if (needed !== null && (major < Number(needed[1]) || (major === Number(needed[1]) && minor < Number(needed[2])))) {
  fail(`undici ${manifest.version}'s tests need Node ${manifest.engines.node}; this is ${process.version}: npx -y node@24 scripts/undici-tests.mjs ${given}`);
}
try {
  createRequire(join(checkout, 'index.js')).resolve('@sinonjs/fake-timers');
} catch {
  fail(`undici's test dependencies are not installed: (cd ${given} && npm install)`);
}
if (!existsSync(join(dist, 'lib', 'index.js'))) fail('cachette is not built: npm run build');

/** The results of one `node --test` run of `files`: one record per test (see undici-tests/reporter.mjs). */
function runTests(files, env = {}, imports = []) {
  const folder = mkdtempSync(join(tmpdir(), 'undici-tests-'));
  const out = join(folder, 'results.jsonl');
  const options = imports.map((path) => `--import=${pathToFileURL(path).href}`).join(' ');
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      ['--test', '--test-timeout=60000', `--test-reporter=${pathToFileURL(join(here, 'reporter.mjs')).href}`, `--test-reporter-destination=${out}`, ...files],
      {
        cwd: checkout,
        env: { ...process.env, ...env, UNDICI_CHECKOUT: checkout, CACHETTE_DIST: dist, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${options}`.trim() },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    // A file that never ends is reported as such, not waited for.
    const timer = setTimeout(() => child.kill('SIGKILL'), 15 * 60_000);
    child.on('exit', () => {
      clearTimeout(timer);
      const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
      rmSync(folder, { recursive: true, force: true });
      done(
        text
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line)),
      );
    });
  });
}

const idOf = (result) => `${relative(checkout, result.file ?? '')} › ${result.path.join(' › ')}`;
const passed = (results) => results.filter((result) => result.status === 'pass').length;
const score = (results) => (results.length === 0 ? 'did not run' : `${passed(results)}/${results.length}`);

function failures(results) {
  return results
    .filter((result) => result.status === 'fail')
    .map((result) => `- ${idOf(result)}\n  ${result.error}${result.at === undefined ? '' : ` (${result.at})`}`)
    .join('\n');
}

console.log(`undici ${manifest.version} at ${checkout}, Node ${process.version}\n`);

if (only !== 'store') {
  const files = [
    ...readdirSync(join(checkout, 'test', 'interceptors'))
      .filter((name) => /^cache.*\.js$/.test(name))
      .sort()
      .map((name) => join('test', 'interceptors', name)),
    join('test', 'cache-interceptor', 'issue-4209.js'),
  ].filter((path) => existsSync(join(checkout, path)));
  const undici = await runTests(files);
  const cachette = await runTests(files, {}, [join(here, 'interceptor.mjs')]);
  // The same with credentialed requests cached per credential, where the defaults send them past the cache.
  const perCredential = await runTests(files, { CACHETTE_OPTIONS: JSON.stringify({ credentialed: 'per-credential' }) }, [join(here, 'interceptor.mjs')]);
  console.log('## Interceptor tests\n');
  console.log("| File | undici `interceptors.cache` | cachette `cache.interceptor()` | cachette, `credentialed: 'per-credential'` |");
  console.log('| --- | ---: | ---: | ---: |');
  for (const file of files) {
    const of = (results) => results.filter((result) => result.file === join(checkout, file));
    console.log(`| ${file} | ${score(of(undici))} | ${score(of(cachette))} | ${score(of(perCredential))} |`);
  }
  console.log(`| **all** | **${score(undici)}** | **${score(cachette)}** | **${score(perCredential)}** |\n`);
  if (passed(undici) < undici.length) console.log(`Failed by undici itself:\n${failures(undici)}\n`);
  console.log(`Failed by cachette:\n${failures(cachette) || 'none'}\n`);
  const fixed = new Set(perCredential.filter((result) => result.status === 'pass').map(idOf));
  const passedPerCredential = cachette.filter((result) => result.status === 'fail' && fixed.has(idOf(result)));
  console.log(`Of those, passed with credentialed: 'per-credential':\n${passedPerCredential.map((result) => `- ${idOf(result)}`).join('\n') || 'none'}\n`);
}

if (only !== 'interceptor') {
  const { startRedis } = await import(pathToFileURL(join(dist, 'fixtures', 'redis-server.js')).href);
  const { dynamoEndpoint, stopDynamoLocal } = await import(pathToFileURL(join(dist, 'fixtures', 'dynamodb-local.js')).href);
  const suite = join(here, 'store-suite.mjs');
  // better-sqlite3 12 aborts on Node >= 24.19: the Node 24 peers, as `npm test` swaps them in.
  const peers = major >= 24 ? [join(root, 'scripts', 'node24-peers.mjs')] : [];
  const stores = [
    ['undici MemoryCacheStore', 'undici-memory'],
    ['undici SqliteCacheStore', 'undici-sqlite'],
    ['cachette/undici-store on MemoryStorage', 'memory'],
    ['cachette/undici-store on SqliteStorage', 'sqlite'],
    ['cachette/undici-store on RedisStorage', 'redis'],
    ['cachette/undici-store on DynamoDBStorage (DynamoDB Local)', 'dynamodb'],
  ];
  const env = {};
  const notRun = new Map();
  let redis;
  try {
    redis = await startRedis();
    env.REDIS_URL = redis.url;
  } catch (error) {
    notRun.set('redis', error.message);
  }
  try {
    env.DYNAMODB_ENDPOINT = await dynamoEndpoint();
  } catch (error) {
    notRun.set('dynamodb', error.message);
  }
  console.log('## CacheStore suite\n');
  console.log('| Store | as written | adapted to a store over a network (see store-suite.mjs) |');
  console.log('| --- | ---: | ---: |');
  const failed = [];
  for (const [name, store] of stores) {
    if (notRun.has(store)) {
      console.log(`| ${name} | not run: ${notRun.get(store)} | |`);
      continue;
    }
    const asWritten = await runTests([suite], { ...env, UNDICI_STORE: store }, peers);
    const adapted = await runTests([suite], { ...env, UNDICI_STORE: store, UNDICI_STORE_ADAPTED: '1' }, peers);
    console.log(`| ${name} | ${score(asWritten)} | ${score(adapted)} |`);
    if (passed(asWritten) < asWritten.length) failed.push(`${name}, as written:\n${failures(asWritten)}`);
    if (passed(adapted) < adapted.length) failed.push(`${name}, adapted:\n${failures(adapted)}`);
  }
  console.log(`\n${failed.join('\n\n') || 'No store failed a test.'}\n`);
  await redis?.stop();
  await stopDynamoLocal();
}
