/**
 * Request bodies in keys, for methods cached on purpose (POST queries).
 *
 * By default a body is keyed by its exact bytes: two bodies an origin can
 * tell apart never share a key. Two changes are allowed, each lossless:
 *
 * - `ignoredParameters` leave their members out of a JSON body's top-level
 *   object, and their fields out of a form body: the rest is kept as sent
 *   (a JSON member's bytes, a form field's bytes, in their order);
 * - `bodyKey: 'canonical'` (opt-in) also keys a JSON body by its canonical
 *   text — object members sorted by name (repeated names keep their order),
 *   insignificant whitespace gone (RFC 8259 §2), every string and number as
 *   written (`1.0` is not `1`, `9007199254740993` is not `…992`) — and a form
 *   by its fields sorted by name, each as sent.
 *
 * Whatever the parser cannot read (not JSON, too deeply nested) is keyed by
 * its bytes: never an error, never a stack a body could exhaust (the parser
 * stops at MAX_DEPTH).
 */

export type BodyKeyMode = 'exact' | 'canonical';

/** Deeper JSON is keyed by its bytes: the parser never recurses further than this. */
const MAX_DEPTH = 64;
/**
 * Larger bodies are keyed by their bytes, nothing cut or sorted, and not
 * searched for ignored fields: reading a body costs a few times what
 * JSON.parse does, and a body as large as a keyed one may be (1 MiB) would
 * hold the event loop for hundreds of milliseconds.
 */
const MAX_PARSED_BYTES = 128 * 1024;

/**
 * The bytes a body is keyed by.
 * @param ignored top-level JSON member names and form field names the key leaves out (exact).
 */
export function bodyForKey(body: Uint8Array, contentType: string | undefined, ignored: ReadonlySet<string>, mode: BodyKeyMode): Uint8Array {
  if ((mode === 'exact' && ignored.size === 0) || body.byteLength > MAX_PARSED_BYTES) return body;
  const type = mediaType(contentType);
  if (type === 'application/json' || type.endsWith('+json')) {
    const text = jsonForKey(body, ignored, mode);
    return text === undefined ? body : Buffer.from(text, 'utf8');
  }
  if (type === 'application/x-www-form-urlencoded')
    return Buffer.from(formForKey(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1'), ignored, mode), 'latin1');
  return body;
}

function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const semicolon = contentType.indexOf(';');
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/**
 * The values a body gives to fields whose names (lower-cased) are in `names`:
 * a JSON body's top-level members (a string's value, any other value's
 * text), a form's fields (as sent). Nothing for a body that cannot be read.
 */
export function namedBodyValues(body: Uint8Array, contentType: string | undefined, names: ReadonlySet<string>): Array<{ name: string; value: string }> {
  if (names.size === 0 || body.byteLength > MAX_PARSED_BYTES) return [];
  const type = mediaType(contentType);
  const found: Array<{ name: string; value: string }> = [];
  if (type === 'application/json' || type.endsWith('+json')) {
    const text = utf8(body);
    const value = text === undefined ? undefined : new JsonParser(text).document();
    if (value?.kind !== 'object') return found;
    for (const member of value.members) {
      if (!names.has(member.name.toLowerCase()) || member.value.kind !== 'scalar') continue;
      const raw = member.value.text;
      found.push({ name: member.name, value: raw.startsWith('"') ? (JSON.parse(raw) as string) : raw });
    }
  } else if (type === 'application/x-www-form-urlencoded') {
    for (const raw of Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1').split('&')) {
      const equals = raw.indexOf('=');
      if (equals > 0 && names.has(decodeFormName(raw.slice(0, equals)).toLowerCase())) found.push({ name: raw.slice(0, equals), value: raw.slice(equals + 1) });
    }
  }
  return found;
}

/** UTF-8 text, a byte-order mark kept (it makes the text no JSON a parser here reads); undefined when the bytes are not UTF-8. */
function utf8(body: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
  } catch {
    return undefined;
  }
}

// ── Forms ─────────────────────────────────────────────────────────────────

/**
 * Fields as sent (latin1 keeps every byte), ignored ones out; in canonical
 * mode sorted by their name as the origin decodes it, fields of one name
 * keeping their order (`a=1&%61=2` gives a = [1, 2], not [2, 1]).
 */
function formForKey(text: string, ignored: ReadonlySet<string>, mode: BodyKeyMode): string {
  let fields = text.split('&').map((raw, index) => {
    const equals = raw.indexOf('=');
    return { raw, name: decodeFormName(equals === -1 ? raw : raw.slice(0, equals)), index };
  });
  if (ignored.size > 0) fields = fields.filter((field) => !ignored.has(field.name));
  if (mode === 'canonical') fields.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.index - b.index));
  return fields.map((field) => field.raw).join('&');
}

/** A form field name as UTF-8 text, to compare with an ignored name; undefined-safe (a bad escape stays as it is). */
function decodeFormName(latin1: string): string {
  if (!latin1.includes('%') && !latin1.includes('+')) return Buffer.from(latin1, 'latin1').toString('utf8');
  const bytes = Buffer.from(latin1.replace(/\+/g, ' '), 'latin1');
  const decoded: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte === 0x25 && i + 2 < bytes.length) {
      const value = Number.parseInt(String.fromCharCode(bytes[i + 1] as number, bytes[i + 2] as number), 16);
      if (!Number.isNaN(value)) {
        decoded.push(value);
        i += 2;
        continue;
      }
    }
    decoded.push(byte);
  }
  return Buffer.from(decoded).toString('utf8');
}

// ── JSON ──────────────────────────────────────────────────────────────────

