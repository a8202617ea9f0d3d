/**
 * Request authentication for the trigger receiver. Anyone who can reach the port could otherwise
 * make us start (expensive) compressions, so every POST must carry one of:
 *   Authorization: Bearer <secret>         MinIO's webhook auth_token is sent this way
 *   Authorization: Basic <b64 user:secret> SNS HTTP(S) subscriptions can only carry credentials
 *                                          as user:password in the endpoint URL (user ignored)
 *   X-Diffc-Signature: sha256=<hex>        HMAC-SHA256 of the raw body with hmacSecret, for
 *                                          senders that can sign (proves the body too)
 * All failures throw TriggerError 'unauthorized'; a receiver with no secret at all is a 'config'
 * error, never "open".
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { TriggerError } from './errors.js';

export interface AuthConfig {
  readonly secret?: string;
  readonly hmacSecret?: string;
}

export type AuthScheme = 'bearer' | 'basic' | 'hmac';

export const SIGNATURE_HEADER = 'x-diffc-signature';

/** Throws TriggerError 'config' unless at least one secret is set. */
export function assertAuthConfigured(cfg: AuthConfig): void {
  if (!cfg.secret && !cfg.hmacSecret) {
    throw new TriggerError('config', 'the trigger receiver needs a secret (DIFFC_TRIGGER_SECRET) or an HMAC secret (DIFFC_TRIGGER_HMAC_SECRET)');
  }
}

/**
 * Which scheme authenticated the request; throws TriggerError 'unauthorized' when none did. Any
 * one valid credential suffices, so a sender may use whichever its platform supports.
 */
export function verifyRequest(headers: IncomingHttpHeaders, rawBody: Buffer, cfg: AuthConfig): AuthScheme {
  assertAuthConfigured(cfg);
  const authz = one(headers.authorization);
  const sig = one(headers[SIGNATURE_HEADER]);
  if (cfg.secret && authz) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authz);
    if (bearer && sameSecret(bearer[1], cfg.secret)) return 'bearer';
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authz);
    if (basic) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0 && sameSecret(decoded.slice(colon + 1), cfg.secret)) return 'basic';
    }
  }
  if (cfg.hmacSecret && sig) {
    const m = /^sha256=([0-9a-f]{64})$/i.exec(sig.trim());
    if (m) {
      const want = createHmac('sha256', cfg.hmacSecret).update(rawBody).digest();
      const got = Buffer.from(m[1], 'hex');
      if (got.length === want.length && timingSafeEqual(got, want)) return 'hmac';
    }
  }
  throw new TriggerError('unauthorized', authz || sig ? 'credentials do not match' : 'no credentials (Authorization or X-Diffc-Signature)');
}

/** The HMAC header value a sender computes: for tests and for documenting the scheme. */
export function signBody(rawBody: Buffer | string, hmacSecret: string): string {
  return `sha256=${createHmac('sha256', hmacSecret).update(rawBody).digest('hex')}`;
}

/** Constant time, and hashing first means neither timing nor an early length check reveals the secret's length. */
function sameSecret(given: string, secret: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(secret, 'utf8').digest();
  return a.length === b.length && timingSafeEqual(a, b);
}

function one(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}
