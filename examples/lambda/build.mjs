// Bundles examples/lambda/handler.mjs for AWS Lambda (Node.js 20 or later) into
// examples/lambda/dist/handler.mjs:  node examples/lambda/build.mjs
//
// - The AWS SDK stays out: Lambda's Node.js runtimes include it.
// - undici's SQLite cache store (which cachette never uses) is replaced by an
//   empty module, and better-sqlite3 is never reached from cachette/dynamodb.
// - msgpackr's optional native accelerator is left out; msgpackr runs without it.

import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

const leaveOutUndiciSqlite = {
  name: 'leave-out-undici-sqlite',
  setup(context) {
    context.onResolve({ filter: /sqlite-cache-store(\.js)?$/ }, (args) => ({ path: args.path, namespace: 'left-out' }));
    context.onLoad({ filter: /.*/, namespace: 'left-out' }, () => ({ contents: 'module.exports = class SqliteCacheStore {}', loader: 'js' }));
  },
};

const outfile = here('./dist/handler.mjs');
await build({
  entryPoints: [here('./handler.mjs')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  legalComments: 'none',
  external: ['@aws-sdk/*', 'msgpackr-extract'],
  // undici and msgpackr are CommonJS: give the ES module a require() for Node's built-ins.
  banner: { js: "import { createRequire as __cachetteRequire } from 'node:module'; const require = __cachetteRequire(import.meta.url);" },
  plugins: [leaveOutUndiciSqlite],
  logLevel: 'warning',
});
console.log(`examples/lambda/dist/handler.mjs: ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
