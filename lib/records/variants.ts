/**
 * Vary (RFC 9111 §4.1): a response that varies is stored as one variant per
 * combination of the request headers it names. The URL's key then holds a
 * small index (the header names and a generation); each variant lives under
 * a key derived from that generation and the normalized header values.
 */
import { randomUUID } from 'node:crypto';
import { digest } from '../digest.js';

/** Request header fields by lower-case name (as the policy normalizes them). */
export type RequestFields = Readonly<Record<string, string>>;

/** Fields whose values are never stored or keyed in the clear. */
const SENSITIVE = new Set(['authorization', 'cookie', 'proxy-authorization']);
/**
 * Content negotiation fields: case-insensitive lists whose member order carries
 * no meaning (preference is given by q-values, RFC 9110 §12.4.2).
 */
const NEGOTIATION = new Set(['accept', 'accept-encoding', 'accept-language', 'accept-charset']);

/**
 * The request's values for the Vary names, as flat [name, value] pairs (null
 * when absent), normalized: whitespace collapsed, negotiation lists
 * case-folded and sorted, credentials and ignored headers digested.
 */
export function varyPairs(names: readonly string[], headers: RequestFields, ignored: ReadonlySet<string>): Array<string | null> {
  const pairs: Array<string | null> = [];
  for (const name of names) {
    const raw = headers[name];
    if (raw === undefined) {
      pairs.push(name, null);
      continue;
    }
    let value = raw
      .trim()
      .replace(/\s*,\s*/g, ', ')
      .replace(/[ \t]+/g, ' ');
    if (NEGOTIATION.has(name))
      value = value
        .toLowerCase()
        .split(', ')
        .map((member) => member.replace(/\s*;\s*/g, ';'))
        .sort()
        .join(', ');
    if (SENSITIVE.has(name) || ignored.has(name)) value = `sha256:${digest(value)}`;
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
