// HS256 JWTs for Rotor's connection and subscription tokens, with
// node:crypto only.
import { createHmac } from 'node:crypto';

const b64url = (v: string | Buffer): string => Buffer.from(v).toString('base64url');

/** Signs claims as an HS256 JWT with secret. */
export function signHS256(claims: Record<string, unknown>, secret: string): string {
  if (!secret) throw new TypeError('rotor-js/server: a project secret is required to sign tokens');
  const head = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** The exp claim: an absolute expiry wins over a lifetime in seconds. */
export function expiry(expiresAt: Date | number | undefined, expiresIn: number | undefined, now: number): number | undefined {
  if (expiresAt !== undefined) {
    const ms = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt * 1000;
    return Math.floor(ms / 1000);
  }
  if (expiresIn !== undefined) return Math.floor(now / 1000) + Math.floor(expiresIn);
  return undefined;
}
