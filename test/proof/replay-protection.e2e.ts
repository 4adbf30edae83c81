import type { IncomingHttpHeaders } from 'node:http';
import type { DeliveryView } from '@schedstack/contracts';
import { type Receiver, type ReceivedRequest, startReceiver } from '@schedstack/testing';
import { Webhook } from 'standardwebhooks';
import { eventually, startLocalStack, type TestStack } from '../support';

/**
 * SPEC §4/§6 signatures against replay: a real delivery and a real platform webhook, taken as
 * they arrived at a local receiver, go through the stock `standardwebhooks` verifier. They are
 * accepted now; the very same bytes are refused once the verifier's clock is past the library's
 * 5-minute tolerance (either way), and any change to the body, timestamp or id is refused.
 */

const TOLERANCE_S = 5 * 60;

type Headers = Record<string, string>;
const headersOf = (req: ReceivedRequest) => ({ ...(req.headers as IncomingHttpHeaders as Headers) });

/** Verifies with the verifier's clock at `at` (unix seconds); the stack's own clock is untouched. */
function verifyAt(secret: string, body: string, headers: Headers, at: number): unknown {
  const clock = jest.spyOn(Date, 'now').mockReturnValue(at * 1000);
  try {
    return new Webhook(secret).verify(body, headers);
  } finally {
    clock.mockRestore();
  }
}

describe('replay protection of signed deliveries (stock standardwebhooks verifier)', () => {
  let stack: TestStack;
  let receiver: Receiver;
  const signed: { name: string; secret: string; req: ReceivedRequest; payload: unknown }[] = [];

  beforeAll(async () => {
    stack = await startLocalStack('proof_replay');
    receiver = await startReceiver();
    const key = stack.keys.test;
    const signing = await stack.api('/v1/signing-secret', { key });
    const endpoint = await stack.api('/v1/webhook-endpoints', { key, body: { url: `${receiver.url}/events`, events: ['delivery.succeeded'] } });
    expect(endpoint.status).toBe(201);
    const schedule = await stack.api('/v1/schedules', { key, body: { endpoint: `${receiver.url}/target`, body: '{"order_id":"ord_1"}', delay: '1s' } });
    expect(schedule.status).toBe(201);
    const delivery = await eventually(async () => receiver.requests.find((r) => r.path === '/target'));
    const event = await eventually(async () => receiver.requests.find((r) => r.path === '/events'));
    signed.push(
      { name: 'schedule delivery', secret: signing.body.secret, req: delivery, payload: { order_id: 'ord_1' } },
      { name: 'platform webhook', secret: endpoint.body.secret, req: event, payload: expect.objectContaining({ type: 'delivery.succeeded', mode: 'test' }) },
    );
    // The schedule's delivery is recorded as delivered: the receiver answered 200.
    await eventually(async () => {
      const res = await stack.api(`/v1/deliveries?schedule=${schedule.body.id}`, { key });
      return (res.body.data as DeliveryView[])[0]?.state === 'succeeded';
    });
  }, 60_000);

  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it.each([['schedule delivery'], ['platform webhook']])('accepts the %s as it arrived, within the window either side', (name) => {
    const { secret, req, payload } = signed.find((s) => s.name === name) as (typeof signed)[number];
    const headers = headersOf(req);
    const sentAt = Number(headers['webhook-timestamp']);
    expect(new Webhook(secret).verify(req.body, headers)).toEqual(payload);
    expect(verifyAt(secret, req.body, headers, sentAt + TOLERANCE_S - 1)).toEqual(payload);
    expect(verifyAt(secret, req.body, headers, sentAt - TOLERANCE_S + 1)).toEqual(payload);
    // Within the window a replay verifies again: receivers dedupe on webhook-id, stable across attempts (SPEC §4).
    expect(headers['webhook-id']).toMatch(/^dlv_/);
  });

  it('refuses the same bytes replayed more than 5 minutes later', () => {
    for (const { secret, req } of signed) {
      const headers = headersOf(req);
      const sentAt = Number(headers['webhook-timestamp']);
      expect(() => verifyAt(secret, req.body, headers, sentAt + TOLERANCE_S + 1)).toThrow('Message timestamp too old');
      expect(() => verifyAt(secret, req.body, headers, sentAt + 24 * 3600)).toThrow('Message timestamp too old');
    }
  });

  it('refuses a timestamp more than 5 minutes in the future of the verifier', () => {
    for (const { secret, req } of signed) {
      const headers = headersOf(req);
      const sentAt = Number(headers['webhook-timestamp']);
      expect(() => verifyAt(secret, req.body, headers, sentAt - TOLERANCE_S - 1)).toThrow('Message timestamp too new');
    }
  });

  it('refuses a tampered body, however small the change', () => {
    for (const { secret, req } of signed) {
      const headers = headersOf(req);
      const sentAt = Number(headers['webhook-timestamp']);
      const last = req.body.length - 1;
      for (const body of [`${req.body} `, req.body.slice(0, -1), `${req.body.slice(0, last)}${req.body[last] === '}' ? ']' : '}'}`, req.body.replace(/\d/, (d) => String((Number(d) + 1) % 10))]) {
        expect(body).not.toBe(req.body);
        expect(() => verifyAt(secret, body, headers, sentAt)).toThrow('No matching signature found');
      }
    }
  });

  it('refuses a changed timestamp or id under the original signature (both are signed)', () => {
    for (const { secret, req } of signed) {
      const headers = headersOf(req);
      const sentAt = Number(headers['webhook-timestamp']);
      // Still inside the window, so only the signature can be what refuses them.
      for (const moved of [sentAt + 1, sentAt - 1, sentAt + 60]) {
        expect(() => verifyAt(secret, req.body, { ...headers, 'webhook-timestamp': String(moved) }, sentAt)).toThrow('No matching signature found');
      }
      expect(() => verifyAt(secret, req.body, { ...headers, 'webhook-id': `${headers['webhook-id']}x` }, sentAt)).toThrow('No matching signature found');
      // And the untouched message still passes at that clock, so the refusals above are the changes' doing.
      expect(() => verifyAt(secret, req.body, headers, sentAt)).not.toThrow();
    }
  });
});
