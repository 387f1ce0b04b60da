/**
 * Cache-Control parsing (RFC 9111 §5.2), for requests and responses.
 * Names are case-insensitive; arguments may be tokens or quoted strings.
 */
import { lowerAscii, trimOws } from '../ascii.js';

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

/** RFC 9110 §5.6.2: the characters of a token (names are lower-cased before they are read). */
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9a-z]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]*$/;
/** Directives that, misspelt, are taken at their most restrictive (as undici's parser does): never stored, never shared, always revalidated. */
const RESTRICTIVE = ['no-store', 'private', 'no-cache'] as const;
/** Directives whose argument is delta-seconds. */
const NUMERIC = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error', 'max-stale', 'min-fresh']);
/** Directives that take no argument: one given one is not the directive (`public=bad`). */
const BOOLEAN = new Set(['public', 'must-revalidate', 'proxy-revalidate', 'immutable', 'must-understand', 'only-if-cached']);

/**
 * A malformed name that reads as a restrictive directive: one of them
 * followed by a character no token has (`no-store\u00a0`), or one of them
 * once the characters no token has are taken out (`no\u00a0-store`).
 */
function restrictiveName(name: string): (typeof RESTRICTIVE)[number] | undefined {
  // The usual case, a name all of token characters, is neither (and costs no string per character).
  if (TOKEN.test(name)) return undefined;
  for (const directive of RESTRICTIVE) {
    if (name.length > directive.length && name.startsWith(directive) && !TOKEN_CHAR.test(name[directive.length] as string)) return directive;
  }
  let tokenOnly = '';
  for (const char of name) if (TOKEN_CHAR.test(char)) tokenOnly += char;
  return tokenOnly !== name ? RESTRICTIVE.find((directive) => directive === tokenOnly) : undefined;
}

/**
 * Reads directives safely: what is malformed never makes a response more
 * reusable, and may make it less (undici hardened its parser the same way).
 * A permissive directive that is malformed — blanks around its `=`, an
 * argument where none is taken, a number that is not one — counts for
 * nothing, and a numeric one stays invalid whatever else is said of it; a
 * restrictive one misspelt with a character no token has is taken as
 * itself; repeated numbers keep the most restrictive; an unterminated quote
 * does not swallow the directives after it (the restrictive ones still
 * count; the numbers in it do not).
 */
function parse(text: string): CacheControl {
  const directives: CacheControl = {};
  // Made for the first number or the first invalid directive (most fields have one max-age, and nothing invalid).
  let values: Map<string, number> | undefined;
  let invalid: Set<string> | undefined;
  for (const { text: part, afterBrokenQuote } of splitDirectives(text)) {
    const lower = lowerAscii(part);
    const equals = lower.indexOf('=');
    const rawName = equals === -1 ? lower : lower.slice(0, equals);
    const name = trimOws(rawName);
    if (name === '') continue;
    const rawArgument = equals === -1 ? undefined : part.slice(equals + 1);
    // Blanks on either side of `=`: not the directive's syntax (RFC 9111 §5.2: token [ "=" ( token / quoted-string ) ]).
    const spaced = rawArgument !== undefined && (isBlank(rawName.charCodeAt(rawName.length - 1)) || isBlank(rawArgument.charCodeAt(0)));
    const argument = rawArgument === undefined ? undefined : trimOws(rawArgument);

    const restrictive = restrictiveName(name);
    if (restrictive !== undefined) {
      setRestrictive(directives, restrictive);
      continue;
    }
    if (NUMERIC.has(name)) {
      if (afterBrokenQuote || invalid?.has(name) === true) continue;
      const seconds = spaced ? undefined : numericArgument(name, argument);
      if (seconds === undefined) {
        invalid ??= new Set();
        invalid.add(name);
        values?.delete(name);
        continue;
      }
      const previous = values?.get(name);
      // Repeated with another value: the most restrictive (the shortest freshness, the longest min-fresh).
      values ??= new Map();
      values.set(name, previous === undefined ? seconds : name === 'min-fresh' ? Math.max(previous, seconds) : Math.min(previous, seconds));
      continue;
    }
    if (BOOLEAN.has(name)) {
      if (afterBrokenQuote || invalid?.has(name) === true) continue;
      if (argument !== undefined) {
        invalid ??= new Set();
        invalid.add(name);
        continue;
      }
      (directives as Record<string, unknown>)[camel(name)] = true;
      continue;
    }
    switch (name) {
      case 'no-store':
        // Whatever its argument (`no-store=false` is still no-store).
        directives.noStore = true;
        break;
      case 'no-cache':
      case 'private': {
        // RFC 9111 §5.2.2.4, §5.2.2.7: unqualified, or a quoted list of field names; anything else is taken unqualified.
        const fields = afterBrokenQuote || spaced ? undefined : fieldList(argument);
        if (name === 'no-cache') directives.noCache = mergeQualified(directives.noCache, fields);
        else directives.private = mergeQualified(directives.private, fields);
        break;
      }
      default:
        // RFC 9111 §5.2.3: unknown directives are ignored.
        break;
    }
  }
  if (invalid !== undefined)
    for (const name of invalid) {
      if (BOOLEAN.has(name)) delete (directives as Record<string, unknown>)[camel(name)];
      // A max-age or s-maxage present but unusable makes the response stale (RFC 9111 §4.2.1).
      if (name === 'max-age') directives.maxAge = 'invalid';
      if (name === 's-maxage') directives.sMaxAge = 'invalid';
    }
  if (values !== undefined) for (const [name, seconds] of values) (directives as Record<string, unknown>)[camel(name)] = seconds;
  return directives;
}

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** The property of each numeric or boolean directive (parse() reads no other through camel()). */
const PROPERTY: Readonly<Record<string, keyof CacheControl>> = Object.freeze({
  'max-age': 'maxAge',
  's-maxage': 'sMaxAge',
  'stale-while-revalidate': 'staleWhileRevalidate',
  'stale-if-error': 'staleIfError',
  'max-stale': 'maxStale',
  'min-fresh': 'minFresh',
  public: 'public',
  'must-revalidate': 'mustRevalidate',
  'proxy-revalidate': 'proxyRevalidate',
  immutable: 'immutable',
  'must-understand': 'mustUnderstand',
  'only-if-cached': 'onlyIfCached',
});

