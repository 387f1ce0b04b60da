/**
 * What the cache stores: the record kinds and their fields. The codec
 * (codec.ts) turns them into bytes; nothing here knows how.
 *
 * Records handed out are read-only: one decoded record may be shared by
 * every hit on it (and by the memos that keep it), so no reader may change it.
 */

/** One stored response, with what the policy needs to reuse it without re-parsing headers. */
export interface StoredResponse {
  readonly kind: 'response';
  /** When the cache has no more use for the record (epoch ms), null for never. */
  readonly expiresAt: number | null;
  readonly status: number;
  readonly statusText: string;
  /** Response header pairs, flat: [name, value, name, value, ...]; names lower-case. */
  readonly headers: readonly string[];
  readonly body: Uint8Array;
  readonly method: string;
  /** The request URL, with ignored parameters redacted. */
  readonly url: string;
  /**
   * The key of the request it answers (for a variant, the key of its URL's
   * index): a record read under another key is not its request's.
   */
  readonly key: string;
  /** For a redirect, the key its Location leads to (so that deleting that one deletes this one); else null. */
  readonly redirect: string | null;
  /** Request header pairs named by Vary, flat; a null value means the header was absent. */
  readonly vary: ReadonlyArray<string | null> | null;
  /** Epoch ms when the request was sent and when its response arrived (RFC 9111 §4.2.3). */
  readonly requestTime: number;
  readonly responseTime: number;
  /** Corrected initial age in ms (RFC 9111 §4.2.3). */
  readonly initialAge: number;
  /** Freshness lifetime in ms; Infinity for "never expires". */
  readonly lifetime: number;
  /** Bit set of response directives that matter on reuse (see `ResponseFlags`). */
  readonly flags: number;
  /** Seconds of stale-while-revalidate / stale-if-error allowed by the response, -1 when absent. */
  readonly staleWhileRevalidate: number;
  readonly staleIfError: number;
  /** Header names not to send without revalidation (`no-cache="field"`), or null. */
  readonly hiddenFields: readonly string[] | null;
  /** Tags to purge it by (from `cacheTagsHeader` and `cachette.tags`). */
  readonly tags: readonly string[];
}

/** The index stored at a URL's key when its response varies on request headers (RFC 9111 §4.1). */
export interface StoredVariants {
  readonly kind: 'variants';
  readonly expiresAt: number | null;
  /** Lower-case request header names from Vary, sorted. */
  readonly names: readonly string[];
  /** Random per index: variant keys include it, so deleting the index orphans every variant. */
  readonly generation: string;
  /** Keys of the variants stored so far (newest last, bounded), to delete them with the URL. */
  readonly keys: readonly string[];
}

/** The redirect responses (their keys) whose Location points at a URL. */
export interface StoredAliases {
  readonly kind: 'aliases';
  readonly expiresAt: number | null;
  readonly keys: readonly string[];
}

export type StoredRecord = StoredResponse | StoredVariants | StoredAliases;

/** Response directives that matter on reuse, as bits of `StoredResponse.flags`. */
export const ResponseFlags = {
  noCache: 1,
  mustRevalidate: 2,
  proxyRevalidate: 4,
  sMaxAge: 8,
  immutable: 16,
  public: 32,
  /** Stored from a response that had Authorization on its request. */
  authorized: 64,
} as const;
