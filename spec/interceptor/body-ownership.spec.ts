import { expect } from 'chai';
import { Agent, request } from 'undici';
import { respond } from '../../fixtures/origin.js';
import { plainView } from '../../fixtures/storage-views.js';
import type { Storage } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { useOrigin } from '../support.js';

/** A storage of bytes only: MemoryStorage behind the contract's required methods (no getSync, no hold). */
function bytesOnly(inner: MemoryStorage): Storage {
  return { partition: (name) => plainView(inner.partition(name)), close: () => inner.close() };
}

describe('The bodies the cache keeps are its own', () => {
  const env = useOrigin();
  const BODY = 'the stored body '.repeat(200);

  for (const [name, storage] of [
    ['MemoryStorage (held records)', () => new MemoryStorage()],
    ['a storage of bytes (encoded records)', () => bytesOnly(new MemoryStorage())],
  ] as const) {
    it(`${name}: the caller of a miss changing the chunks it was given changes nothing the cache serves`, async () => {
      // Two parts, the second after the caller has had the first: what the caller does to a chunk is done before the body ends.
      let second: (() => void) | undefined;
      env.origin.route('/r', (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(Buffer.byteLength(BODY)) });
        res.write(BODY.slice(0, 1000));
        second = () => res.end(BODY.slice(1000));
      });
      const cache = env.cache({ storage: storage() });
      const agent = new Agent().compose(cache.interceptor());
      try {
        const read = async (change: boolean): Promise<string> => {
          const response = await request(`${env.origin.url}/r`, { dispatcher: agent });
          const chunks: Buffer[] = [];
          for await (const chunk of response.body as AsyncIterable<Buffer>) {
            chunks.push(Buffer.from(chunk));
            // A miss's chunks are the caller's to change; a hit's are the cache's (docs/failure-and-safety.md).
            if (change) chunk.fill(0x21);
            second?.();
            second = undefined;
          }
          return Buffer.concat(chunks).toString();
        };
        expect(await read(true)).to.equal(BODY);
        // At once, while the write is on its way, then once it has landed.
        expect(await read(false)).to.equal(BODY);
        await cache.settled();
        expect(await read(false)).to.equal(BODY);
        expect(env.origin.hits('/r')).to.equal(1);
      } finally {
        await agent.close();
      }
    });
  }
  it('cache.fetch: a reader changing the chunks it reads, on a miss or a hit, changes nothing the cache serves (fetch reads copies)', async () => {
    env.origin.route('/r', respond(200, { 'cache-control': 'max-age=60' }, BODY));
    const cache = env.cache({ storage: new MemoryStorage() });
    const read = async (): Promise<string> => {
      const reader = ((await cache.fetch(`${env.origin.url}/r`)).body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      for (let step = await reader.read(); !step.done; step = await reader.read()) {
        text += Buffer.from(step.value).toString();
        step.value.fill(0x21);
      }
      return text;
    };
    expect(await read()).to.equal(BODY);
    expect(await read()).to.equal(BODY);
    await cache.settled();
    expect(await read()).to.equal(BODY);
    expect(await read()).to.equal(BODY);
    expect(env.origin.hits('/r')).to.equal(1);
  });
});

describe('The header fields the cache hands out are their receiver’s', () => {
  const env = useOrigin();
  const LINKS: [string, string] = ['</a>; rel="next"', '</b>; rel="prev"'];

  // undici 8's request hands its caller the cache's map itself (undici 7's parses its own from the raw form).
  it('a caller changing the value list of a repeated field, on a miss or a hit, changes nothing the cache serves next', async () => {
    let second: (() => void) | undefined;
    env.origin.route('/links', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', link: LINKS, 'content-length': '8' });
      res.write('part one');
      second = () => res.end();
    });
    const cache = env.cache();
    const agent = new Agent().compose(cache.interceptor());
    try {
      const read = async (): Promise<unknown> => {
        const response = await request(`${env.origin.url}/links`, { dispatcher: agent });
        const links = response.headers['link'];
        const copy = Array.isArray(links) ? [...links] : links;
        // What a caller may do to a list it was given: consume it, rewrite it.
        if (Array.isArray(links)) {
          links.shift();
          links.push('</evil>; rel="next"');
        }
        second?.();
        second = undefined;
        await response.body.text();
        return copy;
      };
      // The miss: changed before its body ended (before the response was stored).
      expect(await read()).to.deep.equal(LINKS);
      await cache.settled();
      expect(await read()).to.deep.equal(LINKS);
      expect(await read()).to.deep.equal(LINKS);
      expect(env.origin.hits('/links')).to.equal(1);
    } finally {
      await agent.close();
    }
  });
});
