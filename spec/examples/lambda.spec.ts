import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { dropTables, dynamoStorage, uniqueTableName } from '../../fixtures/dynamodb.js';
import { dynamoEndpoint } from '../../fixtures/dynamodb-local.js';
import { respond } from '../../fixtures/origin.js';
import { NODE_CHILD_FLAGS, useOrigin } from '../support.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const bundle = `${root}examples/lambda/dist/handler.mjs`;
const source = `${root}examples/lambda/handler.mjs`;

interface LambdaResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** Invokes the handler once in a fresh Node process: a cold start (which then exits, as Lambda would freeze it). */
// Asynchronous: the origin runs in this process and must keep answering meanwhile.
async function invoke(handlerFile: string, env: Record<string, string>, event: object): Promise<LambdaResult> {
  const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(handlerFile).href)}); console.log(JSON.stringify(await handler(${JSON.stringify(event)}))); process.exit(0);`;
  const { stdout } = await run(process.execPath, [...NODE_CHILD_FLAGS, '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    // A user's Lambda: none of the test run's module hooks.
    env: { ...process.env, ...env, NODE_OPTIONS: '' },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as LambdaResult;
}

describe('examples/lambda: the recipe, run locally', function () {
  this.timeout(120_000);
  const env = useOrigin();
  let lambdaEnv: Record<string, string>;

  before(async function () {
    this.timeout(180_000);
    const endpoint = await dynamoEndpoint();
    execFileSync(process.execPath, [...NODE_CHILD_FLAGS, `${root}examples/lambda/build.mjs`], {
      cwd: root,
      stdio: 'pipe',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    lambdaEnv = {
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    };
  });

  afterEach(async () => {
    await dropTables();
  });

  it("the esbuild bundle holds neither better-sqlite3 nor undici's SQLite store", () => {
    const text = readFileSync(bundle, 'utf8');
    expect(text).to.not.include('better-sqlite3');
    expect(text, "undici's SqliteCacheStore schema").to.not.include('cacheInterceptorV');
    expect(statSync(bundle).size).to.be.below(1024 * 1024);
  });

  for (const [label, file] of [
    ['bundled with esbuild', bundle],
    ['as written', source],
  ] as const) {
    it(`${label}: a second cold start is answered from DynamoDB, with zero origin requests`, async () => {
      env.origin.route('/weather', respond(200, { 'cache-control': 'max-age=300', 'content-type': 'application/json' }, '{"sky":"clear"}'));
      const tableName = uniqueTableName();
      await dynamoStorage(undefined, { tableName });
      const event = { url: `${env.origin.url}/weather` };

      const first = await invoke(file, { ...lambdaEnv, CACHE_TABLE: tableName }, event);
      expect(first.statusCode).to.equal(200);
      expect(first.body).to.equal('{"sky":"clear"}');
      expect(first.headers['cache-status']).to.match(/fwd=uri-miss; fwd-status=200; stored/);
      expect(env.origin.hits('/weather')).to.equal(1);

      const second = await invoke(file, { ...lambdaEnv, CACHE_TABLE: tableName }, event);
      expect(second.statusCode).to.equal(200);
      expect(second.body).to.equal('{"sky":"clear"}');
      expect(second.headers['cache-status']).to.match(/^cachette; hit/);
      expect(env.origin.hits('/weather'), 'the second instance never reached the origin').to.equal(1);
    });
  }
});
