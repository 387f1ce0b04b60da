/**
 * Reads a request body into memory, for methods cached on purpose: the key
 * needs the bytes, and the origin then gets the same bytes (a copy of the
 * caller's, made before any I/O). A body past
 * MAX_KEYED_BODY is read no further: the origin gets what was read followed
 * by the rest, and the request is not cached.
 */

export type BodyRead = { bytes: Uint8Array } | { unsupported: 'body' | 'form-data'; body: unknown };

/** Bodies larger than this are forwarded but not cached: a cache key is not worth more memory. */
const MAX_KEYED_BODY = 1024 * 1024;

export async function readRequestBody(body: unknown, limit = MAX_KEYED_BODY): Promise<BodyRead> {
  if (body === null || body === undefined) return { bytes: new Uint8Array(0) };
  let bytes: Uint8Array | undefined;
  // Bytes the caller holds are copied: the key is read from them, and the origin must get exactly those bytes, not
  // what the caller writes into its buffer while the lookup runs (a buffer reused for the next request's body).
  if (typeof body === 'string') bytes = Buffer.from(body, 'utf8');
  else if (body instanceof ArrayBuffer) bytes = new Uint8Array(body);
  else if (ArrayBuffer.isView(body)) bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (bytes !== undefined) return bytes.byteLength > limit ? { unsupported: 'body', body } : { bytes: typeof body === 'string' ? bytes : Buffer.from(bytes) };
  // Multipart bodies get a random boundary per request: they cannot make a stable key.
  if ((body as object).constructor?.name === 'FormData') return { unsupported: 'form-data', body };
  const iterable = body as AsyncIterable<unknown> & Iterable<unknown>;
  const iterator =
    typeof iterable[Symbol.asyncIterator] === 'function'
      ? iterable[Symbol.asyncIterator]()
      : typeof iterable[Symbol.iterator] === 'function'
        ? iterable[Symbol.iterator]()
        : undefined;
  if (iterator === undefined) return { unsupported: 'body', body };
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) return { bytes: Buffer.concat(chunks, size) };
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : Buffer.from(next.value as Uint8Array);
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size > limit) return { unsupported: 'body', body: rejoined(chunks, iterator) };
  }
}

/** What was read, then the rest of the stream. */
async function* rejoined(read: Buffer[], rest: AsyncIterator<unknown> | Iterator<unknown>): AsyncIterable<Buffer> {
  yield* read;
  for (;;) {
    const next = await rest.next();
    if (next.done === true) return;
    yield typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : Buffer.from(next.value as Uint8Array);
  }
}
