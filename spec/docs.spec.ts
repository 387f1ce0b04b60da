/**
 * Every JavaScript block of the README and of docs/ runs, so the docs cannot
 * drift from the code. Each block is a module of its own, in a process of
 * its own, importing `cachette` as a user does (the package by its name).
 * `https://api.example.com` is a loopback origin here; names a snippet uses
 * without defining (`cache`, `url`, `storage`...) get a small definition in
 * front of it; a block that exports a Lambda `handler` has it called. No block
 * may open a connection beyond loopback, and DynamoDB is DynamoDB Local.
 */

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { dropTables, dynamoStorage } from '../fixtures/dynamodb.js';
import { dynamoEndpoint } from '../fixtures/dynamodb-local.js';
import { NODE_CHILD_FLAGS } from './support.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Inside the package, so that `import 'cachette'` resolves to it by its own name. */
const runs = join(root, 'dist', 'docs-run');

interface Block {
  file: string;
  line: number;
  code: string;
}

function blocks(): Block[] {
  const files = ['README.md', ...readdirSync(join(root, 'docs')).map((name) => `docs/${name}`)].filter((name) => name.endsWith('.md'));
  const found: Block[] = [];
  for (const file of files) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] !== '```js') continue;
      const start = i + 1;
      let end = start;
      while (end < lines.length && lines[end] !== '```') end++;
      found.push({ file, line: start + 1, code: lines.slice(start, end).join('\n') });
      i = end;
    }
  }
  return found;
}

/** What a snippet may use without defining it, and how it is defined for the run. */
const FIXTURES: Array<{ name: string; define: string }> = [
  { name: 'createCache', define: "import { createCache } from 'cachette';" },
  { name: 'MemoryStorage', define: "import { MemoryStorage } from 'cachette';" },
  { name: 'OpenAI', define: "import OpenAI from 'openai';" },
  { name: 'Client', define: "import { Client } from 'undici';" },
  { name: 'request', define: "import { request } from 'undici';" },
  { name: 'createWriteStream', define: "import { createWriteStream } from 'node:fs';" },
  { name: 'createReadStream', define: "import { createReadStream } from 'node:fs';" },
  { name: 'cache', define: "const cache = (await import('cachette')).createCache({ expireAfter: 300, cacheTagsHeader: 'Cache-Tag' });" },
  { name: 'other', define: "const other = (await import('cachette')).createCache();" },
  { name: 'storage', define: "const storage = new (await import('cachette')).MemoryStorage();" },
  {
    name: 'dynamo',
    define:
      "const dynamo = new (await import('cachette/dynamodb')).DynamoDBStorage({ tableName: process.env.CACHE_TABLE, client: new (await import('@aws-sdk/client-dynamodb')).DynamoDBClient({}) });",
  },
  { name: 'url', define: "const url = process.env.DOCS_ORIGIN + '/users/1';" },
  { name: 'auth', define: "const auth = 'test-token';" },
  { name: 'query', define: "const query = { query: '{ users { id } }' };" },
  { name: 'work', define: 'const work = async (event) => ({ done: event !== undefined });' },
];

/** The names a snippet defines itself: its imports and declarations. */
function declared(code: string): Set<string> {
  const names = new Set<string>();
  for (const match of code.matchAll(/\b(?:const|let|var|function|class)\s+([A-Za-z_$][\w$]*)/g)) names.add(match[1] as string);
  for (const match of code.matchAll(/\bconst\s*\{([^}]*)\}/g))
    for (const part of (match[1] as string).split(',')) names.add(part.split(':').pop()?.trim() ?? '');
  for (const match of code.matchAll(/^import\s+(.+?)\s+from\s/gm)) {
    const clause = match[1] as string;
    for (const part of clause.replace(/[{}]/g, ',').split(',')) {
      const name = part
        .trim()
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) names.add(name);
    }
  }
  return names;
}

function program(block: Block, origin: string): string {
  const host = new URL(origin).host;
  const code = block.code.replaceAll('https://api.example.com', origin).replaceAll('api.example.com', host);
  const own = declared(code);
  const prelude = FIXTURES.filter(({ name }) => !own.has(name) && new RegExp(`(?<![\\w$.'])${name.replace('$', '\\$')}\\b`).test(code)).map(
    ({ define }) => define,
  );
  // Imports first (a module's imports are hoisted anyway), then the definitions that await.
  const imports = prelude.filter((line) => line.startsWith('import '));
  const definitions = prelude.filter((line) => !line.startsWith('import '));
  const [ownImports, rest] = splitImports(code);
  return [...imports, ...ownImports, ...definitions, rest].join('\n');
}

function splitImports(code: string): [string[], string] {
  const lines = code.split('\n');
  const imports: string[] = [];
  const rest: string[] = [];
  for (const line of lines) (/^import\s/.test(line) ? imports : rest).push(line);
  return [imports, rest.join('\n')];
}

/** Fails any connection beyond loopback, in the process running a block. */
const GUARD = `
import net from 'node:net';
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const options = typeof args[0] === 'object' && args[0] !== null ? args[0] : { port: args[0], host: typeof args[1] === 'string' ? args[1] : undefined };
  const host = options.host ?? 'localhost';
  if (options.path === undefined && !['127.0.0.1', 'localhost', '::1'].includes(host)) throw new Error('a docs block tried to connect to ' + host);
  return connect.apply(this, args);
};
`;

const RUNNER = `
const module = await import(process.argv[2]);
if (typeof module.handler === 'function') {
  const result = await module.handler({ url: process.env.DOCS_ORIGIN + '/users/1' }, { getRemainingTimeInMillis: () => 30000 });
  if (result?.statusCode !== undefined && result.statusCode !== 200) throw new Error('handler answered ' + result.statusCode);
}
process.exit(0);
`;

function run(file: string, cwd: string, env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...NODE_CHILD_FLAGS, '--import', join(runs, 'guard.mjs'), join(runs, 'runner.mjs'), file],
      { cwd, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number((error as { code?: number }).code ?? 1), output: `${stdout}${stderr}` }),
    );
  });
}

describe('the docs', function () {
  this.timeout(180_000);
  const found = blocks();
  let server: http.Server;
  let origin: string;
  let env: Record<string, string>;
  const cwd = mkdtempSync(join(tmpdir(), 'cachette-docs-'));

  before(async () => {
    server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300', etag: '"v1"', 'cache-tag': 'user-42' });
      res.end(JSON.stringify({ object: 'list', data: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const endpoint = await dynamoEndpoint();
    const table = await dynamoStorage(undefined, { tableName: `docs-${Date.now()}` });
    env = {
      DOCS_ORIGIN: origin,
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: origin,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      CACHE_TABLE: table.tableName,
    };
    mkdirSync(runs, { recursive: true });
    writeFileSync(join(runs, 'guard.mjs'), GUARD);
    writeFileSync(join(runs, 'runner.mjs'), RUNNER);
  });

  after(async () => {
    server.close();
    await dropTables();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('have JavaScript blocks to run', () => {
    expect(found.length).to.be.above(20);
  });

  for (const [index, block] of found.entries()) {
    it(`${block.file}:${block.line} runs`, async () => {
      const file = join(runs, `block-${index}.mjs`);
      writeFileSync(file, program(block, origin));
      const ran = await run(file, cwd, env);
      expect(ran.code, `${block.file}:${block.line}\n${ran.output}`).to.equal(0);
    });
  }
});
