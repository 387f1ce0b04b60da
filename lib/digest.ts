/** SHA-256 digests, base64url: fixed-length stand-ins for keys, credentials and header values. */
const { hash, scryptSync } = process.getBuiltinModule('node:crypto'); // not an import (a cold start: scripts/bundle.mjs)

export function digest(text: string | Uint8Array): string {
  return hash('sha256', text, 'base64url');
}

/** Credentials remembered per cache, so that one user's requests stretch theirs once per process. */
const MEMO_SIZE = 4096;
/**
 * scrypt's cost for a password: about 3 ms of one core per digest (a guess
 * costs an attacker as much, instead of the fraction of a microsecond a
 * SHA-256 costs), 1 MiB of memory.
 */
const STRETCH = { N: 1024, r: 8, p: 1 } as const;
const SALT = 'cachette credential digest v1';

/**
 * Digests of credentials, as keys and Vary values hold them in the storage,
 * where whoever reads it could test guesses against them. A token or a
 * session cookie is long and random: its SHA-256 is safe. A Basic
 * credential is a user's password: it is stretched with scrypt, so that a
 * storage (or an export) leaked does not hand out passwords at the speed of
 * SHA-256. One per cache; the digests it made are remembered (a few
 * thousand), so each credential costs its stretching once per process.
 */
export class CredentialDigests {
  readonly #memo = new Map<string, string>();

  /** The digest of a credential field's value (`Basic …` stretched). */
  of(value: string): string {
    if (!/^\s*basic\s/i.test(value)) return digest(value);
    let stretched = this.#memo.get(value);
    if (stretched === undefined) {
      stretched = `scrypt:${scryptSync(value, SALT, 32, STRETCH).toString('base64url')}`;
      if (this.#memo.size >= MEMO_SIZE) this.#memo.clear();
      this.#memo.set(value, stretched);
    }
    return stretched;
  }
}
