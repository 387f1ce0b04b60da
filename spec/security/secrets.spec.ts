/**
 * Nothing secret leaves the cache. A secret is sent everywhere an ignored
 * parameter or a credential can hide — the query under its own name and
 * under other spellings (`API_KEY`, `;api_key=`, URL user information),
 * through every method, in a redirect's Location, in an Authorization the
 * response varies on — and every output is searched for it: the
 * diagnostics channels, `observe()`, OpenTelemetry spans, the logger,
 * Cache-Status, `entries()` and `inspect()`, an export, the CLI's text and
 * JSON, and the SQLite file itself.
 */
import { createHash } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { expect } from 'chai';
import { request } from 'undici';
import { sqliteStorage, tempFolder } from '../../fixtures/sqlite.js';
import { createCache } from '../../lib/cache.js';
import { main } from '../../lib/cli/main.js';
import { instrument } from '../../lib/otel.js';
import { useOrigin } from '../support.js';

const SECRET = 'S3CRET-d41d8cd98f00b204';
const PASSWORD = 'hunter2-correct-horse';
const BASIC = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;

/** Every spelling of the secrets an output could carry. */
const NEEDLES = [
  SECRET,
  encodeURIComponent(SECRET),
  PASSWORD,
  BASIC,
  Buffer.from(`alice:${PASSWORD}`).toString('base64'),
  createHash('sha256').update(BASIC).digest('hex'),
  createHash('sha256').update(BASIC).digest('base64url'),
];

function expectNoSecret(output: string, where: string): void {
  for (const needle of NEEDLES) expect(output.includes(needle), `${where} carries ${needle}`).to.equal(false);
}

async function runCli(argv: string[]): Promise<string> {
  const out = new PassThrough();
  const err = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  err.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const code = await main(argv, { out, err, in: new PassThrough() }, {});
  return `exit ${code}\n${text}`;
}

