/**
 * Lambda cold starts, locally: from process start to the first handler
 * response, for a handler that calls fetch directly and for the cachette
 * recipe (examples/lambda, bundled) — its first response a hit from DynamoDB
 * Local (what a new instance usually meets), or a miss. Prints one JSON line.
 */

import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { uniqueTableName } from '../fixtures/dynamodb.js';
import { dynamoEndpoint, localClient, stopDynamoLocal } from '../fixtures/dynamodb-local.js';
import { DynamoDBStorage } from '../lib/storage/dynamodb/storage.js';
import { machine, median } from './harness.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const RUNS = 7;

const endpoint = await dynamoEndpoint();
execFileSync(process.execPath, [join(root, 'examples', 'lambda', 'build.mjs')], { cwd: root, stdio: 'ignore' });
const bundle = join(root, 'examples', 'lambda', 'dist', 'handler.mjs');

const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-type': 'application/json' });
  res.end('{"sky":"clear"}');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

const folder = mkdtempSync(join(tmpdir(), 'cachette-lambda-'));
const plain = join(folder, 'plain.mjs');
writeFileSync(
  plain,
  `export async function handler(event) {
  const response = await fetch(event.url);
  return { statusCode: response.status, body: await response.text() };
}
`,
);

const tableName = uniqueTableName();
await new DynamoDBStorage({ tableName, client: await localClient() }).createTable();
const env = {
  ...process.env,
  NODE_OPTIONS: '',
  CACHE_TABLE: tableName,
  AWS_ENDPOINT_URL_DYNAMODB: endpoint,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
};

/** ms from the process's start to the handler's first response. */
async function coldStart(file: string, url: string): Promise<number> {
  const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(file).href)}); await handler({ url: ${JSON.stringify(url)} }); console.log(performance.now()); process.exit(0);`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env, encoding: 'utf8' });
  return Number(stdout.trim().split('\n').pop());
}

const withoutCache: number[] = [];
const cachetteHit: number[] = [];
const cachetteMiss: number[] = [];
await coldStart(bundle, `${base}/warm-up`);
for (let i = 0; i < RUNS; i++) {
  withoutCache.push(await coldStart(plain, `${base}/plain`));
  cachetteHit.push(await coldStart(bundle, `${base}/warm-up`));
  cachetteMiss.push(await coldStart(bundle, `${base}/miss-${i}`));
}
server.close();
rmSync(folder, { recursive: true, force: true });
await stopDynamoLocal();
process.stdout.write(
  `${JSON.stringify({
    machine: machine(),
    lambda: {
      bundleKiB: Math.round(statSync(bundle).size / 1024),
      firstResponseMs: { withoutCache: median(withoutCache), cachetteHit: median(cachetteHit), cachetteMiss: median(cachetteMiss) },
    },
  })}\n`,
);
process.exit(0);