/** A member of a JSON object: its name decoded (to sort and ignore) and as written, its value, where it lies in the text. */
interface JsonMember {
  name: string;
  rawName: string;
  value: JsonValue;
  start: number;
  end: number;
}

/** A JSON value as written: scalars keep their text; an object keeps its members. */
type JsonValue = { kind: 'scalar'; text: string } | { kind: 'array'; items: JsonValue[] } | { kind: 'object'; members: JsonMember[] };

/** The text a JSON body is keyed by, or undefined when it is not JSON the parser reads. */
function jsonForKey(body: Uint8Array, ignored: ReadonlySet<string>, mode: BodyKeyMode): string | undefined {
  const text = utf8(body);
  if (text === undefined) return undefined;
  const value = new JsonParser(text).document();
  if (value === undefined) return undefined;
  if (mode === 'canonical') return canonical(value, ignored, true);
  if (value.kind !== 'object' || !value.members.some((member) => ignored.has(member.name))) return text;
  // Only the ignored members go, each with the separator before it (after it, for the first): every other byte stays.
  const { members } = value;
  let out = text.slice(0, (members[0] as JsonMember).start);
  let first = true;
  for (let i = 0; i < members.length; i++) {
    const member = members[i] as JsonMember;
    if (ignored.has(member.name)) continue;
    if (!first) out += text.slice((members[i - 1] as JsonMember).end, member.start);
    out += text.slice(member.start, member.end);
    first = false;
  }
  return out + text.slice((members[members.length - 1] as JsonMember).end);
}

/** Canonical text: compact, members sorted by name (stable), scalars as written; ignored names left out at the top level. */
function canonical(value: JsonValue, ignored: ReadonlySet<string>, top: boolean): string {
  if (value.kind === 'scalar') return value.text;
  if (value.kind === 'array') return `[${value.items.map((item) => canonical(item, ignored, false)).join(',')}]`;
  const members = value.members
    .map((member, index) => ({ member, index }))
    .filter(({ member }) => !top || !ignored.has(member.name))
    .sort((a, b) => (a.member.name < b.member.name ? -1 : a.member.name > b.member.name ? 1 : a.index - b.index));
  return `{${members.map(({ member }) => `${member.rawName}:${canonical(member.value, ignored, false)}`).join(',')}}`;
}

/** A strict JSON parser (RFC 8259) that keeps what it reads as written; undefined on anything else, or past MAX_DEPTH. */
class JsonParser {
  readonly #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  document(): JsonValue | undefined {
    const value = this.#value(0);
    if (value === undefined) return undefined;
    this.#space();
    return this.#at === this.#text.length ? value : undefined;
  }

  #value(depth: number): JsonValue | undefined {
    this.#space();
    const char = this.#text[this.#at];
    if (char === '{') return depth >= MAX_DEPTH ? undefined : this.#object(depth + 1);
    if (char === '[') return depth >= MAX_DEPTH ? undefined : this.#array(depth + 1);
    const start = this.#at;
    if (char === '"') return this.#string() === undefined ? undefined : { kind: 'scalar', text: this.#text.slice(start, this.#at) };
    const match = /^(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)/.exec(this.#text.slice(start, start + 4096));
    if (match === null || match[0].length === 4096) return undefined;
    this.#at += match[0].length;
    return { kind: 'scalar', text: match[0] };
  }

  #object(depth: number): JsonValue | undefined {
    this.#at += 1;
    const members: JsonMember[] = [];
    this.#space();
    if (this.#text[this.#at] === '}') {
      this.#at += 1;
      return { kind: 'object', members };
    }
    for (;;) {
      this.#space();
      const start = this.#at;
      const name = this.#string();
      if (name === undefined) return undefined;
      const rawName = this.#text.slice(start, this.#at);
      this.#space();
      if (this.#text[this.#at] !== ':') return undefined;
      this.#at += 1;
      const value = this.#value(depth);
      if (value === undefined) return undefined;
      members.push({ name, rawName, value, start, end: this.#at });
      this.#space();
      const next = this.#text[this.#at];
      this.#at += 1;
      if (next === '}') return { kind: 'object', members };
      if (next !== ',') return undefined;
    }
  }

  #array(depth: number): JsonValue | undefined {
    this.#at += 1;
    const items: JsonValue[] = [];
    this.#space();
    if (this.#text[this.#at] === ']') {
      this.#at += 1;
      return { kind: 'array', items };
    }
    for (;;) {
      const item = this.#value(depth);
      if (item === undefined) return undefined;
      items.push(item);
      this.#space();
      const next = this.#text[this.#at];
      this.#at += 1;
      if (next === ']') return { kind: 'array', items };
      if (next !== ',') return undefined;
    }
  }

  /** A string at the cursor: its decoded value (the cursor then past its closing quote), or undefined. */
  #string(): string | undefined {
    const text = this.#text;
    if (text[this.#at] !== '"') return undefined;
    const start = this.#at;
    let i = start + 1;
    for (;;) {
      const code = text.charCodeAt(i);
      if (Number.isNaN(code) || code < 0x20) return undefined;
      if (code === 0x22) break;
      if (code === 0x5c) {
        const escaped = text[i + 1];
        if (escaped === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return undefined;
          i += 6;
          continue;
        }
        if (escaped === undefined || !'"\\/bfnrt'.includes(escaped)) return undefined;
        i += 2;
        continue;
      }
      i += 1;
    }
    this.#at = i + 1;
    return JSON.parse(text.slice(start, i + 1)) as string;
  }

  #space(): void {
    const text = this.#text;
    while (this.#at < text.length) {
      const char = text[this.#at];
      if (char !== ' ' && char !== '\t' && char !== '\n' && char !== '\r') return;
      this.#at += 1;
    }
  }
}
