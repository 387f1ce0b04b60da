/**
 * URL globs for `urlsExpireAfter`, in the manner of requests-cache: the
 * scheme is ignored on both sides, `*` matches any run of characters
 * (slashes included), `?` one character, and a pattern matches every URL it
 * is a prefix of ("api.example.com/v1" matches "https://api.example.com/v1/users").
 * Hosts compare case-insensitively (URLs arrive with their host lower-cased).
 *
 * Matched by hand, not by a regular expression: `.*a.*b` backtracks in
 * polynomial time over a long URL, which a client chooses. Here a star only
 * ever resumes from the last one seen, so a match costs at most the
 * pattern's length times the URL's.
 */

export type UrlMatcher = (url: string) => boolean;

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

export function compileGlob(pattern: string): UrlMatcher {
  const bare = pattern.replace(SCHEME, '');
  const slash = bare.indexOf('/');
  const host = (slash === -1 ? bare : bare.slice(0, slash)).toLowerCase();
  // A prefix: anything may follow.
  const glob = `${host}${slash === -1 ? '' : bare.slice(slash)}*`;
  return (url) => matches(glob, url.replace(SCHEME, ''));
}

function matches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const char = glob[g];
    if (char === '*') {
      star = g;
      resume = t;
      g += 1;
    } else if (char !== undefined && (char === '?' || char === text[t])) {
      g += 1;
      t += 1;
    } else if (star !== -1) {
      g = star + 1;
      resume += 1;
      t = resume;
    } else {
      return false;
    }
  }
  while (glob[g] === '*') g += 1;
  return g === glob.length;
}
