/**
 * Text of HTTP fields as HTTP reads it, not as JavaScript does: `trim()`
 * also removes U+00A0 and other Unicode spaces, `toLowerCase()` folds
 * Latin-1 letters (À to à) — bytes an origin tells apart. Here only SP and
 * HTAB are whitespace (RFC 9110 §5.6.3) and only A–Z have a lower case.
 */

/** Without the SP and HTAB around it. */
export function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start += 1;
  while (end > start && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end -= 1;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** With A–Z lower-cased, and nothing else. */
export function lowerAscii(text: string): string {
  return /[A-Z]/.test(text) ? text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase()) : text;
}
