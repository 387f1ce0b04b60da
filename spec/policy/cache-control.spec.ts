import { expect } from 'chai';
import { parseCacheControl } from '../../lib/policy/cache-control.js';
import { parseHttpDate } from '../../lib/policy/http-date.js';

describe('RFC 9111 §5.2: parsing Cache-Control', () => {
  it('reads names case-insensitively, with token or quoted arguments', () => {
    expect(parseCacheControl('Max-Age=60, PUBLIC')).to.deep.equal({ maxAge: 60, public: true });
    expect(parseCacheControl('max-age="60"')).to.deep.equal({ maxAge: 60 });
  });

  it('keeps the first of repeated directives, across repeated header lines', () => {
    expect(parseCacheControl(['max-age=10', 'max-age=20'])).to.deep.equal({ maxAge: 10 });
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
