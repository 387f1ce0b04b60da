/**
 * Writes are bounded whatever the storage does: a write gives up its keys at
 * its deadline (counted from when it was queued), a key's queued writes
 * collapse to the newest, settled() returns within the deadline, and a write
 * that lands long after it gave up never brings back what was purged or
 * replaced since.
 */
import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { withParkedWrites } from '../../fixtures/storage-views.js';
import { createCache, rawPartitions } from '../../lib/cache.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { fetchText, useOrigin } from '../support.js';

describe('writes under a storage that does not answer', () => {
  const env = useOrigin();
  const WRITE_MS = 60;
  let version = 0;

  beforeEach(() => {
    version = 0;
    env.origin.route('/a', (_req, res) => {
      version += 1;
      respond(200, { 'cache-control': 'max-age=600' }, `v${version}`)(_req, res, Buffer.alloc(0));
    });
  });

  /** Lets a late landing be heard (its storage call's callbacks run), then waits for what it set going. */
  const landed = async (cache: { settled(): Promise<void> }) => {
    await new Promise((resolve) => setImmediate(resolve));
    await cache.settled();
  };

  function parked() {
    const inner = new MemoryStorage();
    const view = withParkedWrites(inner);
    const cache = env.cache({ storage: view.storage, timeouts: { write: WRITE_MS / 1000 } });
    // What the storage itself holds, read by another cache (nothing in flight of the first's).
    const reader = createCache({ storage: inner });
    return { ...view, cache, reader };
  }

  it('settled() returns within the write deadline while a write never lands', async () => {
    const { cache, park } = parked();
    park(1);
    await fetchText(cache, `${env.origin.url}/a`);
    const settled = await Promise.race([cache.settled().then(() => 'settled'), new Promise((resolve) => setTimeout(() => resolve('waiting'), WRITE_MS * 20))]);
    expect(settled).to.equal('settled');
  });

  it('writes of one key queued behind a hung one collapse to the newest', async () => {
    const { cache, park, sets, release, reader } = parked();
    park(1);
    await fetchText(cache, `${env.origin.url}/a`);
    for (let i = 0; i < 5; i++) await fetchText(cache, `${env.origin.url}/a`, { cache: 'reload' });
    await cache.settled();
    // The hung one, then only the newest of the five behind it.
    expect(sets()).to.equal(2);
    await release();
    await landed(cache);
    expect((await fetchText(reader, `${env.origin.url}/a`)).body).to.equal('v6');
  });

  it('a write that lands late after a newer one: the newer one is made again', async () => {
    const { cache, park, release, reader } = parked();
    park(1);
    await fetchText(cache, `${env.origin.url}/a`);
    await cache.settled();
    await fetchText(cache, `${env.origin.url}/a`, { cache: 'reload' });
    await cache.settled();
    expect((await fetchText(reader, `${env.origin.url}/a`)).body).to.equal('v2');
    // v1 lands now, over v2.
    await release();
    await landed(cache);
    const read = await fetchText(createCache({ storage: rawPartitions(reader).storage }), `${env.origin.url}/a`);
    expect(read.body).to.equal('v2');
  });

  it('a write that lands late after a purge: the purge is made again', async () => {
    const { cache, park, release, reader } = parked();
    park(1);
    await fetchText(cache, `${env.origin.url}/a`);
    await cache.settled();
    expect(await cache.delete({ entries: [`${env.origin.url}/a`] })).to.equal(0);
    await release();
    await landed(cache);
    expect(await reader.contains({ url: `${env.origin.url}/a` })).to.equal(false);
  });
});
