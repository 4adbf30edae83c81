import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { openSecret, sealSecret } from './secret-box';
import { DeliverySigner } from './signatures';
import { generateSigningSecret, isSigningSecret } from './signing-secret';

/** A receiver's own check of Sched-Signature, written from the docs alone. */
function schedSignatureMatches(header: string, body: string, secret: string): boolean {
  const parts = header.split(',').map((p) => p.split('=') as [string, string]);
  const t = parts.find(([k]) => k === 't')?.[1];
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return parts
    .filter(([k]) => k === 'v1')
    .some(([, v]) => {
      const given = Buffer.from(v, 'hex');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

describe('delivery signatures', () => {
  const now = Math.floor(Date.now() / 1000);

  it('mints whsec_ secrets a stock Standard Webhooks library accepts', () => {
    const secret = generateSigningSecret();
    expect(isSigningSecret(secret)).toBe(true);
    expect(() => new Webhook(secret)).not.toThrow();
    expect(isSigningSecret('whsec_short')).toBe(false);
  });

  it('signs so that standardwebhooks Webhook.verify and a hand-written Sched-Signature check both accept', () => {
    fc.assert(
      fc.property(fc.string(), fc.stringMatching(/^dlv_[0-9A-Za-z]{22}$/), (body, id) => {
        const secret = generateSigningSecret();
        const headers = new DeliverySigner([secret]).sign(id, now, body);
        new Webhook(secret).verify(body, { ...headers }, { jsonParse: false });
        return schedSignatureMatches(headers['sched-signature'], body, secret);
      }),
      { numRuns: 50 },
    );
  });

  it('signs with every active secret during a rotation, so either one verifies', () => {
    const previous = generateSigningSecret();
    const current = generateSigningSecret();
    const body = '{"order_id":"ord_123"}';
    const headers = new DeliverySigner([current, previous]).sign('dlv_abc', now, body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(headers['sched-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    for (const secret of [current, previous]) {
      expect(new Webhook(secret).verify(body, { ...headers })).toEqual({ order_id: 'ord_123' });
      expect(schedSignatureMatches(headers['sched-signature'], body, secret)).toBe(true);
    }
    const stranger = generateSigningSecret();
    expect(() => new Webhook(stranger).verify(body, { ...headers })).toThrow(/No matching signature/);
    expect(schedSignatureMatches(headers['sched-signature'], body, stranger)).toBe(false);
  });

  it('fails verification when the body or the timestamp is altered', () => {
    const secret = generateSigningSecret();
    const headers = new DeliverySigner([secret]).sign('dlv_abc', now, 'a');
    expect(schedSignatureMatches(headers['sched-signature'], 'b', secret)).toBe(false);
    const shifted = headers['sched-signature'].replace(/^t=\d+/, `t=${now + 1}`);
    expect(schedSignatureMatches(shifted, 'a', secret)).toBe(false);
    expect(() => new Webhook(secret).verify('b', { ...headers }, { jsonParse: false })).toThrow();
  });
});

describe('secret box', () => {
  const key = randomBytes(32).toString('base64');

  it('seals with AES-256-GCM when a key is configured and opens it again', () => {
    const secret = generateSigningSecret();
    const sealed = sealSecret(secret, key);
    expect(sealed).not.toContain(secret.slice(6));
    expect(sealed).toMatch(/^v1\./);
    expect(openSecret(sealed, key)).toBe(secret);
  });

  it('keeps secrets readable without a key, and refuses a wrong or missing key clearly', () => {
    const secret = generateSigningSecret();
    expect(openSecret(sealSecret(secret, null), key)).toBe(secret);
    const sealed = sealSecret(secret, key);
    expect(() => openSecret(sealed, null)).toThrow(/SCHEDSTACK_SECRETS_KEY, which is not set/);
    expect(() => openSecret(sealed, randomBytes(32).toString('base64'))).toThrow(/not the key it was sealed with/);
  });
});