describe('no secret leaves the cache', function () {
  this.timeout(60_000);
  const env = useOrigin();
  const folder = tempFolder();
  after(() => folder.remove());

  it('ignored parameters and credentials never reach an output', async () => {
    env.origin.route('/item', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
      res.end(`${req.method} item`);
    });
    env.origin.route('/login', (_req, res) => {
      // An origin that hands the token back: this response is not another caller's.
      res.writeHead(302, { 'cache-control': 'max-age=600', location: `/home?api_key=${SECRET}` });
      res.end();
    });
    env.origin.route('/referred', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'Referer' });
      res.end('referred');
    });
    env.origin.route('/me', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'private, max-age=600', vary: 'Authorization' });
      res.end('alice');
    });

    const outputs: string[] = [];
    const listener = (message: unknown) => void outputs.push(JSON.stringify(message));
    const names = ['cachette:decision', 'cachette:store', 'cachette:storage-error', 'cachette:breaker'];
    for (const name of names) diagnostics.subscribe(name, listener);
    const logged: string[] = [];
    const log = (message: string, details?: unknown) => void logged.push(`${message} ${JSON.stringify(details)}`);
    const file = join(folder.path, 'secrets.db');
    const cache = createCache({
      storage: sqliteStorage({ path: file }),
      ignoredParameters: ['api_key'],
      credentialed: 'per-credential',
      methods: ['GET', 'HEAD', 'POST'],
      logger: { debug: log, info: log, warn: log, error: log },
    });
    const observed: string[] = [];
    cache.observe((event) => observed.push(JSON.stringify(event)));
    const exporter = new InMemorySpanExporter();
    const stop = instrument(cache, { tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }), metrics: false });
    const statuses: string[] = [];

    const base = env.origin.url;
    const userinfo = base.replace('http://', `http://alice:${SECRET}@`);
    try {
      const targets = [`/item?api_key=${SECRET}`, `/item?q=1&API_KEY=${SECRET}`, `/item;api_key=${SECRET}?q=2`, `/item?Api_Key=${encodeURIComponent(SECRET)}`];
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
        for (const target of targets) {
          const response = await request(`${base}${target}`, {
            dispatcher: cache.dispatcher,
            method: method as 'GET',
            ...(method === 'GET' ? {} : { body: '{}' }),
          });
          statuses.push(String(response.headers['cache-status']));
          await response.body.text();
        }
      }
      const redirected = await request(`${base}/login?api_key=${SECRET}`, { dispatcher: cache.dispatcher });
      statuses.push(String(redirected.headers['cache-status']));
      await redirected.body.text();
      for (let i = 0; i < 2; i++) {
        const me = await request(`${base}/me`, { dispatcher: cache.dispatcher, headers: { authorization: BASIC } });
        statuses.push(String(me.headers['cache-status']));
        await me.body.text();
      }
      // A secret in a field the response varies on.
      for (const referer of [
        `http://app.example/page?API_KEY=${SECRET}`,
        `http://app.example/p?api_key=x;${SECRET}`,
        `http://bob:${SECRET}@app.example/#${SECRET}`,
      ]) {
        const referred = await request(`${base}/referred`, { dispatcher: cache.dispatcher, headers: { referer } });
        await referred.body.text();
      }
      // A secret in the Host a request names: user information is no part of an authority that leaves.
      const hosted = await request(`${base}/item`, { dispatcher: cache.dispatcher, headers: { host: `bob:${SECRET}@tenant.example` } });
      await hosted.body.text();
      // A parameter spelt as PHP and qs read an array of it.
      const bracketed = await request(`${base}/item?api_key[]=${SECRET}`, { dispatcher: cache.dispatcher });
      await bracketed.body.text();
      // A URL with user information, given to the cache's own API.
      await cache.contains({ url: `${userinfo}/item` });
      await cache.inspect(`not a url ?api_key=${SECRET}`).catch((error: Error) => outputs.push(error.message));
      await cache.settled();

      const entries: string[] = [];
      for await (const entry of cache.entries()) entries.push(JSON.stringify(entry));
      expect(entries.length, 'what is stored').to.be.greaterThan(1);
      const inspected = JSON.stringify(await cache.inspect(`${base}/item?api_key=other`));
      const exported = new PassThrough();
      let exportText = '';
      exported.on('data', (chunk: Buffer) => {
        exportText += chunk.toString();
      });
      await cache.export(exported);
      const decodedExport = exportText
        .split('\n')
        .slice(1)
        .filter((line) => line !== '')
        .map((line) => Buffer.from(JSON.parse(line).v, 'base64').toString('latin1'))
        .join('\n');
      stop();
      await cache.close();

      expect(
        statuses.some((status) => /detail=echoes-redacted/.test(status)),
        'the redirect carrying the token is not stored',
      ).to.equal(true);
      const cli = [
        await runCli(['ls', '--storage', `sqlite:${file}`]),
        await runCli(['ls', '--storage', `sqlite:${file}`, '--json']),
        await runCli(['show', `${base}/me`, '--storage', `sqlite:${file}`, '--header', `authorization: ${BASIC}`]),
        await runCli(['show', `${base}/item?api_key=x`, '--storage', `sqlite:${file}`, '--json']),
        await runCli(['stats', '--storage', `sqlite:${file}`]),
      ];
      expect(cli[1]).to.include('"varies":{"authorization":"(redacted)"}');

      expectNoSecret(outputs.join('\n'), 'the diagnostics channels');
      expectNoSecret(observed.join('\n'), 'observe()');
      expectNoSecret(logged.join('\n'), 'the logger');
      expectNoSecret(JSON.stringify(exporter.getFinishedSpans().map((span) => span.attributes)), 'the OTel spans');
      expectNoSecret(statuses.join('\n'), 'Cache-Status');
      expectNoSecret(entries.join('\n'), 'entries()');
      expectNoSecret(inspected, 'inspect()');
      expectNoSecret(exportText, 'the export');
      expectNoSecret(decodedExport, 'the records in the export');
      expectNoSecret(cli.join('\n'), 'the CLI');
      expectNoSecret(readFileSync(file).toString('latin1'), 'the SQLite file');
      expect(observed.length).to.be.greaterThan(10);
      expect(outputs.some((line) => line.includes('REDACTED'))).to.equal(true);
    } finally {
      for (const name of names) diagnostics.unsubscribe(name, listener);
    }
  });
});
