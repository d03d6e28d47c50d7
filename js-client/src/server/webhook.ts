// Checks the signature Rotor puts on its calls to auth_url,
// publish_hook_url and events_hook_url.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header holding `sha256=<hex HMAC-SHA256(project secret, signed material)>`. */
export const SIGNATURE_HEADER = 'x-rotor-signature';
/** The header holding the Unix time (seconds) a call was signed at. */
export const TIMESTAMP_HEADER = 'x-rotor-timestamp';

/** Headers as Node, Fetch or Express give them. */
export type HeadersLike = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /**
   * Largest age (and clock skew) accepted for a call with a timestamp, in
   * seconds. Default 300.
   */
  tolerance?: number;
  /**
   * Refuse calls without a timestamp header. Default true: Rotor signs
   * every call with one, and a call signed over the body alone could be
   * replayed for ever. Set false only while upgrading from a server that
   * did not send it.
   */
  requireTimestamp?: boolean;
  /** The clock, in milliseconds (tests). Default Date.now. */
  now?: () => number;
}

function header(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string | string[] | undefined>;
  for (const k of Object.keys(rec)) {
    if (k.toLowerCase() === name) {
      const v = rec[k];
      return Array.isArray(v) ? v[0] : v;
    }
  }
  return undefined;
}

const toBuffer = (body: string | Uint8Array): Buffer =>
  typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);

/**
 * Reports whether a call from Rotor is authentic: its signature is the
 * HMAC-SHA256 with the project secret of `<X-Rotor-Timestamp>.<raw body>`
 * and that timestamp is within `tolerance` of now (with
 * `requireTimestamp: false`, a call without the header may instead be
 * signed over the raw body alone). Pass the raw bytes, before any JSON
 * parsing.
 */
export function verifyWebhook(headers: HeadersLike, body: string | Uint8Array, secret: string, opts: VerifyWebhookOptions = {}): boolean {
  if (!secret) return false;
  const sig = header(headers, SIGNATURE_HEADER);
  if (!sig?.startsWith('sha256=')) return false;
  const got = Buffer.from(sig.slice(7), 'hex');
  const raw = toBuffer(body);
  const ts = header(headers, TIMESTAMP_HEADER);
  const mac = createHmac('sha256', secret);
  if (ts !== undefined) {
    if (!/^\d{1,12}$/.test(ts)) return false;
    const now = (opts.now ?? Date.now)() / 1000;
    if (Math.abs(now - Number(ts)) > (opts.tolerance ?? 300)) return false;
    mac.update(`${ts}.`);
  } else if (opts.requireTimestamp ?? true) {
    return false;
  }
  const want = mac.update(raw).digest();
  return got.length === want.length && timingSafeEqual(got, want);
}
