/**
 * Targeted cache control (RFC 9213): fields like CDN-Cache-Control address
 * caches of one kind. A cache whose target list names a field present (and
 * valid) in a response obeys that field and ignores Cache-Control and
 * Expires (§2.2). Targeted fields are Structured Field Dictionaries
 * (RFC 8941): a field that does not parse is ignored, as is a directive whose
 * value has the wrong type.
 */
import { type CacheControl, DELTA_SECONDS_CAP, parseCacheControl } from './cache-control.js';
import type { ResponseHeaders } from './headers.js';

/** The directives that rule a response, and whether they came from a targeted field. */
export interface ResponseDirectives {
  directives: CacheControl;
  /** A targeted field ruled: Expires is ignored too. */
  targeted: boolean;
}

export function responseDirectives(headers: ResponseHeaders, targetList: readonly string[]): ResponseDirectives {
  for (const name of targetList) {
    const field = headers[name];
    if (field === undefined) continue;
    const directives = targetedDirectives(Array.isArray(field) ? field.join(', ') : field);
    if (directives !== undefined) return { directives, targeted: true };
  }
  return { directives: parseCacheControl(headers['cache-control']), targeted: false };
}

function targetedDirectives(value: string): CacheControl | undefined {
  const dictionary = parseDictionary(value);
  if (dictionary === undefined) return undefined;
  const directives: CacheControl = {};
  for (const [name, item] of dictionary) {
    switch (name) {
      case 'max-age':
      case 's-maxage':
      case 'stale-while-revalidate':
      case 'stale-if-error': {
        if (typeof item !== 'number' || !Number.isInteger(item) || item < 0) break;
        const seconds = Math.min(item, DELTA_SECONDS_CAP);
        if (name === 'max-age') directives.maxAge = seconds;
        else if (name === 's-maxage') directives.sMaxAge = seconds;
        else if (name === 'stale-while-revalidate') directives.staleWhileRevalidate = seconds;
        else directives.staleIfError = seconds;
        break;
      }
      case 'no-cache':
      case 'private': {
        const qualified =
          typeof item === 'string'
            ? item
                .split(',')
                .map((field) => field.trim().toLowerCase())
                .filter(Boolean)
            : undefined;
        if (item !== true && qualified === undefined) break;
        const value = qualified === undefined || qualified.length === 0 ? true : qualified;
        if (name === 'no-cache') directives.noCache = value;
        else directives.private = value;
        break;
      }
      case 'no-store':
      case 'public':
      case 'must-revalidate':
      case 'proxy-revalidate':
      case 'immutable':
        if (item !== true) break;
        if (name === 'no-store') directives.noStore = true;
        else if (name === 'public') directives.public = true;
        else if (name === 'must-revalidate') directives.mustRevalidate = true;
        else if (name === 'proxy-revalidate') directives.proxyRevalidate = true;
        else directives.immutable = true;
        break;
      default:
        break; // Unknown directives are ignored, as in Cache-Control.
    }
  }
  return directives;
}

type BareItem = number | string | boolean | Uint8Array | { token: string };
type Item = BareItem | BareItem[];

/** RFC 8941 §4.2.2: a Dictionary, members' parameters dropped (no cache directive uses them). */
export function parseDictionary(input: string): Map<string, Item> | undefined {
  const parser = new Parser(input);
  const members = new Map<string, Item>();
  parser.skipSpaces();
  if (parser.done) return members;
  for (;;) {
    const key = parser.key();
    if (key === undefined) return undefined;
    let value: Item | undefined = true;
    if (parser.peek() === '=') {
      parser.advance();
      value = parser.peek() === '(' ? parser.innerList() : parser.bareItem();
      if (value === undefined) return undefined;
    }
    if (!parser.parameters()) return undefined;
    members.set(key, value);
    parser.skipOws();
    if (parser.done) return members;
    if (parser.peek() !== ',') return undefined;
    parser.advance();
    parser.skipOws();
    if (parser.done) return undefined; // a trailing comma
  }
}

class Parser {
  #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  get done(): boolean {
    return this.#at >= this.#text.length;
  }

  peek(): string | undefined {
    return this.#text[this.#at];
  }

  advance(): void {
    this.#at += 1;
  }

  skipSpaces(): void {
    while (this.peek() === ' ') this.advance();
  }

  skipOws(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.advance();
  }

  key(): string | undefined {
    const match = /^[a-z*][a-z0-9_\-.*]*/.exec(this.#text.slice(this.#at));
    if (match === null) return undefined;
    this.#at += match[0].length;
    return match[0];
  }

  parameters(): boolean {
    while (this.peek() === ';') {
      this.advance();
      this.skipSpaces();
      if (this.key() === undefined) return false;
      if (this.peek() === '=') {
        this.advance();
        if (this.bareItem() === undefined) return false;
      }
    }
    return true;
  }

  innerList(): BareItem[] | undefined {
    this.advance(); // (
    const items: BareItem[] = [];
    for (;;) {
      this.skipSpaces();
      if (this.peek() === ')') {
        this.advance();
        return this.parameters() ? items : undefined;
      }
      const item = this.bareItem();
      if (item === undefined || !this.parameters()) return undefined;
      items.push(item);
      const next = this.peek();
      if (next !== ' ' && next !== ')') return undefined;
    }
  }

  bareItem(): BareItem | undefined {
    const rest = this.#text.slice(this.#at);
    const char = rest[0];
    if (char === undefined) return undefined;
    if (char === '-' || (char >= '0' && char <= '9')) {
      const match = /^-?\d{1,15}(\.\d{1,3})?/.exec(rest);
      if (match === null || (match[1] === undefined && match[0].replace('-', '').length > 15)) return undefined;
      // An integer is at most 15 digits; a decimal at most 12 before the point.
      if (match[1] !== undefined && (match[0].split('.')[0] as string).replace('-', '').length > 12) return undefined;
      this.#at += match[0].length;
      return Number(match[0]);
    }
    if (char === '"') {
      let value = '';
      for (let i = 1; i < rest.length; i++) {
        const c = rest[i] as string;
        if (c === '\\') {
          const escaped = rest[i + 1];
          if (escaped !== '"' && escaped !== '\\') return undefined;
          value += escaped;
          i += 1;
        } else if (c === '"') {
          this.#at += i + 1;
          return value;
        } else if (c < ' ' || c > '~') {
          return undefined;
        } else {
          value += c;
        }
      }
      return undefined;
    }
    if (char === ':') {
      const end = rest.indexOf(':', 1);
      if (end === -1 || !/^[A-Za-z0-9+/=]*$/.test(rest.slice(1, end))) return undefined;
      this.#at += end + 1;
      return new Uint8Array(Buffer.from(rest.slice(1, end), 'base64'));
    }
    if (char === '?') {
      if (rest[1] !== '0' && rest[1] !== '1') return undefined;
      this.#at += 2;
      return rest[1] === '1';
    }
    const token = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(rest);
    if (token === null) return undefined;
    this.#at += token[0].length;
    return { token: token[0] };
  }
}
