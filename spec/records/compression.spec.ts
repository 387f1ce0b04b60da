/**
 * Compressed records (records/compression.ts): one implementation for every
 * storage that keeps bytes. Checked on the record codec, then through a
 * cache on SQLite — what the file holds, what a hit gets — and across
 * caches of other settings reading the same storage.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { sqliteStorage, tempFolder } from '../../fixtures/sqlite.js';
import { createCache, rawPartitions } from '../../lib/cache.js';
import { decodeRecord, encodeRecord } from '../../lib/records/codec.js';
import { type CompressionCodec, codecAvailable, unreadableHere } from '../../lib/records/compression.js';
import type { StoredResponse } from '../../lib/records/model.js';
import { partitionNames } from '../../lib/records/partitions.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { fetchText, useOrigin } from '../support.js';

/** A 13 KB JSON response, as an API answers a list. */
function listJson(): string {
  const items = Array.from({ length: 80 }, (_, i) => ({
    id: i,
    name: `user ${i}`,
    email: `user${i}@example.com`,
    active: i % 3 === 0,
    roles: ['reader', 'writer'],
  }));
  return JSON.stringify({ data: items, page: 1, total: 800 });
}

function response(body: Uint8Array): StoredResponse {
  return {
    kind: 'response',
    expiresAt: null,
    status: 200,
    statusText: 'OK',
    headers: ['content-type', 'application/json'],
    body,
    method: 'GET',
    url: 'https://api.example.com/users',
    key: 'k',
    redirect: null,
    vary: null,
    requestTime: 1_700_000_000_000,
    responseTime: 1_700_000_000_010,
    initialAge: 0,
    lifetime: 60_000,
    flags: 0,
    staleWhileRevalidate: -1,
    staleIfError: -1,
    hiddenFields: null,
    tags: [],
  };
}

/** The bytes a cache's responses partition holds. */
async function storedValues(cache: ReturnType<typeof createCache>): Promise<Uint8Array[]> {
  const values: Uint8Array[] = [];
  for await (const [, bytes] of rawPartitions(cache).responses.entries()) values.push(bytes);
  return values;
}

/** The response records a memory tier holds. */
async function valuesIn(memory: MemoryStorage): Promise<Uint8Array[]> {
  const values: Uint8Array[] = [];
  for await (const [, bytes] of memory.partition(partitionNames(undefined).responses).entries()) values.push(bytes);
  return values;
}

