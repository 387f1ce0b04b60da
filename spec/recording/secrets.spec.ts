/**
 * Secrets never reach a recording: a recording is a file a team commits.
 * Traffic full of credentials is recorded into a SQLite file and exported;
 * neither holds any of them, byte for byte.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { sqliteStorage, tempFolder } from '../../fixtures/sqlite.js';
import { createCache } from '../../lib/cache.js';
import { useOrigin } from '../support.js';

describe('recording: secrets', () => {
  const env = useOrigin();
  let folder: ReturnType<typeof tempFolder>;
  beforeEach(() => {
    folder = tempFolder();
    env.origin.route('/v1/things', (req, res, body) => {
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'session=SECRET-SET-COOKIE; HttpOnly' });
      res.end(JSON.stringify({ ok: true, method: req.method, size: body.length }));
    });
  });
  afterEach(() => folder.remove());

  const SECRETS = ['SECRET-QUERY-KEY', 'SECRET-BEARER-TOKEN', 'SECRET-COOKIE', 'SECRET-API-KEY', 'SECRET-PASSWORD', 'SECRET-SET-COOKIE'];

  it('neither the SQLite file nor its export holds a credential, an ignored parameter or a cookie set', async () => {
    const path = join(folder.path, 'recording.db');
    const cache = createCache({
      storage: sqliteStorage({ path }),
      recording: 'record',
      ignoredParameters: ['api_key', 'password', 'x-api-key'],
      bodyKey: 'canonical',
    });
    const headers = { authorization: 'Bearer SECRET-BEARER-TOKEN', cookie: 'sid=SECRET-COOKIE', 'x-api-key': 'SECRET-API-KEY' };
    for (const init of [
      { headers },
      { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ user: 'ann', password: 'SECRET-PASSWORD' }) },
    ]) {
      const response = await cache.fetch(`${env.origin.url}/v1/things?api_key=SECRET-QUERY-KEY&page=2`, init);
      expect(response.status).to.equal(200);
      await response.text();
    }
    await cache.settled();
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    const exported = await cache.export(out);
    expect(exported.records).to.equal(2);
    await cache.close();

    const files = [path, `${path}-wal`, `${path}-journal`].filter((file) => existsSync(file));
    // An export's lines carry each record's bytes in base64: they are read decoded, as the file holds them.
    const lines = Buffer.concat(chunks).toString('utf8').trim().split('\n');
    const records = lines.slice(1).map((line) => Buffer.from(JSON.parse(line).v as string, 'base64').toString('latin1'));
    const texts = [...files.map((file) => readFileSync(file).toString('latin1')), lines.join('\n'), ...records];
    // The recording is there: the URL, its ignored parameter redacted, and the bodies.
    expect(records).to.have.length(2);
    for (const record of records) expect(record).to.include('/v1/things?api_key=REDACTED&page=2').and.include('"ok":true');
    for (const text of texts) for (const secret of SECRETS) expect(text, secret).not.to.include(secret);
  });
});
