/**
 * Cache keys: the target URI — method, normalized URL, and the authority a
 * `Host` field names when it is not the origin's — + the headers named in
 * `matchHeaders` + a digest of the credentials (when credentialed requests
 * are cached per credential) + the body's bytes and the fields that say how
 * to read them (for non-safe methods cached on purpose). Nothing an origin
 * can tell apart is merged (see url.ts and body.ts for the two lossless
 * normalizations). What is digested is a JSON array of those parts: no part
 * can spill into another (a path holding `\nhost:…` is a path, not a Host).
 * Keys are SHA-256 digests: fixed length, whatever the URL, so every backend
 * can hold them (DynamoDB caps a sort key at 1,024 bytes).
 */
import { CredentialDigests, digest } from '../digest.js';
import { type BodyKeyMode, bodyForKey } from './body.js';
import type { RequestHeaders } from './headers.js';
import { authorityOverride, canonicalOrigin, type NormalizedUrl } from './url.js';

/** The form of a computed key: a SHA-256 digest in base64url (digest.ts). */
const COMPUTED_FORM = /^[A-Za-z0-9_-]{43}$/;

/** What a key is computed from; also what a custom `key` function receives. */
export interface CacheKeyRequest {
  method: string;
  /** Normalized URL (sorted query, ignored parameters removed). */
  url: string;
  /** Lower-case request headers (`host` among them when the request names another authority). */
  headers: Readonly<RequestHeaders>;
  /** The request body as sent, for methods cached on purpose (POST). */
  body?: Uint8Array | undefined;
}

export type KeyFunction = (request: CacheKeyRequest) => string;

/** A request's normalized URL and the key computed from it. */
export interface ResolvedKey {
  url: NormalizedUrl;
  key: string;
}

/**
 * Request fields that carry a credential: RFC 9110's Authorization and
 * Cookie, and the API-key fields SDKs send in their place (Azure OpenAI's
 * `api-key`, Anthropic's and many gateways' `x-api-key`). A request carrying
 * one never shares an entry with another credential.
 */
const CREDENTIAL_FIELDS: readonly string[] = ['authorization', 'cookie', 'x-api-key', 'api-key'];

export function hasCredentials(headers: Readonly<RequestHeaders>): boolean {
  for (const name of CREDENTIAL_FIELDS) if (headers[name] !== undefined) return true;
  return false;
}

/** The text of a request's credentials, whose digest its key carries. */
function credentialText(headers: Readonly<RequestHeaders>): string {
  // Authorization and Cookie alone keep the text of keys stored before the API-key fields joined them.
  const apiKeys = headers['x-api-key'] === undefined && headers['api-key'] === undefined ? '' : `\n${headers['x-api-key'] ?? ''}\n${headers['api-key'] ?? ''}`;
  return `${headers['authorization'] ?? ''}\n${headers['cookie'] ?? ''}${apiKeys}`;
}

/** The authority a `Host` field names, when it is not the URL's own; null otherwise. */
function authorityOf(headers: Readonly<RequestHeaders>, url: string): string | null {
  const host = headers['host'];
  if (host === undefined) return null;
  const slash = url.indexOf('/', url.indexOf('://') + 3);
  return authorityOverride(host, slash === -1 ? url : url.slice(0, slash)) ?? null;
}

export interface KeyPolicyOptions {
  matchHeaders: readonly string[];
  /** Key credentialed requests by a digest of their credentials. */
  perCredential: boolean;
  custom?: KeyFunction | undefined;
  /** Body fields left out of the key (`ignoredParameters`). */
  ignoredFields?: ReadonlySet<string> | undefined;
  /** How bodies are keyed: their bytes (default), or canonical JSON and forms. */
  bodyKey?: BodyKeyMode | undefined;
  /** The cache's digests of credentials (a Basic one is stretched). */
  credentials?: CredentialDigests | undefined;
  /**
   * Credential fields left out of keys (lower case): a recording's `ignoredParameters`, so that a
   * replay with another credential (a CI run's dummy token) finds what a run with the real one recorded.
   */
  unkeyedCredentials?: ReadonlySet<string> | undefined;
}

