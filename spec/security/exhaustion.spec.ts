/**
 * What a client or an origin writes cannot make the cache work for long:
 * each parser of a field a request or a response carries reads it in time
 * linear in its length (or in the pattern's times the URL's, for globs).
 * A parser that backtracked would not finish these within the test's timeout.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { CredentialDigests } from '../../lib/digest.js';
import { parseCacheControl } from '../../lib/policy/cache-control.js';
import { compileGlob } from '../../lib/policy/glob.js';
import { normalizeRequestHeaders } from '../../lib/policy/headers.js';
import { parseRange } from '../../lib/policy/range.js';
import { varyPairs } from '../../lib/records/variants.js';

const blanks = (n: number) => ' '.repeat(n);

describe('hostile field values are read in linear time', () => {
  it('Range: blanks around every part, and an end that makes it no range', () => {
    expect(parseRange(`bytes=${blanks(65_536)}-${blanks(65_536)}x`)).to.equal(undefined);
    expect(parseRange(`${blanks(65_536)}bytes${blanks(65_536)}=${blanks(65_536)}1-2${blanks(65_536)}`)).to.deep.equal({ start: 1, end: 2, suffix: undefined });
  });

  it('Range: the same answers as the rule written as a pattern, for short values', () => {
    const rule = (value: string) => {
      const match = /^[ \t]*bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i.exec(value);
      if (match === null || (match[1] === '' && match[2] === '')) return undefined;
      if (match[1] === '') return { start: undefined, end: undefined, suffix: Number(match[2]) };
      const end = match[2] === '' ? undefined : Number(match[2]);
      return end !== undefined && end < Number(match[1]) ? undefined : { start: Number(match[1]), end, suffix: undefined };
    };
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'bytesBYTES= \t-0123456789,x'.split('')), maxLength: 14 }), (value) => {
        expect(parseRange(value)).to.deep.equal(rule(value));
      }),
      { numRuns: 5000 },
    );
  });

  it('urlsExpireAfter globs: several stars against a long URL that almost matches', () => {
    const matches = compileGlob('api.example.com/*a*b*c*d*e');
    expect(matches(`https://api.example.com/${'a'.repeat(20_000)}`)).to.equal(false);
  });

  it('urlsExpireAfter globs: the same answers as a regular expression, for short ones', () => {
    const pattern = fc.string({ unit: fc.constantFrom(...'ab/*?.'.split('')), maxLength: 8 });
    const url = fc.string({ unit: fc.constantFrom(...'ab/.'.split('')), maxLength: 12 });
    fc.assert(
      fc.property(pattern, url, (glob, path) => {
        const source = [...`h${glob}`].map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\/]/g, '\\$&'))).join('');
        expect(compileGlob(`h${glob}`)(`https://h${path}`)).to.equal(new RegExp(`^${source}`, 's').test(`h${path}`));
      }),
      { numRuns: 5000 },
    );
  });

  it('Vary values and Cache-Control full of blanks', () => {
    const headers = normalizeRequestHeaders({ accept: `a${blanks(100_000)},${blanks(100_000)};${blanks(100_000)}b`, 'x-v': `${blanks(100_000)}x` });
    const pairs = varyPairs(['accept', 'x-v'], headers, new Set(), new CredentialDigests());
    expect(pairs).to.deep.equal(['accept', 'a,;b', 'x-v', 'x']);
    expect(parseCacheControl(`max-age=1,${blanks(200_000)}"${'x'.repeat(100_000)}`)).to.have.property('maxAge', 1);
  });
});
