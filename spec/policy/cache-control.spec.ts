import { expect } from 'chai';
import { parseCacheControl } from '../../lib/policy/cache-control.js';
import { parseHttpDate } from '../../lib/policy/http-date.js';

describe('RFC 9111 §5.2: parsing Cache-Control', () => {
  it('reads names case-insensitively, with token or quoted arguments', () => {
    expect(parseCacheControl('Max-Age=60, PUBLIC')).to.deep.equal({ maxAge: 60, public: true });
    expect(parseCacheControl('max-age="60"')).to.deep.equal({ maxAge: 60 });
  });

  it('keeps the most restrictive of repeated numbers, across repeated header lines', () => {
    expect(parseCacheControl(['max-age=10', 'max-age=20'])).to.deep.equal({ maxAge: 10 });
    expect(parseCacheControl('max-age=20, max-age=10')).to.deep.equal({ maxAge: 10 });
    expect(parseCacheControl('min-fresh=1, min-fresh=2')).to.deep.equal({ minFresh: 2 });
  });

  describe('malformed directives never make a response more reusable (the cases undici hardened its parser against)', () => {
    const rows: Array<[string, string | string[], object]> = [
      ['a permissive directive with an argument, however it is repeated', 'public=bad, public, must-revalidate, must-revalidate=bad', {}],
      [
        'blanks around the = of a number make it invalid, and it stays invalid',
        's-maxage =60, s-maxage=60, max-age= 60',
        { sMaxAge: 'invalid', maxAge: 'invalid' },
      ],
      ['a number that is not one, before or after a good one', 's-maxage=bad, s-maxage=60, max-age=60, max-age=bad', { sMaxAge: 'invalid', maxAge: 'invalid' }],
      ['a name with a character no token has is another name', 'public\u00a0, must-revalidate\u00a0, max-age\u00a0=60', {}],
      [
        '…unless it spells a restrictive one',
        'no-store\u00a0, no\u00a0-cache, priv\u00a0ate, public, max-age=60',
        { noStore: true, noCache: true, private: true, public: true, maxAge: 60 },
      ],
      ['a restrictive name with more letters is another name', 'no-storex, no\u00a0-storex, privatex, no-cachex', {}],
      ['no-store with an argument is no-store', 'no-store=false, public', { noStore: true, public: true }],
      [
        'an unterminated quote does not swallow a restrictive directive after it',
        'public, max-age=60, no-cache="set-cookie, no-store',
        { public: true, maxAge: 60, noCache: true, noStore: true },
      ],
      ['…nor lets a permissive one after it count', 'extension="x, public, s-maxage=60, max-age=60', {}],
      ['…across field lines too', ['extension="x', 'private, no-cache, no-store'], { private: true, noCache: true, noStore: true }],
      ['a field list that is not one is unqualified', 'no-cache="set-cookie" garbage, private=', { noCache: true, private: true }],
      ['a quoted number is a number', 'max-age="60"', { maxAge: 60 }],
    ];
    for (const [name, value, expected] of rows) it(name, () => expect(parseCacheControl(value)).to.deep.equal(expected));
  });

  it('marks an unusable max-age invalid, and caps huge ones at 2^31 (§1.2.2)', () => {
    expect(parseCacheControl('max-age=abc').maxAge).to.equal('invalid');
    expect(parseCacheControl('max-age=-1').maxAge).to.equal('invalid');
    expect(parseCacheControl('max-age=99999999999999').maxAge).to.equal(2147483648);
  });

  it('reads qualified no-cache and private with their field names', () => {
    expect(parseCacheControl('no-cache="Set-Cookie, X-Token", private="x-user"')).to.deep.equal({ noCache: ['set-cookie', 'x-token'], private: ['x-user'] });
    expect(parseCacheControl('no-cache="a", no-cache').noCache).to.equal(true);
  });

  it('reads request directives', () => {
    expect(parseCacheControl('max-stale')).to.deep.equal({ maxStale: Number.POSITIVE_INFINITY });
    expect(parseCacheControl('max-stale=5, min-fresh=3, only-if-cached, no-store')).to.deep.equal({
      maxStale: 5,
      minFresh: 3,
      onlyIfCached: true,
      noStore: true,
    });
  });

  it('ignores unknown directives and stray commas', () => {
    expect(parseCacheControl(',, community="UCI", s-maxage=5 ,')).to.deep.equal({ sMaxAge: 5 });
  });
});

describe('RFC 9110 §5.6.7: HTTP dates', () => {
  it('reads the three formats', () => {
    const expected = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).to.equal(expected);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).to.equal(expected);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).to.equal(expected);
  });

  it('refuses what Date.parse would accept', () => {
    for (const text of ['0', '-1', '2024', 'now', 'Sun, 31 Feb 2024 00:00:00 GMT', 'Sun, 06 Nov 1994 08:49:37 PST']) {
      expect(parseHttpDate(text), text).to.equal(undefined);
    }
  });

  it('takes the days each month has, leap years included, and no more (every day 29–31 of 1900, 2000, 2023, 2024)', () => {
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    for (const year of [1900, 2000, 2023, 2024]) {
      for (let month = 0; month < 12; month++) {
        for (const day of [28, 29, 30, 31]) {
          const time = Date.UTC(year, month, day, 12, 0, 0);
          // A day past the month's end rolls over into the next month.
          const exists = new Date(time).getUTCDate() === day;
          const text = `Mon, ${day} ${months[month]} ${year} 12:00:00 GMT`;
          expect(parseHttpDate(text), text).to.equal(exists ? time : undefined);
        }
      }
    }
  });
});
