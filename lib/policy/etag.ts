/** Entity tags (RFC 9110 §8.8.3): weak or strong, and how two compare. */

export function isWeak(tag: string): boolean {
  return tag.trimStart().startsWith('W/');
}

/** The tag without its weakness indicator: what the weak comparison compares (§8.8.3.2). */
function opaqueTag(tag: string): string {
  const trimmed = tag.trim();
  return isWeak(trimmed) ? trimmed.slice(2) : trimmed;
}

/** The weak comparison: W/ does not matter. */
export function weaklyEqual(a: string, b: string): boolean {
  return opaqueTag(a) === opaqueTag(b);
}
