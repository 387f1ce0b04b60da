/**
 * HTTP-date parsing (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete RFC 850
 * and asctime forms recipients must accept. Anything else is invalid, which
 * for Expires means "already expired" (RFC 9111 §5.3). `Date.parse` is not
 * used: it accepts "0" or "2024" and would make such responses fresh.
 */

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC_850 = /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
// Sun Nov  6 08:49:37 1994
const ASCTIME = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i;

/** Epoch milliseconds, or undefined when the value is not an HTTP-date. */
export function parseHttpDate(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parse(value.trim());
}

function parse(text: string): number | undefined {
  let match = IMF_FIXDATE.exec(text);
  if (match !== null) return build(match[3], match[2], match[1], match[4], match[5], match[6]);
  match = RFC_850.exec(text);
  if (match !== null) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    const twoDigit = Number(match[3]);
    const now = new Date().getUTCFullYear();
    let year = Math.floor(now / 100) * 100 + twoDigit;
    if (year > now + 50) year -= 100;
    return build(String(year), match[2], match[1], match[4], match[5], match[6]);
  }
  match = ASCTIME.exec(text);
  if (match !== null) return build(match[6], match[1], match[2], match[3], match[4], match[5]);
  return undefined;
}

function build(
  year: string | undefined,
  month: string | undefined,
  day: string | undefined,
  hour: string | undefined,
  minute: string | undefined,
  second: string | undefined,
): number | undefined {
  // Senders are case-sensitive; we accept any case, as most recipients do ("THU", "gmt").
  const name = month === undefined ? '' : month.charAt(0).toUpperCase() + month.slice(1).toLowerCase();
  const monthIndex = MONTHS[name];
  if (monthIndex === undefined) return undefined;
  const d = Number(day),
    h = Number(hour),
    m = Number(minute),
    s = Number(second),
    y = Number(year);
  // Days past the month's end would roll over (Feb 30 → Mar 2): not a date.
  if (d < 1 || d > daysIn(monthIndex, y) || h > 23 || m > 59 || s > 60) return undefined;
  return Date.UTC(y, monthIndex, d, h, m, Math.min(s, 59));
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(monthIndex: number, year: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return monthIndex === 1 && leap ? 29 : (DAYS_IN_MONTH[monthIndex] as number);
}
