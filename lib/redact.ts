/**
 * Redaction: what every URL, and every field value that may hold one, goes
 * through before it leaves the cache. One place, so that what `ignoredParameters`
 * names never shows, whoever publishes, logs, stores, lists or prints it.
 */

const REDACTED = 'REDACTED';

/**
 * A URL as it may leave the cache: no user information, no fragment, and the
 * value of every query parameter or path parameter (`;name=value`) whose
 * name, decoded and lower-cased, is in `names` replaced by REDACTED. The one
 * function every URL in an event, a log line, an OTel span, a listing, an
 * export or the CLI passes through. Text that is not a URL (a bad one in an
 * error message) is redacted as if it were a path and a query.
 */
export function redactUrl(url: string, names: ReadonlySet<string>): string {
  const schemeEnd = url.indexOf('://');
  const hash = url.indexOf('#');
  if (hash !== -1) url = url.slice(0, hash);
  if (schemeEnd !== -1) {
    const authorityStart = schemeEnd + 3;
    let pathStart = authorityStart;
    while (pathStart < url.length && url[pathStart] !== '/' && url[pathStart] !== '?') pathStart += 1;
    const at = url.lastIndexOf('@', pathStart - 1);
    if (at >= authorityStart) url = url.slice(0, authorityStart) + url.slice(at + 1);
  }
  if (names.size === 0) return url;
  const question = url.indexOf('?');
  const path = question === -1 ? url : url.slice(0, question);
  const redactedPath = path.includes(';')
    ? path.replace(/;([^;/=?]*)=([^;/?]*)/g, (whole, name: string) => (isRedacted(name, names) ? `;${name}=${REDACTED}` : whole))
    : path;
  if (question === -1) return redactedPath;
  const params = url.slice(question + 1).split('&');
  for (let i = 0; i < params.length; i++) {
    const raw = params[i] as string;
    const equals = raw.indexOf('=');
    const name = equals === -1 ? raw : raw.slice(0, equals);
    if (isRedacted(name, names)) params[i] = `${name}=${REDACTED}`;
  }
  return `${redactedPath}?${params.join('&')}`;
}

/**
 * A field value (a Referer, a forwarded query) with the value of every
 * `name=value` parameter whose name is in `names` replaced by REDACTED, up
 * to the next `&` (a `;` or a blank is part of a value: URLSearchParams
 * reads it so). A value that is an absolute URL also loses its user
 * information and fragment (`redactUrl`); any other keeps every other byte.
 */
export function redactParameters(text: string, names: ReadonlySet<string>): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return redactUrl(text, names);
  if (names.size === 0 || !text.includes('=')) return text;
  return text.replace(/(^|[?&;#\s])([^=&;?#\s]*)=([^&#]*)/g, (whole, separator: string, name: string) =>
    isRedacted(name, names) ? `${separator}${name}=${REDACTED}` : whole,
  );
}

/** Whether a parameter's name, decoded and lower-cased, is one of `names` — `api_key[]` and `api_key[0]` as `api_key` too (PHP and qs read them so). */
function isRedacted(name: string, names: ReadonlySet<string>): boolean {
  const decoded = decodeName(name).toLowerCase();
  if (names.has(decoded)) return true;
  const bracket = decoded.indexOf('[');
  return bracket > 0 && names.has(decoded.slice(0, bracket));
}

/** A parameter name as its origin reads it (`+` a space, %-escapes decoded); as it is when it does not decode. */
export function decodeName(name: string): string {
  if (name.indexOf('%') === -1 && name.indexOf('+') === -1) return name;
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}
