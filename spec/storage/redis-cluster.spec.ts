/**
 * RedisStorage on a real Redis cluster of three masters (redis-server
 * --cluster-enabled yes, joined by redis-cli --cluster create; the fixture
 * starts them): the conformance suite through a `redis+cluster://` URL and
 * through a cluster client of the caller's, the cache's request path,
 * listings and purges over partitions that live on different masters, and a
 * listing during which a partition's slot moves to another master.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createClient, createCluster } from '@redis/client';
import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { type RedisCluster, startRedisCluster } from '../../fixtures/redis-server.js';
import { createCache } from '../../lib/cache.js';
import { type RedisClusterCommander, RedisStorage } from '../../lib/storage/redis.js';
import { cachette, fetchText, useOrigin } from '../support.js';
import { storageConformance } from './conformance.js';

describe('RedisStorage on a Redis cluster (three masters)', function () {
  this.timeout(60_000);
  let cluster: RedisCluster;
  const storages: RedisStorage[] = [];
  const fresh = (prefix = `test-${randomUUID()}:`) => {
    const storage = new RedisStorage({ url: cluster.url, keyPrefix: prefix });
    storages.push(storage);
    return storage;
  };

  before(async function () {
    this.timeout(120_000);
    cluster = await startRedisCluster(3);
  });
  after(async () => {
    await Promise.all(storages.splice(0).map((storage) => storage.close().catch(() => undefined)));
    await cluster?.stop();
  });

  describe('conformance (redis+cluster:// URL)', () => {
    storageConformance({ create: () => fresh(), capabilities: { leases: true } });
  });

  /** The master holding a key's slot, by port, as the cluster says. */
  function masterOf(key: string): number {
    const port = cluster.servers[0]?.port as number;
    const slot = Number(spawnSync('redis-cli', ['-p', String(port), 'cluster', 'keyslot', key], { encoding: 'utf8' }).stdout.trim());
    const slots = spawnSync('redis-cli', ['-p', String(port), '--json', 'cluster', 'slots'], { encoding: 'utf8' }).stdout;
    for (const [from, to, master] of JSON.parse(slots) as Array<[number, number, [string, number]]>) if (slot >= from && slot <= to) return master[1];
    throw new Error(`no master for slot ${slot}`);
  }

  /**
   * Moves a slot, keys and all, from one master to another, as a resharding does (CLUSTER SETSLOT
   * IMPORTING/MIGRATING, MIGRATE in batches, SETSLOT NODE on every node), `pause` ms between batches.
   */
  async function moveSlot(slot: number, from: number, to: number, batch = 100, pause = 0): Promise<void> {
    const clients = new Map<number, { sendCommand(args: string[]): Promise<unknown>; close(): Promise<void> }>();
    for (const server of cluster.servers) {
      const client = createClient({ url: server.url });
      await client.connect();
      clients.set(server.port, client);
    }
    try {
      const send = (port: number, args: string[]) => (clients.get(port) as { sendCommand(args: string[]): Promise<unknown> }).sendCommand(args);
      const [fromId, toId] = [String(await send(from, ['CLUSTER', 'MYID'])), String(await send(to, ['CLUSTER', 'MYID']))];
      await send(to, ['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId]);
      await send(from, ['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId]);
      for (;;) {
        const keys = (await send(from, ['CLUSTER', 'GETKEYSINSLOT', String(slot), String(batch)])) as string[];
        if (keys.length === 0) break;
        await send(from, ['MIGRATE', '127.0.0.1', String(to), '', '0', '5000', 'KEYS', ...keys]);
        if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      }
      for (const port of clients.keys()) await send(port, ['CLUSTER', 'SETSLOT', String(slot), 'NODE', toId]);
    } finally {
      for (const client of clients.values()) await client.close();
    }
  }

  /** A key's slot. */
  function slotOf(key: string): number {
    return Number(spawnSync('redis-cli', ['-p', String(cluster.servers[0]?.port), 'cluster', 'keyslot', key], { encoding: 'utf8' }).stdout.trim());
  }

  describe('the cache on it', () => {
    const env = useOrigin();

    it('serves hits, lists and purges partitions that live on different masters', async () => {
      // Namespaces chosen so that their partitions' slots are on at least two masters.
      const namespaces: string[] = [];
      const masters = new Set<number>();
      for (let i = 0; namespaces.length < 2 || masters.size < 2; i++) {
        const namespace = `ns${i}`;
        const port = masterOf(`{${namespace}:responses}`);
        if (namespaces.length === 0 || !masters.has(port)) {
          namespaces.push(namespace);
          masters.add(port);
        }
      }
      for (let i = 0; i < 30; i++)
        env.origin.route(`/r${i}`, respond(200, { 'cache-control': 'max-age=600', 'cache-tag': i % 2 === 0 ? 'even' : 'odd' }, `r${i}`));
      const storage = fresh();
      const caches = namespaces.map((namespace) => createCache({ storage, namespace, cacheTagsHeader: 'cache-tag', timeouts: { read: 5 } }));
      for (const cache of caches) for (let i = 0; i < 30; i++) await fetchText(cache, `${env.origin.url}/r${i}`);
      for (const cache of caches) await cache.settled();
      for (const cache of caches) expect((await fetchText(cache, `${env.origin.url}/r3`)).cacheStatus).to.match(/^cachette; hit/);
      expect(env.origin.hits()).to.equal(60);
      for (const cache of caches) {
        const listed: string[] = [];
        for await (const entry of cache.entries()) listed.push(entry.url);
        expect(listed.length).to.equal(30);
        expect(new Set(listed).size).to.equal(30);
      }
      const [first, second] = caches as [ReturnType<typeof createCache>, ReturnType<typeof createCache>];
      expect(await first.delete({ tags: ['even'] })).to.equal(15);
      expect(await second.delete({ matching: { url: `${env.origin.url}/r1*` } })).to.equal(11);
      let left = 0;
      for await (const _ of first.entries()) left += 1;
      expect(left).to.equal(15);
      for (const cache of caches) await cache.close();
    });

    it('the CLI lists, exports and purges it through a redis+cluster:// URL', async () => {
      const prefix = `cli-${randomUUID()}:`;
      const storage = fresh(prefix);
      for (let i = 0; i < 5; i++) env.origin.route(`/c${i}`, respond(200, { 'cache-control': 'max-age=600', 'cache-tag': 'c' }, `c${i}`));
      const cache = createCache({ storage, cacheTagsHeader: 'cache-tag', timeouts: { read: 5 } });
      for (let i = 0; i < 5; i++) await fetchText(cache, `${env.origin.url}/c${i}`);
      await cache.settled();
      const url = `${cluster.url}?keyPrefix=${prefix}`;
      const listed = await cachette(['ls', '--storage', url, '--json']);
      expect(listed.code, listed.stderr).to.equal(0);
      expect(listed.stdout.trim().split('\n')).to.have.length(5);
      const exported = await cachette(['export', '--storage', url, '--format', 'text']);
      expect(exported.stdout.trim().split('\n')).to.have.length(6);
      expect((await cachette(['purge', '--tag', 'c', '--storage', url])).stdout).to.equal('5 records deleted\n');
      expect(JSON.parse((await cachette(['stats', '--storage', url, '--json'])).stdout).entries).to.equal(0);
      await cache.close();
    });

    it('requests under load while the responses’ slot moves to another master: 0 failed, every body right', async () => {
      const prefix = `load-${randomUUID()}:`;
      const storage = fresh(prefix);
      for (let i = 0; i < 50; i++) env.origin.route(`/l${i}`, respond(200, { 'cache-control': 'max-age=600' }, `body ${i}`));
      const cache = createCache({ storage, timeouts: { read: 5 } });
      for (let i = 0; i < 50; i++) await fetchText(cache, `${env.origin.url}/l${i}`);
      await cache.settled();
      const hashKey = `${prefix}{responses}:x`;
      const source = masterOf(hashKey);
      const target = cluster.servers.find((server) => server.port !== source)?.port as number;
      let stop = false;
      const results: Array<{ ok: boolean }> = [];
      const load = Promise.all(
        Array.from({ length: 10 }, async (_, worker) => {
          for (let n = 0; !stop; n++) {
            const i = (worker * 7 + n) % 50;
            const fetched = await fetchText(cache, `${env.origin.url}/l${i}`).catch(() => undefined);
            results.push({ ok: fetched?.status === 200 && fetched.body === `body ${i}` });
          }
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      await moveSlot(slotOf(hashKey), source, target, 10, 10);
      await new Promise((resolve) => setTimeout(resolve, 200));
      stop = true;
      await load;
      expect(results.length).to.be.above(100);
      expect(results.filter((one) => !one.ok)).to.have.length(0);
      expect(masterOf(hashKey)).to.equal(target);
      // Served from the storage where it is now.
      expect((await fetchText(createCache({ storage, timeouts: { read: 5 } }), `${env.origin.url}/l3`)).cacheStatus).to.match(/^cachette; hit/);
      await cache.close();
    });

    it('takes a cluster client of the caller’s, and leaves it open', async () => {
      const client = createCluster({ rootNodes: cluster.nodes.map((url) => ({ url })) });
      await client.connect();
      try {
        const storage = new RedisStorage({ client: client as unknown as RedisClusterCommander, keyPrefix: `own-${randomUUID()}:` });
        env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600' }, 'a'));
        const cache = createCache({ storage, timeouts: { read: 5 } });
        await fetchText(cache, `${env.origin.url}/a`);
        await cache.settled();
        expect((await fetchText(cache, `${env.origin.url}/a`)).cacheStatus).to.match(/^cachette; hit/);
        let listed = 0;
        for await (const _ of cache.entries()) listed += 1;
        expect(listed).to.equal(1);
        await cache.close();
        expect(client.isOpen).to.equal(true);
      } finally {
        await client.close();
      }
    });
  });

  it('a listing during which the partition’s slot moves to a master it has listed already lists every key once', async () => {
    // A cluster client of the test's own: the order the listing walks the masters in is its `masters`.
    const client = createCluster({ rootNodes: cluster.nodes.map((url) => ({ url })) });
    await client.connect();
    try {
      const prefix = `move-${randomUUID()}:`;
      // Pages of about 10 keys: the listing is under way, not done in one page, when the slot moves.
      const storage = new RedisStorage({ client: client as unknown as RedisClusterCommander, keyPrefix: prefix, batchSize: 10 });
      const order = client.masters.map((master) => master.port);
      const [first, last] = [order[0] as number, order.at(-1) as number];
      // A partition whose slot is on the master listed last, moved to the one listed first once the listing is on it.
      let name = '';
      for (let i = 0; name === ''; i++) if (masterOf(`${prefix}{p${i}}:k0`) === last) name = `p${i}`;
      const partition = storage.partition(name);
      const keys = Array.from({ length: 400 }, (_, i) => `k${i}`);
      for (const key of keys) await partition.set(key, new Uint8Array([1]));
      const hashKey = `${prefix}{${name}}:k0`;
      const listed: string[] = [];
      let moved = false;
      for await (const key of partition.keys()) {
        listed.push(key);
        if (!moved && listed.length === 100) {
          // The slot moves while the listing is under way (as a resharding does).
          await moveSlot(slotOf(hashKey), last, first);
          moved = true;
        }
      }
      expect(moved).to.equal(true);
      expect(listed.length).to.equal(new Set(listed).size);
      expect(new Set(listed)).to.deep.equal(new Set(keys));
      expect(masterOf(hashKey)).to.equal(first);
      // And the storage goes on reading it where it is now.
      expect(await partition.get('k7')).to.deep.equal(new Uint8Array([1]));
    } finally {
      await client.close();
    }
  });
});
