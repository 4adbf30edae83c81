import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { type Environment, randomToken } from '@schedstack/contracts';
import { keyPrefix } from './api-key.decider';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** A new API key secret: `sk_<environment>_` and 32 base62 characters (~190 bits). */
export function newApiKeySecret(environment: Environment): string {
  return `${keyPrefix(environment)}${randomToken(32)}`;
}

/** API key secrets are high-entropy, so a plain SHA-256 is the right hash: fast lookups, nothing to brute-force. */
export function hashApiKeySecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Console session tokens (`sess_…`, ~131 random bits) are hashed the same way, for the same reason. */
export function hashSessionToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Which environment a secret claims by its prefix, or null for anything that is not a key. */
export function environmentOfSecret(secret: string): Environment | null {
  const match = /^sk_(live|sandbox|test)_[0-9A-Za-z]{32}$/.exec(secret);
  return match ? (match[1] as Environment) : null;
}

/** Passwords: scrypt with a random salt, stored as `scrypt$<salt hex>$<hash hex>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32);
  return `scrypt$${salt.toString('hex')}$${hash.toString('hex')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, saltHex, hashHex] = stored.split('$');
  if (scheme !== 'scrypt' || !saltHex || !hashHex) return false;
  const expected = Buffer.from(hashHex, 'hex');
  const actual = await scrypt(password, Buffer.from(saltHex, 'hex'), expected.length);
  return timingSafeEqual(actual, expected);
}
