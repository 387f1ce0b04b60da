import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { dropTables, dynamoStorage, uniqueTableName } from '../../fixtures/dynamodb.js';
import { dynamoEndpoint } from '../../fixtures/dynamodb-local.js';
import { sleep } from '../../fixtures/origin.js';
import { NODE_CHILD_FLAGS, useOrigin } from '../support.js';

const worker = fileURLToPath(new URL('../../fixtures/coalesce-worker.js', import.meta.url));

interface Outcome {
  worker: string;
  status: number;
  body: string;
  cacheStatus: string | null;
}

function start(env: Record<string, string>): { child: ChildProcess; done: Promise<{ code: number | null; outcome?: Outcome; stderr: string }> } {
  const child = spawn(process.execPath, [...NODE_CHILD_FLAGS, worker], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<{ code: number | null; outcome?: Outcome; stderr: string }>((resolve) => {
    child.on('exit', (code) => {
      const line = stdout.trim().split('\n').pop();
      resolve({ code, stderr, ...(line ? { outcome: JSON.parse(line) as Outcome } : {}) });
    });
  });
  return { child, done };
}

describe('collapsing misses across processes (DynamoDB leases)', function () {
  this.timeout(120_000);
  const env = useOrigin();
  let endpoint: string;

  before(async function () {
    this.timeout(180_000);
    endpoint = await dynamoEndpoint();
  });

  afterEach(async () => {
    await dropTables();
  });

  async function table(): Promise<string> {
    const tableName = uniqueTableName();
    await dynamoStorage(undefined, { tableName });
    return tableName;
  }

  it('5 processes asking for the same slow URL at the same moment: the origin sees 1 request', async () => {
    env.origin.route('/slow', async (_req, res) => {
      await sleep(1500);
      res.writeHead(200, { 'cache-control': 'max-age=600' });
      res.end('the one answer');
    });
    const tableName = await table();
    const startAt = String(Date.now() + 4000);
    const runs = Array.from({ length: 5 }, (_, i) =>
      start({
        DYNAMODB_ENDPOINT: endpoint,
        TABLE: tableName,
        URL: `${env.origin.url}/slow`,
        START_AT: startAt,
        WORKER: String(i),
      }),
    );
    const results = await Promise.all(runs.map((run) => run.done));
    for (const result of results) {
      expect(result.code, result.stderr).to.equal(0);
      expect(result.outcome?.body).to.equal('the one answer');
    }
    expect(env.origin.hits('/slow')).to.equal(1);
    const collapsed = results.filter((result) => /^cachette; hit/.test(result.outcome?.cacheStatus ?? ''));
    expect(collapsed, 'four were answered from what the first stored').to.have.length(4);
  });

  it('with the lease holder killed mid-request, the others still finish (the origin sees 2 requests)', async () => {
    const tableName = await table();
    const runs = new Map<string, ReturnType<typeof start>>();
    let first = true;
    env.origin.route('/slow', async (req, res) => {
      if (first) {
        // The holder's request: kill its process while the origin "works".
        first = false;
        runs.get(String(req.headers['x-worker']))?.child.kill('SIGKILL');
        return;
      }
      await sleep(300);
      res.writeHead(200, { 'cache-control': 'max-age=600' });
      res.end('after the crash');
    });
    const startAt = String(Date.now() + 4000);
    for (let i = 0; i < 5; i++) {
      runs.set(
        String(i),
        start({
          DYNAMODB_ENDPOINT: endpoint,
          TABLE: tableName,
          URL: `${env.origin.url}/slow`,
          START_AT: startAt,
          WORKER: String(i),
          LEASE: '1',
        }),
      );
    }
    const results = await Promise.all([...runs.values()].map((run) => run.done));
    const killed = results.filter((result) => result.code !== 0);
    const finished = results.filter((result) => result.code === 0);
    expect(killed).to.have.length(1);
    expect(finished).to.have.length(4);
    for (const result of finished) expect(result.outcome?.body).to.equal('after the crash');
    expect(env.origin.hits('/slow')).to.equal(2);
  });
});
