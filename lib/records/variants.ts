/**
 * Vary (RFC 9111 §4.1): a response that varies is stored as one variant per
 * combination of the request headers it names. The URL's key then holds a
 * small index (the header names and a generation); each variant lives under
 * a key derived from that generation and the normalized header values.
 */
import { lowerAscii, trimOws } from '../ascii.js';
import { type CredentialDigests, digest } from '../digest.js';
import { redactParameters } from '../redact.js';

const { randomUUID } = process.getBuiltinModule('node:crypto'); // not an import (a cold start: scripts/bundle.mjs)

/** Request header fields by lower-case name (as the policy normalizes them). */
export type RequestFields = Readonly<Record<string, string>>;

/** Fields whose values are never stored or keyed in the clear: credentials (policy/key.ts's CREDENTIAL_FIELDS, and the proxy's). */
const SENSITIVE: ReadonlySet<string> = new Set(['authorization', 'cookie', 'proxy-authorization', 'x-api-key', 'api-key']);

/** Whether the value stored for this Vary name is a digest, never to be shown: a credential's, or an ignored field's. */
export function isHiddenVaryName(name: string, ignored: ReadonlySet<string>): boolean {
  return SENSITIVE.has(name) || ignored.has(name);
}
/**
 * Content negotiation fields: case-insensitive lists (RFC 9110 §12.5). Their
 * members keep their order: origins break ties between equal q-values by it
 * (Express's negotiator does), so two orders can get two responses.
 */
const NEGOTIATION = new Set(['accept', 'accept-encoding', 'accept-language', 'accept-charset']);

/**
 * The request's values for the Vary names, as flat [name, value] pairs (null
 * when absent), normalized as RFC 9111 §4.1 allows: the negotiation lists'
 * blanks (SP, HTAB) around members and within them collapsed and their case
 * folded (A–Z only), any other value only trimmed; credentials and ignored headers digested, ignored parameters in
 * any other value redacted (a Referer's `?api_key=`). Linear in the value's
 * length, whatever it holds.
 */
export function varyPairs(
  names: readonly string[],
  headers: RequestFields,
  ignored: ReadonlySet<string>,
  credentials: CredentialDigests,
): Array<string | null> {
  const pairs: Array<string | null> = [];
  for (const name of names) {
    const raw = headers[name];
    if (raw === undefined) {
      pairs.push(name, null);
      continue;
    }
    let value: string;
    if (NEGOTIATION.has(name)) {
      // A list whose syntax allows blanks around its members and parameters: those are collapsed, and case folded.
      value = raw
        .split(',')
        .map(trimOws)
        .join(', ')
        .replace(/[ \t]+/g, ' ');
      // Runs of blanks are single ones now: no pattern below can backtrack over a long run.
      value = lowerAscii(value).replace(/ ?; ?/g, ';');
    } else {
      // Any other field (a quoted string, a User-Agent's comments): the origin may tell `a  b` from `a b`,
      // and `a,b` from `a, b` (RFC 9111 §4.1 allows normalizing only where the field's syntax does).
      value = trimOws(raw);
    }
    if (SENSITIVE.has(name)) value = `credential:${credentials.of(value)}`;
    else if (ignored.has(name)) value = `sha256:${digest(value)}`;
    else value = redactParameters(value, ignored);
    pairs.push(name, value);
  }
  return pairs;
}

/** The names of flat [name, value] pairs. */
export function namesOf(pairs: ReadonlyArray<string | null>): string[] {
  const names: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) names.push(pairs[i] as string);
  return names;
}

export function sameVaryPairs(a: ReadonlyArray<string | null>, b: ReadonlyArray<string | null>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function newGeneration(): string {
  return randomUUID().slice(0, 8);
}

/** The key of one variant: the URL key, the index generation, and a digest of the values. */
export function variantKey(key: string, generation: string, pairs: ReadonlyArray<string | null>): string {
  let text = generation;
  for (let i = 0; i < pairs.length; i += 2) text += `\n${pairs[i]}:${pairs[i + 1] === null ? '\u0000' : pairs[i + 1]}`;
  return `${key}~${digest(text).slice(0, 22)}`;
}
