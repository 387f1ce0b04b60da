/**
 * URL globs for `urlsExpireAfter`, in the manner of requests-cache: the
 * scheme is ignored on both sides, `*` matches any run of characters
 * (slashes included), `?` one character, and a pattern matches every URL it
 * is a prefix of ("api.example.com/v1" matches "https://api.example.com/v1/users").
 * Hosts compare case-insensitively (URLs arrive with their host lower-cased).
 */

export type UrlMatcher = (url: string) => boolean;

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

export function compileGlob(pattern: string): UrlMatcher {
  const bare = pattern.replace(SCHEME, '');
  const slash = bare.indexOf('/');
  const host = (slash === -1 ? bare : bare.slice(0, slash)).toLowerCase();
  const rest = slash === -1 ? '' : bare.slice(slash);
  let source = '^';
  for (const char of host + rest) {
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += char.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  const regexp = new RegExp(source, 's');
  return (url) => regexp.test(url.replace(SCHEME, ''));
}
