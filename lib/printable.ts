/**
 * What the CLI prints, and what an export writes, of what was read from a
 * storage. A URL, a Vary value,
 * a tag or a key was written by an origin, by anyone who can write the
 * storage, or by the author of an export file: a control character in it
 * must not reach the operator's terminal, where it would clear the screen,
 * set the window title, move the cursor or hide text. Text output shows
 * them escaped; JSON output spells them as \u escapes, which read back as
 * the same strings.
 */

/**
 * Controls (C0, DEL, C1: Unicode's Cc), format characters (Cf: bidirectional
 * marks, overrides and isolates, zero-width characters, the Arabic letter
 * mark…), line and paragraph separators, and lone surrogates: what drives a
 * terminal, or changes what it shows without being seen.
 */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/** Whether a character (a code point: a surrogate pair is one) is unprintable. */
export function isUnprintable(char: string): boolean {
  return UNPRINTABLE.test(char);
}

/** `text` with each unprintable character replaced by what `spell` makes of its code. */
function escaped(text: string, spell: (code: number) => string): string {
  if (!UNPRINTABLE.test(text)) return text;
  let out = '';
  for (const char of text) out += isUnprintable(char) ? spell(char.codePointAt(0) as number) : char;
  return out;
}

/** One line of text as a terminal may show it: every unprintable character as \xNN or \u{NNNN}. */
export function printable(text: string): string {
  return escaped(text, (code) => (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`));
}

/** A value as one line of JSON with no unprintable character in it (JSON.stringify leaves DEL, C1 and the format characters as they are). */
export function jsonLine(value: unknown): string {
  return escaped(JSON.stringify(value), (code) => `\\u${code.toString(16).padStart(4, '0')}`);
}

/**
 * A value as indented JSON (a HAR file) with no unprintable character in it:
 * as jsonLine, but the line breaks of the indentation stay (inside strings,
 * JSON.stringify has already escaped every line break).
 */
export function jsonDocument(value: unknown): string {
  return escaped(JSON.stringify(value, null, 2), (code) => (code === 0x0a ? '\n' : `\\u${code.toString(16).padStart(4, '0')}`));
}
