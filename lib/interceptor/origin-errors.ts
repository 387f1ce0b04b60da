/** How the origin failed: what a stale entry may stand in for, and what is undici's quirk rather than a failure. */

/** RFC 5861 §4: "an error is any situation that would result in a 500, 502, 503, or 504". */
export const ERROR_STATUSES = new Set([500, 502, 503, 504]);
/** Failures to reach the origin at all, as opposed to the caller giving up. */
const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/**
 * undici fails a 304 (or 204) that carries a Content-Length, as if its body
 * had been cut short; but such a response has no body by definition (RFC 9110
 * §8.6, §15.4.5). Its headers arrived whole, so it is treated as complete.
 */
export function isBodylessLengthMismatch(status: number, error: unknown): boolean {
  return (status === 304 || status === 204) && (error as { code?: unknown } | null)?.code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH';
}

/**
 * The origin failed: it could not be reached, or what it sent could not be
 * read (a reset, a body short of its Content-Length, broken framing — what a
 * proxy would answer with a 502). Not the caller giving up.
 */
export function isOriginFailure(error: unknown): boolean {
  // undici's HTTPParserError (its code, HPE_..., is not always set): the origin's bytes are not HTTP.
  if ((error as { name?: unknown } | null)?.name === 'HTTPParserError') return true;
  const code = (error as { code?: unknown } | null)?.code ?? (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (typeof code !== 'string') return false;
  return NETWORK_ERRORS.has(code) || code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH';
}
