/**
 * Partition names are an injective encoding of (namespace, kind, tag): no
 * tag an origin sends can name another cache's partition in a shared
 * storage, and a purge by tag never touches another cache's entries.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { respond } from '../../fixtures/origin.js';
import { partitionNames } from '../../lib/records/partitions.js';
import { isTag } from '../../lib/records/tags.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { fetchText, useOrigin } from '../support.js';

const namespace = fc.option(fc.stringMatching(/^[\w.:/-]{1,12}$/), { nil: undefined });
const tag = fc.oneof(
  fc.constantFrom('responses', 'redirects', 'tiers', 'tag', 'tag:responses', 'a:responses', 'x:tag:y', 'tiers:', '~', 'A', 'a'),
  fc.string({ minLength: 1, maxLength: 16 }).filter(isTag),
);

/** Every partition name a cache with this namespace uses, with what it is. */
function namesOf(ns: string | undefined, tags: readonly string[]): Array<[string, string]> {
  const names = partitionNames(ns);
  return [
    [names.responses, `${ns}/responses`],
    [names.redirects, `${ns}/redirects`],
    [names.tiers, `${ns}/tiers`],
    ...tags.map((one): [string, string] => [names.tag(one), `${ns}/tag/${one}`]),
  ];
}

describe('partition names', () => {
  it('are injective: two (namespace, kind, tag) never share a name', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(namespace, fc.array(tag, { maxLength: 4 })), { minLength: 2, maxLength: 4 }), (caches) => {
        const owner = new Map<string, string>();
        for (const [ns, tags] of caches) {
          for (const [name, what] of namesOf(ns, tags)) {
            const previous = owner.get(name);
            if (previous !== undefined) expect(previous, `${name} is both ${previous} and ${what}`).to.equal(what);
            owner.set(name, what);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('the names older versions gave tag indexes are read only where they cannot be another partition', () => {
    for (const bad of ['responses', 'redirects', 'tiers', 'a:responses', 'x:y']) expect(partitionNames(undefined).legacyTag(bad)).to.equal(undefined);
    expect(partitionNames('app').legacyTag('users')).to.equal('app:tag:users');
  });

  describe('two caches on one storage', () => {
    const env = useOrigin();

    it('purging the tag "responses" does not delete the responses of a cache whose namespace is "tag"', async () => {
      const storage = new MemoryStorage();
      env.origin.route('/a', respond(200, { 'cache-control': 'max-age=600' }, 'a'));
      env.origin.route('/b', respond(200, { 'cache-control': 'max-age=600', 'cache-tag': 'responses' }, 'b'));
      const tagged = env.cache({ storage, cacheTagsHeader: 'cache-tag' });
      const victim = env.cache({ storage, namespace: 'tag' });
      await fetchText(victim, `${env.origin.url}/a`);
      await fetchText(tagged, `${env.origin.url}/b`);
      await Promise.all([victim.settled(), tagged.settled()]);
      expect(await tagged.delete({ tags: ['responses'] })).to.equal(1);
      expect((await fetchText(victim, `${env.origin.url}/a`)).cacheStatus).to.match(/; hit/);
      expect(await victim.contains({ url: `${env.origin.url}/a` })).to.equal(true);
    });

    it('a tag index an older version wrote is still purged from, and a foreign partition under that name is never deleted from', async () => {
      const storage = new MemoryStorage();
      env.origin.route('/old', respond(200, { 'cache-control': 'max-age=600', 'cache-tag': 'users' }, 'old'));
      const cache = env.cache({ storage, cacheTagsHeader: 'cache-tag' });
      await fetchText(cache, `${env.origin.url}/old`);
      await cache.settled();
      // As cachette 0.1 did: the index under `tag:users`, the new one gone.
      const [key] = await cache
        .entries()
        [Symbol.asyncIterator]()
        .next()
        .then((first) => [first.value?.key as string]);
      await storage.partition('tag:users').set(key as string, new Uint8Array([1]));
      await storage.partition(partitionNames(undefined).tag('users')).clear();
      // And something that is not an index entry under the old name: left alone.
      await storage.partition('tag:users').set('not-an-index-entry', new Uint8Array([1, 2, 3]));
      expect(await cache.delete({ tags: ['users'] })).to.equal(1);
      expect(await storage.partition('tag:users').get('not-an-index-entry')).to.deep.equal(new Uint8Array([1, 2, 3]));
      expect((await fetchText(cache, `${env.origin.url}/old`)).cacheStatus).to.match(/fwd=uri-miss/);
    });
  });
});
