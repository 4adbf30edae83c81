import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const SEALED = 'v1.';
const PLAIN = 'plain.';

/**
 * Signing secrets must be readable to sign, so they cannot be hashed. They live in events, which
 * are also relayed to JetStream; with an operator key (SCHEDSTACK_SECRETS_KEY) they are sealed
 * with AES-256-GCM before they are written. Without one they are stored as-is, marked `plain.`,
 * so a key configured later still reads the old ones.
 */
export function sealSecret(secret: string, keyBase64: string | null): string {
  if (!keyBase64) return `${PLAIN}${secret}`;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(keyBase64, 'base64'), iv);
  const encrypted = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return `${SEALED}${Buffer.concat([iv, cipher.getAuthTag(), encrypted]).toString('base64url')}`;
}

/** The secret inside `sealed`; throws a clear error when the key is missing or wrong. */
export function openSecret(sealed: string, keyBase64: string | null): string {
  if (sealed.startsWith(PLAIN)) return sealed.slice(PLAIN.length);
  if (!sealed.startsWith(SEALED)) throw new Error('not a sealed secret');
  if (!keyBase64) throw new Error('a signing secret was sealed with SCHEDSTACK_SECRETS_KEY, which is not set');
  const raw = Buffer.from(sealed.slice(SEALED.length), 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(keyBase64, 'base64'), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  try {
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('a signing secret could not be unsealed: SCHEDSTACK_SECRETS_KEY is not the key it was sealed with');
  }
}
