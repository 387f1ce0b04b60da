/** Header shapes in and out of undici, normalized once per request. */
import { trimOws } from '../ascii.js';

/** Request headers as undici accepts them in dispatch options. */
export type RequestHeadersInput =
  | Record<string, string | string[] | undefined>
  | Array<string | Buffer | Array<string | Buffer>>
  | Iterable<[string, string | string[] | undefined]>
  | null
  | undefined;

/** Lower-case names; repeated fields joined as RFC 9110 §5.3 allows (Cookie with "; "). */
export type RequestHeaders = Record<string, string>;

/** Response headers as undici hands them to `onResponseStart`. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/**
 * The class of field maps. Its prototype is empty, frozen, and has no
 * prototype of its own, so a map inherits nothing: a field name is data from
 * the wire, and one may be called `constructor`, `toString` or `__proto__`
 * (which an ordinary object reads as inherited, or drops). Unlike
 * `Object.create(null)`, which V8 keeps in its slow dictionary mode, a map
 * made with `new` starts in fast mode: filling and copying one is about ten
 * times faster (ARCHITECTURE.md, "Memos"), and every hit copies one.
 */
class FieldMap {}
Reflect.deleteProperty(FieldMap.prototype, 'constructor');
Object.setPrototypeOf(FieldMap.prototype, null);
Object.freeze(FieldMap.prototype);

/** A map of header fields that inherits nothing (see FieldMap). */
export function fieldMap<T = string | string[] | undefined>(): Record<string, T> {
  return new FieldMap() as Record<string, T>;
}

/**
 * A copy of `headers` in a map that inherits nothing (see FieldMap); every own
 * field kept, `__proto__` included, and the value lists of repeated fields
 * copied too: a map the cache hands out is its receiver's to change, lists
 * and all, and what it does to them must not reach the cache's own.
 * @param lists the names whose values are lists, when the caller knows them (a hit's memo): only those are looked at.
 */
export function copyFields(headers: Readonly<ResponseHeaders>, lists?: readonly string[]): ResponseHeaders {
  const copy = Object.assign(fieldMap(), headers);
  if (lists === undefined) {
    for (const name in copy) {
      const value = copy[name];
      if (Array.isArray(value)) copy[name] = value.slice();
    }
  } else {
    for (const name of lists) copy[name] = (copy[name] as string[]).slice();
  }
  return copy;
}

/** The names of the fields whose values are lists (repeated fields). */
export function listFields(headers: Readonly<ResponseHeaders>): string[] {
  const names: string[] = [];
  for (const name in headers) if (Array.isArray(headers[name])) names.push(name);
  return names;
}

/** What a request without header fields normalizes to: one shared, read-only object. */
export const NO_REQUEST_HEADERS: RequestHeaders = Object.freeze(fieldMap<string>());

export function normalizeRequestHeaders(input: RequestHeadersInput): RequestHeaders {
  if (input == null) return NO_REQUEST_HEADERS;
  const headers: RequestHeaders = fieldMap();
  let added = false;
  if (Array.isArray(input)) {
    if (input.length > 0 && Array.isArray(input[0])) {
      for (const pair of input as Array<Array<string | Buffer>>) added = addField(headers, pair[0], pair[1]) || added;
    } else {
      for (let i = 0; i + 1 < input.length; i += 2) added = addField(headers, input[i] as string | Buffer, input[i + 1] as string | Buffer | string[]) || added;
    }
  } else if (typeof (input as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of input as Iterable<[string, string | string[] | undefined]>) added = addField(headers, name, value) || added;
  } else {
    // Own fields only, as undici reads them (Object.keys): one inherited through a prototype is never sent.
    for (const name of Object.keys(input)) {
      added = addField(headers, name, (input as Record<string, string | string[] | undefined>)[name]) || added;
    }
  }
  return added ? headers : NO_REQUEST_HEADERS;
}

/**
 * Request headers given as [name, value] pairs in an array, as undici's own
 * cache interceptor takes them (and undici's Client alone, reading any array
 * as a flat list, refuses), as that flat list: what the cache keys and what
 * it sends are one. Undefined when an item is no pair: undici refuses those.
 */
export function flattenHeaderPairs(pairs: readonly unknown[]): unknown[] | undefined {
  const flat: unknown[] = [];
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) return undefined;
    flat.push(pair[0], pair[1]);
  }
  return flat;
}

function addField(headers: RequestHeaders, rawName: unknown, rawValue: unknown): boolean {
  // undici leaves out a field whose value is undefined, and sends one whose value is null, empty.
  if (rawName == null || rawValue === undefined) return false;
  if (rawValue === null) rawValue = '';
  const name = fieldText(rawName).toLowerCase();
  const value = Array.isArray(rawValue) ? rawValue.map(fieldText).join(joiner(name)) : fieldText(rawValue);
  const previous = headers[name];
  headers[name] = previous === undefined ? value : previous + joiner(name) + value;
  return true;
}

/** A field's name or value as text: bytes one character each (latin1, as undici sends them), never decoded as UTF-8 (which merges distinct bytes). */
function fieldText(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('latin1') : String(value);
}

function joiner(name: string): string {
  return name === 'cookie' ? '; ' : ', ';
}

/**
 * Connection-specific fields are never stored (RFC 9111 §3.1), nor are fields
 * that only make sense for one hop or one proxy.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authentication-info',
  'proxy-authorization',
]);

/** Response header pairs to store: flat, lower-case names, hop-by-hop fields and those named by Connection left out. */
export function storableHeaderPairs(headers: ResponseHeaders, omit?: ReadonlySet<string>): string[] {
  const connection = headers['connection'];
  const named = connection === undefined ? undefined : connectionNames(connection);
  const pairs: string[] = [];
  for (const rawName in headers) {
    const value = headers[rawName];
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    if (HOP_BY_HOP.has(name) || named?.has(name) || omit?.has(name)) continue;
    if (Array.isArray(value)) for (const item of value) pairs.push(name, String(item));
    else pairs.push(name, String(value));
  }
  return pairs;
}

/**
 * The fields a Connection header names (RFC 9110 §7.6.1), besides those hop-by-hop
 * anyway; undefined when there are none (`keep-alive`, `close`: most responses).
 */
function connectionNames(connection: string | string[]): ReadonlySet<string> | undefined {
  if (connection === 'keep-alive' || connection === 'close') return undefined;
  let names: Set<string> | undefined;
  for (const token of splitList(connection)) {
    const name = token.toLowerCase();
    if (HOP_BY_HOP.has(name)) continue;
    names ??= new Set();
    names.add(name);
  }
  return names;
}

/** Builds the object form undici handlers expect; repeated names become arrays. */
export function pairsToHeaders(pairs: readonly string[], skip?: (name: string) => boolean): ResponseHeaders {
  const headers = fieldMap<string | string[]>();
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i] as string;
    if (skip?.(name)) continue;
    const value = pairs[i + 1] as string;
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else headers[name] = [previous, value];
  }
  return headers;
}

/** The first value of a header, whatever its shape. */
export function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The value of a name in flat pairs (first occurrence). */
export function pairValue(pairs: readonly string[], name: string): string | undefined {
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === name) return pairs[i + 1];
  return undefined;
}

/** Splits a comma-separated list field (RFC 9110 §5.6.1), dropping empty members; only SP and HTAB are blanks. */
export function splitList(value: string | string[]): string[] {
  const joined = Array.isArray(value) ? value.join(',') : value;
  const members: string[] = [];
  for (const part of joined.split(',')) {
    const trimmed = trimOws(part);
    if (trimmed !== '') members.push(trimmed);
  }
  return members;
}
