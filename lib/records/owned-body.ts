/**
 * A body the cache keeps while it streams on to someone else. Each chunk is
 * copied the moment it arrives, before whoever receives it next can touch it:
 * a caller may rewrite the chunks it is given in place, and what it does to
 * them must never reach what the cache serves to others. The copies are
 * buffers of the cache's own, never a slab of Buffer's shared pool (which one
 * stored entry would otherwise keep alive).
 */

/** Up to this announced length, one buffer is allocated at the first chunk and filled as the body arrives. */
const PREALLOCATE_MAX = 1024 * 1024;

export class OwnedBody {
  /** The buffer of a body whose length was announced, filled up to `#size`. */
  #whole: Buffer | undefined;
  /** Copies of the chunks, once the body is not (or no longer) the length it announced. */
  #parts: Buffer[] | undefined;
  #expected: number | undefined;
  #size = 0;

  /** @param expectedLength the length the response announced (Content-Length), when it did. */
  constructor(expectedLength?: number) {
    // Allocated at the first chunk: an announced length is the origin's word, and a response may end before any byte.
    if (expectedLength !== undefined && expectedLength > 0 && expectedLength <= PREALLOCATE_MAX) this.#expected = expectedLength;
  }

  /** Bytes kept so far. */
  get size(): number {
    return this.#size;
  }

  append(chunk: Uint8Array): void {
    const length = chunk.byteLength;
    if (this.#parts === undefined && this.#expected !== undefined && this.#size + length <= this.#expected) {
      this.#whole ??= Buffer.allocUnsafeSlow(this.#expected);
      this.#whole.set(chunk, this.#size);
    } else {
      if (this.#parts === undefined) {
        // More than it announced, or no announcement: a copy of each chunk, joined at the end.
        this.#parts = this.#whole === undefined ? [] : [this.#whole.subarray(0, this.#size)];
        this.#whole = undefined;
      }
      const copy = Buffer.allocUnsafeSlow(length);
      copy.set(chunk);
      this.#parts.push(copy);
    }
    this.#size += length;
  }

  /** The whole body, as one buffer of exactly its size. */
  finish(): Buffer {
    const whole = this.#whole;
    if (whole !== undefined && whole.byteLength === this.#size) return whole;
    const parts = this.#parts ?? (whole === undefined ? [] : [whole.subarray(0, this.#size)]);
    if (parts.length === 1 && (parts[0] as Buffer).byteLength === (parts[0] as Buffer).buffer.byteLength) return parts[0] as Buffer;
    const body = Buffer.allocUnsafeSlow(this.#size);
    let offset = 0;
    for (const part of parts) {
      body.set(part, offset);
      offset += part.byteLength;
    }
    return body;
  }
}
