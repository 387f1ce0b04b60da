/**
 * What a request carries that `ignoredParameters` names — values the key
 * leaves out and no output shows — and whether its response hands one back.
 * A response that does was not the same for another value, whatever the
 * option says: stored, it would hand one caller's secret to the next
 * (a redirect to `/home?api_key=…`, a `next=` that quotes the request).
 */
import { decodeName } from '../redact.js';
import { namedBodyValues } from './body.js';
import type { RequestHeaders, ResponseHeaders } from './headers.js';

export interface Secret {
  readonly name: string;
  readonly value: string;
}

const NO_SECRETS: readonly Secret[] = Object.freeze([]);

/** Values this short are found only as `name=value` in a field that carries URLs: alone they are everywhere. */
const MIN_SECRET_LENGTH = 8;
/** Fields that carry URLs, where a `name=value` handed back is looked for. */
const URL_FIELDS = new Set(['location', 'content-location', 'link', 'refresh']);

/**
 * The values of the request's query parameters, top-level body fields and
 * header fields whose names, lower-cased, are in `names`.
 */
export function requestSecrets(path: string, headers: Readonly<RequestHeaders>, body: Uint8Array | undefined, names: ReadonlySet<string>): readonly Secret[] {
  // No names, no secrets: every request of such a cache (the default) shares one empty list.
  if (names.size === 0) return NO_SECRETS;
  const found: Secret[] = [];
  const question = path.indexOf('?');
  if (question !== -1) {
    const hash = path.indexOf('#', question);
    for (const raw of path.slice(question + 1, hash === -1 ? undefined : hash).split('&')) {
      const equals = raw.indexOf('=');
      if (equals > 0 && names.has(decodeName(raw.slice(0, equals)).toLowerCase())) found.push({ name: raw.slice(0, equals), value: raw.slice(equals + 1) });
    }
  }
  for (const name of names) {
    const value = headers[name];
    if (value !== undefined) found.push({ name, value });
  }
  if (body !== undefined) found.push(...namedBodyValues(body, headers['content-type'], names));
  return found.filter((secret) => secret.value !== '');
}

/**
 * Whether a response's fields carry one of the secrets back: a long enough
 * value anywhere, a `name=value` in a field that carries URLs — as sent, or
 * under up to three layers of percent-encoding (`next=%2Fhome%3Fapi_key%3D…`),
 * whatever the case of its escapes, a space spelt `+` or `%20` either way
 * (forms and URLSearchParams spell it `+`, encodeURIComponent `%20`).
 */
export function carriesSecret(headers: Readonly<ResponseHeaders>, secrets: readonly Secret[]): boolean {
  const forms = secrets.map((secret) => ({ name: spaced(decoded(secret.name)).toLowerCase(), values: variants(secret.value) }));
  for (const field of Object.keys(headers)) {
    const value = headers[field];
    if (value === undefined) continue;
    const raw = Array.isArray(value) ? value.join('\n') : value;
    const texts = [...new Set([raw, decoded(raw), spaced(decoded(raw))])];
    // A name is matched whatever its case (`API_KEY=` for `api_key`): the origin may spell it its way.
    const lowered = URL_FIELDS.has(field.toLowerCase()) ? texts.map((text) => text.toLowerCase()) : [];
    for (const { name, values } of forms) {
      for (const secret of values) {
        if (secret.length >= MIN_SECRET_LENGTH && texts.some((text) => text.includes(secret))) return true;
        const pair = `${name}=${secret.toLowerCase()}`;
        if (lowered.some((text) => text.includes(pair))) return true;
      }
    }
  }
  return false;
}

/** A value as sent, decoded, and decoded with `+` read as a space. */
function variants(value: string): string[] {
  const plain = decoded(value);
  return [...new Set([value, plain, spaced(plain), decoded(value.replace(/\+/g, ' '))])];
}

/** `+` as the space a form's encoding makes of it. */
function spaced(text: string): string {
  return text.includes('+') ? text.replace(/\+/g, ' ') : text;
}

/** Percent-decoded until nothing changes, three times at most (both sides alike); what does not decode stays as it is. */
function decoded(text: string): string {
  let current = text;
  for (let i = 0; i < 3 && current.includes('%'); i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return current;
    }
    if (next === current) return current;
    current = next;
  }
  return current;
}
