/**
 * Cache-Control parsing (RFC 9111 §5.2), for requests and responses.
 * Names are case-insensitive; arguments may be tokens or quoted strings.
 */

export interface CacheControl {
  /** Seconds; `invalid` marks a value that was present but unusable (the response is then stale). */
  maxAge?: number | 'invalid';
  sMaxAge?: number | 'invalid';
  /** `true` when unqualified, the field names when qualified (`no-cache="set-cookie"`). */
  noCache?: true | string[];
  noStore?: true;
  private?: true | string[];
  public?: true;
  mustRevalidate?: true;
  proxyRevalidate?: true;
  immutable?: true;
  mustUnderstand?: true;
  staleWhileRevalidate?: number;
  staleIfError?: number;
  /** Request only: `max-stale` with no value accepts any staleness (Infinity). */
  maxStale?: number;
  minFresh?: number;
  onlyIfCached?: true;
}

/** RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31. */
export const DELTA_SECONDS_CAP = 2147483648;

/** The directives of a Cache-Control field (read-only: copy it to change it). */
export function parseCacheControl(value: string | string[] | undefined): Readonly<CacheControl> {
  if (value === undefined) return NONE;
  return deepFreeze(parse(Array.isArray(value) ? value.join(',') : value));
}

const NONE: Readonly<CacheControl> = Object.freeze({});

function deepFreeze(directives: CacheControl): Readonly<CacheControl> {
  if (Array.isArray(directives.noCache)) Object.freeze(directives.noCache);
  if (Array.isArray(directives.private)) Object.freeze(directives.private);
  return Object.freeze(directives);
}

function parse(text: string): CacheControl {
  const directives: CacheControl = {};
  for (const [rawName, argument] of splitDirectives(text)) {
    const name = rawName.toLowerCase();
    switch (name) {
      case 'max-age':
        // RFC 9111 §4.2.1: first occurrence wins.
        if (directives.maxAge === undefined) directives.maxAge = deltaSeconds(argument) ?? 'invalid';
        break;
      case 's-maxage':
        if (directives.sMaxAge === undefined) directives.sMaxAge = deltaSeconds(argument) ?? 'invalid';
        break;
      case 'no-cache':
        directives.noCache = mergeQualified(directives.noCache, argument);
        break;
      case 'private':
        directives.private = mergeQualified(directives.private, argument);
        break;
      case 'no-store':
        directives.noStore = true;
        break;
      case 'public':
        directives.public = true;
        break;
      case 'must-revalidate':
        directives.mustRevalidate = true;
        break;
      case 'proxy-revalidate':
        directives.proxyRevalidate = true;
        break;
      case 'immutable':
        directives.immutable = true;
        break;
      case 'must-understand':
        directives.mustUnderstand = true;
        break;
      case 'stale-while-revalidate': {
        const seconds = deltaSeconds(argument);
        if (seconds !== undefined && directives.staleWhileRevalidate === undefined) directives.staleWhileRevalidate = seconds;
        break;
      }
      case 'stale-if-error': {
        const seconds = deltaSeconds(argument);
        if (seconds !== undefined && directives.staleIfError === undefined) directives.staleIfError = seconds;
        break;
      }
      case 'max-stale':
        if (directives.maxStale === undefined) {
          // RFC 9111 §5.2.1.2: without a value, any staleness is acceptable.
          directives.maxStale = argument === undefined ? Number.POSITIVE_INFINITY : (deltaSeconds(argument) ?? 0);
        }
        break;
      case 'min-fresh':
        if (directives.minFresh === undefined) {
          const seconds = deltaSeconds(argument);
          if (seconds !== undefined) directives.minFresh = seconds;
        }
        break;
      case 'only-if-cached':
        directives.onlyIfCached = true;
        break;
      default:
        // RFC 9111 §5.2.3: unknown directives are ignored.
        break;
    }
  }
  return directives;
}

function mergeQualified(previous: true | string[] | undefined, argument: string | undefined): true | string[] {
  // An unqualified occurrence is the most restrictive reading and wins.
  if (previous === true) return true;
  if (argument === undefined) return true;
  const fields = argument
    .split(',')
    .map((field) => field.trim().toLowerCase())
    .filter((field) => field !== '');
  if (fields.length === 0) return true;
  return previous === undefined ? fields : [...previous, ...fields];
}

/** RFC 9111 §1.2.2: a non-negative integer; anything else is not a delta-seconds. */
export function deltaSeconds(argument: string | undefined): number | undefined {
  if (argument === undefined || argument === '' || !/^[0-9]+$/.test(argument)) return undefined;
  const seconds = Number(argument);
  return Math.min(seconds, DELTA_SECONDS_CAP);
}

/** Splits `a, b=1, c="x, y"` into [name, argument] pairs, honouring quoted strings. */
function splitDirectives(text: string): Array<[string, string | undefined]> {
  const directives: Array<[string, string | undefined]> = [];
  let i = 0;
  const length = text.length;
  while (i < length) {
    while (i < length && (text[i] === ' ' || text[i] === '\t' || text[i] === ',')) i += 1;
    if (i >= length) break;
    const nameStart = i;
    while (i < length && text[i] !== '=' && text[i] !== ',') i += 1;
    const name = text.slice(nameStart, i).trim();
    let argument: string | undefined;
    if (text[i] === '=') {
      i += 1;
      while (i < length && (text[i] === ' ' || text[i] === '\t')) i += 1;
      if (text[i] === '"') {
        i += 1;
        let quoted = '';
        while (i < length && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < length) i += 1;
          quoted += text[i];
          i += 1;
        }
        i += 1;
        argument = quoted;
        while (i < length && text[i] !== ',') i += 1;
      } else {
        const argStart = i;
        while (i < length && text[i] !== ',') i += 1;
        argument = text.slice(argStart, i).trim();
      }
    }
    if (name !== '') directives.push([name, argument]);
  }
  return directives;
}
