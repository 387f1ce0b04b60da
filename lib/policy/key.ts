/**
 * Cache keys: method + normalized URL + the headers named in `matchHeaders`
 * + a digest of the credentials (when credentialed requests are cached per
 * credential) + a digest of the body (for non-safe methods cached on purpose).
 * Keys are SHA-256 digests: fixed length, whatever the URL, so every backend
 * can hold them (DynamoDB caps a sort key at 1,024 bytes).
 */
import { digest } from '../digest.js';
import type { RequestHeaders } from './headers.js';
import { canonicalOrigin, type NormalizedUrl } from './url.js';

/** What a key is computed from; also what a custom `key` function receives. */
export interface CacheKeyRequest {
  method: string;
  /** Normalized URL (sorted query, ignored parameters removed). */
  url: string;
  /** Lower-case request headers. */
  headers: Readonly<RequestHeaders>;
  /** The request body, for methods cached on purpose (POST); JSON key order normalized. */
  body?: Uint8Array | undefined;
}

export type KeyFunction = (request: CacheKeyRequest) => string;

/** A request's normalized URL and the key computed from it. */
export interface ResolvedKey {
  url: NormalizedUrl;
  key: string;
}

export function hasCredentials(headers: Readonly<RequestHeaders>): boolean {
  return headers['authorization'] !== undefined || headers['cookie'] !== undefined;
}

function credentialDigest(headers: Readonly<RequestHeaders>): string {
  return digest(`${headers['authorization'] ?? ''}\n${headers['cookie'] ?? ''}`);
}

export interface KeyPolicyOptions {
  matchHeaders: readonly string[];
  /** Key credentialed requests by a digest of their credentials. */
  perCredential: boolean;
  custom?: KeyFunction | undefined;
}

/** Distinct requests whose keys are remembered: hashing is the largest cost of a hit otherwise. */
const MEMO_SIZE = 4096;

export class KeyPolicy {
  readonly #origins = new Map<string, string>();
  readonly #matchHeaders: readonly string[];
  readonly #perCredential: boolean;
  readonly #custom: KeyFunction | undefined;

  /**
   * Resolved URLs and keys of requests that their method and URL alone
   * identify, by method and origin, then path: no string is built to look one up.
   */
  readonly #resolved = new Map<string, Map<string, ResolvedKey>>();
  #resolvedCount = 0;
  /** Whether a request's key depends on nothing but its method and URL (no matchHeaders, no custom key). */
  readonly keyDependsOnUrlOnly: boolean;

  constructor(options: KeyPolicyOptions) {
    this.#matchHeaders = options.matchHeaders;
    this.#perCredential = options.perCredential;
    this.#custom = options.custom;
    this.keyDependsOnUrlOnly = options.custom === undefined && options.matchHeaders.length === 0;
  }

  /**
   * The canonical origin of a request's `origin` (parsing it with URL is a
   * tenth of what a miss costs; requests name a handful of origins).
   */
  readonly canonicalOrigin = (origin: string | URL): string => {
    if (typeof origin !== 'string') return origin.origin;
    let canonical = this.#origins.get(origin);
    if (canonical === undefined) {
      canonical = canonicalOrigin(origin);
      if (this.#origins.size >= MEMO_SIZE) this.#origins.clear();
      this.#origins.set(origin, canonical);
    }
    return canonical;
  };

  /** A key the user chose (a `key` function's, a request's own): kept readable when short. */
  givenKey(key: string, headers: Readonly<RequestHeaders>): string {
    // A chosen key cannot be trusted to separate users: their credentials' digest is added.
    const full = this.#perCredential && hasCredentials(headers) ? `${key} credentials:${credentialDigest(headers)}` : key;
    // Digest long ones so any backend can hold them.
    return full.length <= 256 ? full : digest(full);
  }

  /** The URL and key remembered for a request that its method and URL alone identify. */
  resolved(methodAndOrigin: string, path: string): ResolvedKey | undefined {
    return this.#resolved.get(methodAndOrigin)?.get(path);
  }

  remember(methodAndOrigin: string, path: string, resolved: ResolvedKey): void {
    if (this.#resolvedCount >= MEMO_SIZE) {
      this.#resolved.clear();
      this.#resolvedCount = 0;
    }
    let paths = this.#resolved.get(methodAndOrigin);
    if (paths === undefined) {
      paths = new Map();
      this.#resolved.set(methodAndOrigin, paths);
    }
    if (!paths.has(path)) this.#resolvedCount++;
    paths.set(path, resolved);
  }

  keyFor(request: CacheKeyRequest): string {
    if (this.#custom !== undefined) {
      const key = this.#custom(request);
      if (typeof key !== 'string' || key === '') {
        throw new TypeError(`the key function must return a non-empty string, got ${typeof key}`);
      }
      return this.givenKey(key, request.headers);
    }
    let text = `${request.method} ${request.url}`;
    for (const name of this.#matchHeaders) {
      const value = request.headers[name];
      text += `\n${name}:${value === undefined ? '' : value}`;
    }
    if (this.#perCredential && hasCredentials(request.headers)) {
      // Never the credential itself: a digest of it.
      text += `\ncredentials:${credentialDigest(request.headers)}`;
    }
    if (request.body !== undefined) text += `\nbody:${digest(request.body)}`;
    return digest(text);
  }
}