/** Distinct requests whose keys are remembered: hashing is the largest cost of a hit otherwise. */
const MEMO_SIZE = 4096;

export class KeyPolicy {
  readonly #origins = new Map<string, string>();
  readonly #matchHeaders: readonly string[];
  readonly #perCredential: boolean;
  readonly #custom: KeyFunction | undefined;
  readonly #ignoredFields: ReadonlySet<string>;
  readonly #bodyKey: BodyKeyMode;
  readonly #credentials: CredentialDigests;
  readonly #unkeyedCredentials: ReadonlySet<string> | undefined;

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
    this.#ignoredFields = options.ignoredFields ?? new Set();
    this.#bodyKey = options.bodyKey ?? 'exact';
    this.#credentials = options.credentials ?? new CredentialDigests();
    const unkeyed = options.unkeyedCredentials;
    this.#unkeyedCredentials = unkeyed !== undefined && CREDENTIAL_FIELDS.some((name) => unkeyed.has(name)) ? unkeyed : undefined;
    this.keyDependsOnUrlOnly = options.custom === undefined && options.matchHeaders.length === 0;
  }

  /**
   * The canonical origin of a request's `origin` (parsing it with URL on
   * every miss is measured in ARCHITECTURE.md, "Memos"; requests name a
   * handful of origins).
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

  /**
   * A key the user chose (a `key` function's, a request's own): kept as it is
   * when short. It cannot be trusted to separate users or sites: with
   * credentials (per credential) or a Host of its own, the key is the digest
   * of it with their digest and the authority.
   */
  givenKey(key: string, headers: Readonly<RequestHeaders>, url: string): string {
    const authority = authorityOf(headers, url);
    const credentials = this.#credentialPart(headers);
    if (authority !== null || credentials !== null) return digest(JSON.stringify(['chosen', key, authority, credentials]));
    // As chosen, unless it is long (any backend can hold a digest) or has the form of a computed key (a SHA-256 in
    // base64url), which anyone who knows a URL can work out: stored as it is, it would be that request's entry.
    return key.length <= 256 && !COMPUTED_FORM.test(key) ? key : digest(JSON.stringify(['chosen', key]));
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

  /** What a key holds of a request's credentials: never the credentials themselves, their digest (see CredentialDigests); null without any. */
  #credentialPart(headers: Readonly<RequestHeaders>): string | null {
    if (!this.#perCredential) return null;
    const unkeyed = this.#unkeyedCredentials;
    let keyed = headers;
    if (unkeyed !== undefined) {
      const copy: RequestHeaders = { ...headers };
      for (const name of CREDENTIAL_FIELDS) if (unkeyed.has(name)) delete copy[name];
      keyed = copy;
    }
    return hasCredentials(keyed) ? this.#credentials.of(credentialText(keyed)) : null;
  }

  keyFor(request: CacheKeyRequest): string {
    if (this.#custom !== undefined) {
      const key = this.#custom(request);
      if (typeof key !== 'string' || key === '') {
        throw new TypeError(`the key function must return a non-empty string, got ${typeof key}`);
      }
      return this.givenKey(key, request.headers, request.url);
    }
    const headers = request.headers;
    const parts: Array<string | null> = [request.method, request.url, authorityOf(headers, request.url)];
    for (const name of this.#matchHeaders) parts.push(headers[name] ?? null);
    // Never the credential itself: a digest of it.
    parts.push(this.#credentialPart(headers));
    if (request.body !== undefined) {
      // How to read the bytes is part of what they say (RFC 9110 §8.3, §8.4).
      parts.push(headers['content-type'] ?? null, headers['content-encoding'] ?? null);
      parts.push(digest(bodyForKey(request.body, headers['content-type'], this.#ignoredFields, this.#bodyKey)));
    }
    return digest(JSON.stringify(parts));
  }
}