function camel(name: string): string {
  return PROPERTY[name] as string;
}

function setRestrictive(directives: CacheControl, name: (typeof RESTRICTIVE)[number]): void {
  if (name === 'no-store') directives.noStore = true;
  else if (name === 'private') directives.private = true;
  else directives.noCache = true;
}

/** delta-seconds, bare or quoted; max-stale alone accepts any staleness (RFC 9111 §5.2.1.2). */
function numericArgument(name: string, argument: string | undefined): number | undefined {
  if (argument === undefined) return name === 'max-stale' ? Number.POSITIVE_INFINITY : undefined;
  const bare = argument.length >= 2 && argument.startsWith('"') && argument.endsWith('"') ? argument.slice(1, -1) : argument;
  return deltaSeconds(bare);
}

/** The field names of a qualified no-cache or private, or undefined (unqualified) when there are none or they are not a well-formed list. */
function fieldList(argument: string | undefined): string[] | undefined {
  if (argument === undefined || argument === '') return undefined;
  const quoted = argument.startsWith('"');
  if (quoted && (argument.length < 2 || !argument.endsWith('"'))) return undefined;
  const inner = quoted ? argument.slice(1, -1) : argument;
  const fields = inner
    .split(',')
    .map((field) => lowerAscii(trimOws(field)))
    .filter((field) => field !== '');
  if (fields.length === 0 || fields.some((field) => ![...field].every((char) => TOKEN_CHAR.test(char)))) return undefined;
  return fields;
}

function mergeQualified(previous: true | string[] | undefined, fields: string[] | undefined): true | string[] {
  // An unqualified occurrence is the most restrictive reading and wins.
  if (previous === true || fields === undefined) return true;
  return previous === undefined ? fields : [...previous, ...fields];
}

/** RFC 9111 §1.2.2: a non-negative integer; anything else is not a delta-seconds. */
export function deltaSeconds(argument: string | undefined): number | undefined {
  if (argument === undefined || argument === '' || !/^[0-9]+$/.test(argument)) return undefined;
  const seconds = Number(argument);
  return Math.min(seconds, DELTA_SECONDS_CAP);
}

/**
 * Splits the field on commas outside quoted strings. A quote left open does
 * not run to the end: what follows it is split on commas too, marked as
 * read after a broken quote.
 */
function splitDirectives(text: string): Array<{ text: string; afterBrokenQuote: boolean }> {
  const parts: Array<{ text: string; afterBrokenQuote: boolean }> = [];
  let start = 0;
  let quoteAt = -1;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoteAt !== -1) {
      if (escaped) escaped = false;
      else if (char === '\\') escaped = true;
      else if (char === '"') quoteAt = -1;
    } else if (char === '"') {
      quoteAt = i;
    } else if (char === ',') {
      parts.push({ text: text.slice(start, i), afterBrokenQuote: false });
      start = i + 1;
    }
  }
  if (quoteAt === -1) {
    parts.push({ text: text.slice(start), afterBrokenQuote: false });
    return parts;
  }
  // The quote opened at quoteAt never closed: the part holding it, then the rest, comma by comma.
  let cursor = start;
  for (let i = quoteAt; i <= text.length; i++) {
    if (i === text.length || text[i] === ',') {
      parts.push({ text: text.slice(cursor, i), afterBrokenQuote: cursor > quoteAt });
      cursor = i + 1;
    }
  }
  return parts;
}