describe('compressed records', () => {
  const json = new TextEncoder().encode(listJson());
  const codecs: CompressionCodec[] = ['brotli', 'deflate', 'zstd'];

  for (const codec of codecs) {
    it(`${codec}: ${codecAvailable(codec) ? 'a record of a JSON list shrinks, in an envelope naming the codec, and decodes whole' : 'this Node lacks it: a record written with it is unreadable here, not damaged'}`, () => {
      if (!codecAvailable(codec)) {
        // What a Node with zstd writes: the envelope, the codec's number (3), then its bytes.
        const foreign = Buffer.concat([Buffer.from([0xc1, 3]), randomBytes(64)]);
        expect([decodeRecord(foreign), unreadableHere(foreign)]).to.deep.equal([undefined, true]);
        return;
      }
      const plain = encodeRecord(response(json));
      const compressed = encodeRecord(response(json), { codec, threshold: 1024, minSaving: 0.1 });
      expect(compressed[0]).to.equal(0xc1);
      expect(compressed.byteLength).to.be.below(plain.byteLength / 4);
      expect(decodeRecord(compressed)).to.deep.equal(decodeRecord(plain));
      expect(unreadableHere(compressed)).to.equal(false);
    });
  }

  it('a record under the threshold, or one compression would not shrink by a tenth, is stored as it is', () => {
    const small = encodeRecord(response(json.subarray(0, 200)));
    expect(encodeRecord(response(json.subarray(0, 200)), { codec: 'brotli', threshold: 1024, minSaving: 0.1 })).to.deep.equal(small);
    const noise = new Uint8Array(randomBytes(20_000));
    const plain = encodeRecord(response(noise));
    expect(encodeRecord(response(noise), { codec: 'brotli', threshold: 1024, minSaving: 0.1 })).to.deep.equal(plain);
  });

  it('a damaged envelope is a miss, never a wrong body: a flipped byte, a cut, an unknown codec', () => {
    const compressed = encodeRecord(response(json), { codec: 'deflate', threshold: 0, minSaving: 0.1 });
    for (let at = 2; at < compressed.byteLength; at += 97) {
      const flipped = Buffer.from(compressed);
      flipped[at] = (flipped[at] as number) ^ 0x40;
      expect(decodeRecord(flipped), `byte ${at}`).to.equal(undefined);
    }
    expect(decodeRecord(compressed.subarray(0, compressed.byteLength - 10))).to.equal(undefined);
    const unknown = Buffer.from(compressed);
    unknown[1] = 99;
    expect([decodeRecord(unknown), unreadableHere(unknown)]).to.deep.equal([undefined, false]);
  });

  describe('through a cache on SQLite', () => {
    const env = useOrigin();
    let folder: ReturnType<typeof tempFolder>;
    beforeEach(() => {
      folder = tempFolder();
      env.origin.route('/users', respond(200, { 'cache-control': 'max-age=600', 'content-type': 'application/json' }, listJson()));
    });
    afterEach(() => folder.remove());

    it('stores compressed by default; a hit gets the body whole; caches of any setting read what the others wrote', async () => {
      const storage = sqliteStorage({ path: join(folder.path, 'cache.db') });
      const writer = createCache({ storage });
      await fetchText(writer, `${env.origin.url}/users`);
      await writer.settled();
      const [bytes] = await storedValues(writer);
      expect(bytes?.[0]).to.equal(0xc1);
      expect(bytes?.byteLength).to.be.below(json.byteLength / 4);
      const reader = createCache({ storage, compression: false });
      const hit = await fetchText(reader, `${env.origin.url}/users`);
      expect(hit.cacheStatus).to.match(/^cachette; hit/);
      expect(hit.body).to.equal(listJson());
      // And the other way: uncompressed records read by a cache that compresses.
      await reader.delete({ entries: [`${env.origin.url}/users`] });
      await fetchText(reader, `${env.origin.url}/users`);
      await reader.settled();
      const [plain] = await storedValues(reader);
      expect(plain?.[0]).to.not.equal(0xc1);
      expect((await fetchText(writer, `${env.origin.url}/users`)).body).to.equal(listJson());
      expect(env.origin.hits()).to.equal(2);
      await writer.close();
    });

    it('a memory tier keeps the record opened: the storage holds the envelope, memory the frame, a hit from memory gets the body whole', async () => {
      const storage = sqliteStorage({ path: join(folder.path, 'cache.db') });
      const writerMemory = new MemoryStorage({ maxBytes: 1024 * 1024 });
      const readerMemory = new MemoryStorage({ maxBytes: 1024 * 1024 });
      const writer = createCache({ storage, memoryTier: writerMemory });
      await fetchText(writer, `${env.origin.url}/users`);
      await writer.settled();
      const [stored] = await storedValues(writer);
      expect(stored?.[0]).to.equal(0xc1);
      // The writer's memory got it from the write; the reader's from the storage, on its first request.
      const reader = createCache({ storage, memoryTier: readerMemory });
      for (const cache of [writer, reader, reader]) expect((await fetchText(cache, `${env.origin.url}/users`)).body).to.equal(listJson());
      for (const memory of [writerMemory, readerMemory]) {
        const held = await valuesIn(memory);
        expect(held).to.have.length(1);
        expect(held[0]?.[0]).to.not.equal(0xc1);
        expect(decodeRecord(held[0] as Uint8Array)?.kind).to.equal('response');
      }
      expect(env.origin.hits()).to.equal(1);
      await writer.close();
    });

    it('rejects a bad compression option by name', () => {
      expect(() => createCache({ compression: { codec: 'lz4' as never } })).to.throw(TypeError, /compression.codec must be/);
      expect(() => createCache({ compression: { threshold: -1 } })).to.throw(TypeError, /compression.threshold/);
      expect(() => createCache({ compression: { level: 9 } as never })).to.throw(TypeError, /unknown option compression.level/);
      if (!codecAvailable('zstd')) expect(() => createCache({ compression: { codec: 'zstd' } })).to.throw(TypeError, /needs a Node that has it/);
    });
  });
});
