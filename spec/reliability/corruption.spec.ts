/**
 * Stored records that were corrupted, or that no response could produce: a
 * miss (and a delete), never a wrong body, never a request left waiting.
 */

import diagnostics from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { request } from 'undici';
import { seeded } from '../../fixtures/faulty-storage.js';
import { type HttpCache, rawPartitions } from '../../lib/cache.js';
import { decodeRecord, encodeRecord } from '../../lib/records/codec.js';
import type { StoredResponse } from '../../lib/records/model.js';
import type { Storage } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { SqliteStorage } from '../../lib/storage/sqlite.js';
import { useOrigin } from '../support.js';
import { report, scaled } from './figures.js';

describe('reliability: corrupt stored records', function () {
  this.timeout(120_000);
  const env = useOrigin();
  let folder: string;
  let version: number;

  beforeEach(() => {
    version = 1;
    folder = mkdtempSync(join(tmpdir(), 'cachette-corrupt-'));
    env.origin.route('/doc', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
      res.end(`version ${version} of ${req.url}: ${'x'.repeat(200)}`);
    });
  });

  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  const backends: Array<[string, () => Storage]> = [
    ['memory', () => new MemoryStorage()],
    ['SQLite', () => new SqliteStorage({ path: join(folder, 'cache.db') })],
  ];

  for (const [backend, make] of backends) {
    it(`${backend}: a byte flipped anywhere in a stored record is a miss, never a wrong body`, async () => {
      const cache = env.cache({ storage: make() });
      const random = seeded(5);
      const rounds = scaled(200);
      let wrong = 0;
      let misses = 0;
      for (let round = 0; round < rounds; round++) {
        const url = `${env.origin.url}/doc?n=${round}`;
        version = 1;
        await (await cache.fetch(url)).text();
        await cache.settled();
        // Flip one byte of the stored record, somewhere, by some amount.
        const [key] = await keysOf(cache);
        const bytes = (await rawPartitions(cache).responses.get(key as string)) as Uint8Array;
        const corrupted = new Uint8Array(bytes);
        const at = Math.floor(random() * corrupted.length);
        corrupted[at] = (corrupted[at] as number) ^ (1 + Math.floor(random() * 255));
        await rawPartitions(cache).responses.set(key as string, corrupted);
        version = 2;
        const response = await cache.fetch(url);
        const body = await response.text();
        if (body !== `version 2 of /doc?n=${round}: ${'x'.repeat(200)}`) wrong += 1;
        if (/fwd=uri-miss/.test(response.headers.get('cache-status') ?? '')) misses += 1;
        await cache.clear();
      }
      report(`corruption ${backend}, one flipped byte per record`, { requests: rounds * 2, faults: rounds, failures: 0, wrongBodies: wrong, misses });
      expect({ wrong, misses }).to.deep.equal({ wrong: 0, misses: rounds });
    });
  }

  it('a record that was corrupted is deleted, and its replacement stored', async () => {
    const cache = env.cache();
    const decodes = listen('cachette:storage-error');
    try {
      await (await cache.fetch(`${env.origin.url}/doc`)).text();
      await cache.settled();
      const [key] = await keysOf(cache);
      const bytes = new Uint8Array((await rawPartitions(cache).responses.get(key as string)) as Uint8Array);
      bytes[10] = (bytes[10] as number) ^ 0xff;
      await rawPartitions(cache).responses.set(key as string, bytes);
      await (await cache.fetch(`${env.origin.url}/doc`)).text();
      await cache.settled();
      expect(decodes.filter((event) => event['operation'] === 'decode')).to.have.length(1);
      expect(decodeRecord((await rawPartitions(cache).responses.get(key as string)) as Uint8Array)).to.not.equal(undefined);
    } finally {
      diagnostics.unsubscribe('cachette:storage-error', decodes.listener);
    }
  });

  it('a stored interim (1xx) response is a miss: fetch and request are answered, not left waiting', async () => {
    const cache = env.cache();
    await (await cache.fetch(`${env.origin.url}/doc`)).text();
    await cache.settled();
    const [key] = await keysOf(cache);
    const stored = decodeRecord((await rawPartitions(cache).responses.get(key as string)) as Uint8Array) as StoredResponse;
    // A record a foreign writer (or a bug) could leave: well-formed, checksummed, impossible.
    await rawPartitions(cache).responses.set(key as string, encodeRecord({ ...stored, status: 103, statusText: 'Early Hints' }));
    version = 2;
    const fetched = await cache.fetch(`${env.origin.url}/doc`);
    expect(fetched.status).to.equal(200);
    expect(await fetched.text()).to.match(/^version 2/);
    await rawPartitions(cache).responses.set(key as string, encodeRecord({ ...stored, status: 101, statusText: 'Switching Protocols' }));
    const requested = await request(`${env.origin.url}/doc`, { dispatcher: cache.dispatcher });
    expect(requested.statusCode).to.equal(200);
    expect(await requested.body.text()).to.match(/^version 2/);
  });
});

async function keysOf(cache: HttpCache): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of rawPartitions(cache).responses.keys()) keys.push(key);
  return keys;
}

function listen(name: string): Array<Record<string, unknown>> & { listener: (message: unknown) => void } {
  const events = [] as unknown as Array<Record<string, unknown>> & { listener: (message: unknown) => void };
  events.listener = (message: unknown) => events.push(message as Record<string, unknown>);
  diagnostics.subscribe(name, events.listener);
  return events;
}
