#!/usr/bin/env node
// Runs the http-tests/cache-tests suite (https://github.com/http-tests/cache-tests,
// a checkout of your own: it is not ours to copy here) against undici's own
// cache with its MemoryCacheStore, against undici's cache with cachette/undici-store
// on DynamoDB Local, and against cachette itself. Each cache sits in a reverse
// proxy on loopback in front of the suite's server, as a CDN would. Prints a
// table of the results (required, optimal, checks).
//
//   npm run build && node scripts/cache-tests.mjs /path/to/cache-tests   (after npm install there)
import { spawn } from 'node:child_process';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent, interceptors, request } from 'undici';

const dir = resolve(process.argv[2] ?? process.env.CACHE_TESTS_DIR ?? '');
if (process.argv[2] === undefined && process.env.CACHE_TESTS_DIR === undefined) {
  console.error('usage: node scripts/cache-tests.mjs <a checkout of github.com/http-tests/cache-tests, npm-installed>');
  process.exit(2);
}
const root = resolve(new URL('..', import.meta.url).pathname);
const dist = (path) => pathToFileURL(join(root, 'dist', path)).href;
const { createCache } = await import(dist('lib/cache.js'));
const { UndiciCacheStore } = await import(dist('lib/undici-store.js'));
const { DynamoDBStorage } = await import(dist('lib/storage/dynamodb/storage.js'));
const { localClient, stopDynamoLocal } = await import(dist('fixtures/dynamodb-local.js'));
const { default: tests } = await import(pathToFileURL(join(dir, 'tests', 'index.mjs')).href);
const { determineTestResult } = await import(pathToFileURL(join(dir, 'test-engine', 'lib', 'results.mjs')).href);

const freePort = () =>
  new Promise((done) => {
    const server = http.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });

// The suite's origin server.
const originPort = await freePort();
const origin = spawn(process.execPath, [join(dir, 'test-engine', 'server', 'server.mjs')], {
  cwd: dir,
  env: {
    ...process.env,
    npm_config_protocol: 'http',
    npm_config_port: String(originPort),
    npm_config_pidfile: join(tmpdir(), `cache-tests-${originPort}.pid`),
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
process.on('exit', () => origin.kill());
let up = false;
for (let i = 0; i < 100 && !up; i++) {
  up = await request(`http://127.0.0.1:${originPort}/`).then(
    (response) => response.body.dump().then(() => true),
    () => false,
  );
  if (!up) await new Promise((done) => setTimeout(done, 100));
}
if (!up) {
  console.error(`the cache-tests server did not start on port ${originPort}`);
  process.exit(1);
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

/** A reverse proxy on loopback whose every request goes to the suite's server through `dispatcher`. */
async function proxy(dispatcher) {
  const port = await freePort();
  const server = http.createServer(async (req, res) => {
    const headers = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
    try {
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      const response = await request(`http://127.0.0.1:${originPort}${req.url}`, {
        method: req.method,
        headers,
        body: hasBody ? req : undefined,
        dispatcher,
      });
      const out = {};
      for (const [name, value] of Object.entries(response.headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
      res.writeHead(response.statusCode, out);
      for await (const chunk of response.body) res.write(chunk);
      res.end();
    } catch (error) {
      res.writeHead(502);
      res.end(String(error));
    }
  });
  await new Promise((done) => server.listen(port, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((done) => server.close(done)) };
}

/** The suite's client against `base`: its results, as JSON. */
function runSuite(base) {
  return new Promise((done, fail) => {
    let out = '';
    const client = spawn(process.execPath, ['--no-warnings', join(dir, 'test-engine', 'cli.mjs')], {
      cwd: dir,
      env: { ...process.env, npm_config_base: base, npm_config_id: '', npm_package_config_id: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    client.stdout.on('data', (chunk) => {
      out += chunk;
    });
    client.on('exit', (code) => (code === 0 ? done(JSON.parse(out)) : fail(new Error(`cache-tests client exited ${code}`))));
  });
}

/** The ids of the required and optimal tests passed. */
function passed(results) {
  const ids = new Set();
  for (const suite of tests) {
    for (const test of suite.tests) {
      if ((test.kind ?? 'required') !== 'check' && determineTestResult(tests, test.id, results)[2] === '✅') ids.add(test.id);
    }
  }
  return ids;
}

function summarize(results) {
  const counts = { required: [0, 0], optimal: [0, 0], check: [0, 0] };
  for (const suite of tests) {
    for (const test of suite.tests) {
      const kind = test.kind ?? 'required';
      const symbol = determineTestResult(tests, test.id, results)[2];
      if (!(kind in counts)) continue;
      counts[kind][1] += 1;
      if (symbol === '✅' || symbol === 'Y') counts[kind][0] += 1;
    }
  }
  return counts;
}

const dynamoClient = await localClient();
const table = `cache-tests-${Date.now()}`;
const dynamo = new DynamoDBStorage({ tableName: table, client: dynamoClient, timeouts: { read: 5 } });
await dynamo.createTable();
const cachette = createCache();
const contenders = [
  ['undici interceptors.cache + MemoryCacheStore', new Agent().compose(interceptors.cache())],
  [
    'undici interceptors.cache + cachette/undici-store on DynamoDB (Local)',
    new Agent().compose(interceptors.cache({ store: new UndiciCacheStore({ storage: dynamo }) })),
  ],
  ['cachette (MemoryStorage)', new Agent().compose(cachette.interceptor())],
];
console.log(`cache-tests at ${dir}\n`);
console.log('| Cache | required | optimal | checks (yes) |');
console.log('| --- | ---: | ---: | ---: |');
const passes = [];
for (const [name, dispatcher] of contenders) {
  const front = await proxy(dispatcher);
  const results = await runSuite(front.url);
  passes.push([name, passed(results)]);
  const counts = summarize(results);
  console.log(`| ${name} | ${counts.required[0]}/${counts.required[1]} | ${counts.optimal[0]}/${counts.optimal[1]} | ${counts.check[0]}/${counts.check[1]} |`);
  await front.close();
  await dispatcher.close();
}
// undici's own store against the same interceptor with cachette/undici-store: the store's part of the score.
const [[firstName, first], [secondName, second]] = passes;
const lost = [...first].filter((id) => !second.has(id));
const gained = [...second].filter((id) => !first.has(id));
console.log(`\npassed with "${firstName}" only: ${lost.join(', ') || 'none'}`);
console.log(`passed with "${secondName}" only: ${gained.join(', ') || 'none'}`);
await cachette.close();
dynamoClient.destroy();
await stopDynamoLocal();
origin.kill();
