import { createHash, randomBytes } from 'node:crypto';

/** Every id prefix the platform hands out; one table so a prefix never means two things. */
export const ID_PREFIXES = {
  project: 'prj',
  user: 'usr',
  apiKey: 'key',
  schedule: 'sch',
  delivery: 'dlv',
  event: 'evt',
  request: 'req',
  webhookEndpoint: 'we',
  process: 'proc',
  theme: 'thm',
  field: 'fld',
  translation: 'trn',
  datasetSchema: 'dss',
  datasetRow: 'row',
  session: 'sess',
} as const;

export type IdPrefix = (typeof ID_PREFIXES)[keyof typeof ID_PREFIXES];

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * CSPRNG bytes drawn 4 KiB at a time, each handed out once — as Node's own `randomUUID` caches
 * its entropy. One `randomBytes` call per id cost ~2.5% of the local profile's CPU under the API
 * benchmark (a Request-Id on every response, several ids per create; issue #9).
 */
const ENTROPY_POOL_BYTES = 4096;
let entropy = Buffer.alloc(0);
let entropyUsed = 0;

function freshRandomBytes(count: number): Buffer {
  if (entropyUsed + count > entropy.length) {
    entropy = randomBytes(Math.max(ENTROPY_POOL_BYTES, count));
    entropyUsed = 0;
  }
  const bytes = entropy.subarray(entropyUsed, entropyUsed + count);
  entropyUsed += count;
  return bytes;
}

/** Random base62 text of `length` characters (rejection sampling keeps it unbiased). */
export function randomToken(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = freshRandomBytes(length * 2);
    for (let i = 0; i < bytes.length && out.length < length; i++) {
      if (bytes[i] < 248) out += ALPHABET[bytes[i] % 62];
    }
  }
  return out;
}

/** `newId('sch')` → `sch_3kTq…`: a prefix that names the kind and 22 base62 characters (~131 bits). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomToken(22)}`;
}

/** `length` base62 characters of the SHA-256 of `text`: the same text always gives the same token. */
export function base62Digest(text: string, length = 22): string {
  const digest = createHash('sha256').update(text).digest();
  let out = '';
  // One character per byte, byte mod 62 (a slight bias does not matter for an id).
  for (let i = 0; i < length; i++) out += ALPHABET[digest[i] % 62];
  return out;
}

/**
 * An id of the same shape as `newId`, derived from `parts`: the same parts always give the same id.
 * For objects whose id must be found again from what the client sent (a retried create's
 * idempotency key), never for ids that must be unguessable.
 */
export function derivedId(prefix: IdPrefix, ...parts: readonly string[]): string {
  return `${prefix}_${base62Digest(parts.join('\0'))}`;
}

export function hasPrefix(id: unknown, prefix: IdPrefix): id is string {
  return typeof id === 'string' && id.startsWith(`${prefix}_`) && /^[a-z]+_[0-9A-Za-z]{1,64}$/.test(id);
}
