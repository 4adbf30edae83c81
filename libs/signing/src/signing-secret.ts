import { randomBytes } from 'node:crypto';

/** Standard Webhooks secrets are `whsec_` followed by the base64 of the key bytes. */
export const SIGNING_SECRET_PREFIX = 'whsec_';

/** A new `whsec_…` secret carrying 32 random bytes (Standard Webhooks allows 24 to 64). */
export function generateSigningSecret(): string {
  return `${SIGNING_SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

export function isSigningSecret(value: unknown): value is string {
  if (typeof value !== 'string' || !value.startsWith(SIGNING_SECRET_PREFIX)) return false;
  const key = Buffer.from(value.slice(SIGNING_SECRET_PREFIX.length), 'base64');
  return key.length >= 24 && key.length <= 64;
}

/** The HMAC key Standard Webhooks uses: the base64-decoded part after `whsec_`. */
export function standardWebhooksKey(secret: string): Buffer {
  const body = secret.startsWith(SIGNING_SECRET_PREFIX) ? secret.slice(SIGNING_SECRET_PREFIX.length) : secret;
  return Buffer.from(body, 'base64');
}
