/**
 * What the CLI prints of what it read from a storage. A URL, a Vary value,
 * a tag or a key was written by an origin, by anyone who can write the
 * storage, or by the author of an export file: a control character in it
 * must not reach the operator's terminal, where it would clear the screen,
 * set the window title, move the cursor or hide text. Text output shows
 * them escaped; JSON output spells them as \u escapes, which read back as
 * the same strings.
 */

/**
 * C0 controls and DEL, C1 controls, and the format characters that reorder
 * or break what a terminal shows (bidirectional marks, overrides and
 * isolates, line and paragraph separators).
 */
export function isUnprintable(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x2028 && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/** `text` with each unprintable character replaced by what `spell` makes of its code. */
function escaped(text: string, spell: (code: number) => string): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!isUnprintable(code)) continue;
    out += text.slice(start, i) + spell(code);
    start = i + 1;
  }
  return start === 0 ? text : out + text.slice(start);
}

/** One line of text as a terminal may show it: every unprintable character as \xNN or \u{NNNN}. */
export function printable(text: string): string {
  return escaped(text, (code) => (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`));
}

/** A value as one line of JSON with no unprintable character in it (JSON.stringify leaves DEL, C1 and the format characters as they are). */
export function jsonLine(value: unknown): string {
  return escaped(JSON.stringify(value), (code) => `\\u${code.toString(16).padStart(4, '0')}`);
}
