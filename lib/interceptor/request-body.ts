/**
 * Reads a request body into memory, for methods cached on purpose: the key
 * needs the bytes, and the origin then gets the same bytes.
 */

export type BodyRead = { bytes: Uint8Array } | { unsupported: string };

/** Bodies larger than this are forwarded but not cached: a cache key is not worth more memory. */
export const MAX_KEYED_BODY = 1024 * 1024;

export async function readRequestBody(body: unknown): Promise<BodyRead> {
  if (body === null || body === undefined) return { bytes: new Uint8Array(0) };
  if (typeof body === 'string') return { bytes: Buffer.from(body, 'utf8') };
  if (body instanceof Uint8Array) return { bytes: body };
  if (body instanceof ArrayBuffer) return { bytes: new Uint8Array(body) };
  if (ArrayBuffer.isView(body)) return { bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
  // Multipart bodies get a random boundary per request: they cannot make a stable key.
  if ((body as object).constructor?.name === 'FormData') return { unsupported: 'form-data' };
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' || typeof (body as Iterable<unknown>)[Symbol.iterator] === 'function') {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<unknown>) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk as Uint8Array));
    }
    return { bytes: Buffer.concat(chunks) };
  }
  return { unsupported: 'body' };
}
