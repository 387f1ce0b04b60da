/** SHA-256 digests, base64url: fixed-length stand-ins for keys, credentials and header values. */
import { hash } from 'node:crypto';

export function digest(text: string | Uint8Array): string {
  return hash('sha256', text, 'base64url');
}
