import { createHmac } from 'node:crypto';
import { standardWebhooksKey } from './signing-secret';

/** The headers that sign one outgoing request (SPEC §4). */
export interface SignatureHeaders {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
  readonly 'sched-signature': string;
}

interface PreparedKey {
  /** Standard Webhooks: HMAC key = base64-decoded secret. */
  readonly standard: Buffer;
  /** Sched-Signature: HMAC key = the secret string itself, as Stripe does, so a check needs no decoding. */
  readonly sched: Buffer;
}

/**
 * The one signing module (STYLE §5), used for schedule deliveries and platform webhooks. It is
 * built once per set of active secrets, so signing a request costs two HMACs per secret.
 *
 * - `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<t>.<body>")>` per secret, space-separated
 *   (Standard Webhooks, so stock verifiers accept it);
 * - `Sched-Signature: t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>[,v1=…]`, one `v1` per secret.
 *
 * During a rotation both the new and the previous secret sign, so receivers can switch at leisure.
 */
export class DeliverySigner {
  private readonly keys: readonly PreparedKey[];

  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new Error('DeliverySigner needs at least one secret');
    this.keys = secrets.map((secret) => ({ standard: standardWebhooksKey(secret), sched: Buffer.from(secret, 'utf8') }));
  }

  /** `timestamp` in unix seconds; `body` exactly as sent (empty string when there is none). */
  sign(messageId: string, timestamp: number, body: string): SignatureHeaders {
    const t = String(Math.floor(timestamp));
    const standard = this.keys.map((k) => `v1,${createHmac('sha256', k.standard).update(`${messageId}.${t}.${body}`).digest('base64')}`);
    const sched = this.keys.map((k) => `v1=${createHmac('sha256', k.sched).update(`${t}.${body}`).digest('hex')}`);
    return {
      'webhook-id': messageId,
      'webhook-timestamp': t,
      'webhook-signature': standard.join(' '),
      'sched-signature': `t=${t},${sched.join(',')}`,
    };
  }
}
