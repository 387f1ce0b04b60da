import { expect } from 'chai';
import fc from 'fast-check';
import { OwnedBody } from '../../lib/records/owned-body.js';

describe('OwnedBody: a body kept while its chunks go on to someone else', () => {
  it('holds exactly the bytes appended, in one buffer of its own, whatever becomes of the chunks after (any split, any announced length)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        // Announced: the true length, more, less, none.
        fc.constantFrom('true', 'more', 'less', 'none'),
        (chunks, announced) => {
          const total = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
          const length = announced === 'true' ? total : announced === 'more' ? total + 7 : announced === 'less' ? Math.max(0, total - 5) : undefined;
          const expected = Buffer.concat(chunks.map((chunk) => Buffer.from(chunk)));
          const body = new OwnedBody(length);
          for (const chunk of chunks) {
            // A chunk from a slab of Buffer's pool, as undici's parser gives them: the caller then rewrites it.
            const pooled = Buffer.from(chunk);
            body.append(pooled);
            pooled.fill(0x21);
          }
          expect(body.size).to.equal(total);
          const kept = body.finish();
          expect(Buffer.compare(kept, expected)).to.equal(0);
          // Its own memory: nothing else keeps the buffer alive, and nothing else's bytes stay alive with it.
          expect(kept.byteOffset).to.equal(0);
          expect(kept.buffer.byteLength).to.equal(total);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('an announced length past the preallocation limit is not allocated on the origin’s word', () => {
    const body = new OwnedBody(2 ** 40);
    body.append(Buffer.from('short'));
    const kept = body.finish();
    expect(kept.toString()).to.equal('short');
    expect(kept.buffer.byteLength).to.equal(5);
  });
});
