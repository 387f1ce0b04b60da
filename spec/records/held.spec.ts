import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { type HttpCache, rawPartitions } from '../../lib/cache.js';
import type { Offering } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { fetchText, useOrigin } from '../support.js';

async function onlyKey(cache: HttpCache): Promise<string> {
  const keys: string[] = [];
  for await (const key of rawPartitions(cache).responses.keys()) keys.push(key);
  expect(keys).to.have.length(1);
  return keys[0] as string;
}

describe('Records kept as they are by a storage in this process', () => {
  const env = useOrigin();
  const BODY = 'the stored body '.repeat(200);

  it('a miss on MemoryStorage keeps the record itself (no bytes made), and hits are served from it', async () => {
    env.origin.route('/r', respond(200, { 'cache-control': 'max-age=60' }, BODY));
    const cache = env.cache({ storage: new MemoryStorage() });
    expect((await fetchText(cache, `${env.origin.url}/r`)).body).to.equal(BODY);
    await cache.settled();
    const held = (rawPartitions(cache).responses as Offering<'heldValues'>).getHeld(await onlyKey(cache));
    expect(held, 'a held record, not bytes').to.not.be.instanceOf(Uint8Array);
    const hit = await fetchText(cache, `${env.origin.url}/r`);
    expect(hit.cacheStatus).to.match(/^cachette; hit/);
    expect(hit.body).to.equal(BODY);
    expect(env.origin.hits('/r')).to.equal(1);
  });

  it('a listing (cache.entries) gets the bytes, hits go on from them, and a purge by tag finds the record', async () => {
    env.origin.route('/r', respond(200, { 'cache-control': 'max-age=60', 'cache-tag': 'a' }, BODY));
    const cache = env.cache({ storage: new MemoryStorage(), cacheTagsHeader: 'cache-tag' });
    await fetchText(cache, `${env.origin.url}/r`);
    await cache.settled();
    const listed = [];
    for await (const entry of cache.entries()) listed.push(entry);
    expect(listed.map((entry) => [entry.url, entry.size])).to.deep.equal([[`${env.origin.url}/r`, BODY.length]]);
    expect((rawPartitions(cache).responses as Offering<'heldValues'>).getHeld(await onlyKey(cache)), 'bytes now').to.be.instanceOf(Uint8Array);
    const hit = await fetchText(cache, `${env.origin.url}/r`);
    expect(hit.cacheStatus).to.match(/^cachette; hit/);
    expect(hit.body).to.equal(BODY);
    expect(await cache.delete({ tags: ['a'] })).to.equal(1);
    expect((await fetchText(cache, `${env.origin.url}/r`)).cacheStatus).to.match(/fwd=uri-miss/);
  });
});
