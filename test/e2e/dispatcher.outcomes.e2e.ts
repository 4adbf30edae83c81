import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { DeliveryPolicy, DeliveryView } from '@schedstack/contracts';
import { type Receiver, type ReceivedRequest, type Reply, startReceiver } from '@schedstack/testing';
import { Webhook } from 'standardwebhooks';
import { type DispatchStack, eventually, startDispatchStack } from '../support';

/** A receiver's own check of Sched-Signature, written from docs/dispatcher.md alone. */
function schedSignatureValid(header: string, body: string, secret: string, toleranceSeconds = 300): boolean {
  const fields = header.split(',').map((part) => part.split('=') as [string, string]);
  const t = Number(fields.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return fields
    .filter(([k]) => k === 'v1')
    .some(([, v]) => {
      const given = Buffer.from(v, 'hex');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

const headersOf = (req: ReceivedRequest) => req.headers as IncomingHttpHeaders as Record<string, string>;

/** Retries come quickly in these tests: a process with a short backoff. */
const quick: DeliveryPolicy = { backoff: { initial_ms: 20, max_ms: 100 } };

describe('dispatcher outcomes — signed, retried, dead-lettered, replayed (local profile, real HTTP receiver)', () => {
  let stack: DispatchStack;
  let receiver: Receiver;
  const routes = new Map<string, (count: number) => Reply>();
  const at = (path: string) => receiver.requests.filter((r) => r.path === path);
  const waitForPath = (path: string, count: number, timeoutMs = 20_000) => eventually(async () => at(path).length >= count && at(path), timeoutMs);

  beforeAll(async () => {
    stack = await startDispatchStack('dsp_outcomes');
    receiver = await startReceiver();
    receiver.respondWith((req) => routes.get(req.path)?.(at(req.path).length) ?? { status: 200, body: 'ok' });
  });

  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it('signs every delivery so the stock standardwebhooks verifier and a hand-written Sched-Signature check accept it', async () => {
    const secret = await stack.api('/v1/signing-secret', { key: stack.keys.test });
    expect(secret.status).toBe(200);
    expect(secret.body).toMatchObject({ object: 'signing_secret', mode: 'test', previous_secret: null, previous_expires_at: null });
    expect(secret.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);

    const created = await stack.api('/v1/schedules', {
      key: stack.keys.test,
      body: { endpoint: `${receiver.url}/signed`, headers: { 'content-type': 'application/json' }, body: '{"order_id":"ord_1"}', delay: '1s' },
    });
    expect(created.status).toBe(201);
    const [req] = await waitForPath('/signed', 1);
    const headers = headersOf(req);
    expect(new Webhook(secret.body.secret).verify(req.body, headers)).toEqual({ order_id: 'ord_1' });
    expect(schedSignatureValid(headers['sched-signature'], req.body, secret.body.secret)).toBe(true);
    expect(headers['webhook-id']).toBe(headers['sched-delivery-id']);
    expect(headers['webhook-timestamp']).toMatch(/^\d+$/);
    expect(headers['sched-signature']).toBe(`t=${headers['webhook-timestamp']},${headers['sched-signature'].split(',').slice(1).join(',')}`);

    // Each environment has its own secret.
    const sandbox = await stack.api('/v1/signing-secret', { key: stack.keys.sandbox });
    expect(sandbox.body.mode).toBe('sandbox');
    expect(sandbox.body.secret).not.toBe(secret.body.secret);
    expect(() => new Webhook(sandbox.body.secret).verify(req.body, headers)).toThrow();
  });

  it('signs with both secrets during a rotation, so receivers can switch at their own pace', async () => {
    const before = (await stack.api('/v1/signing-secret', { key: stack.keys.test })).body;
    const rotated = await stack.api('/v1/signing-secret/rotate', { key: stack.keys.test, method: 'POST' });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(before.secret);
    expect(rotated.body.previous_secret).toBe(before.secret);
    const overlap = Date.parse(rotated.body.previous_expires_at) - Date.parse(rotated.body.created_at);
    expect(overlap).toBe(24 * 60 * 60 * 1000);
    expect((await stack.api('/v1/signing-secret', { key: stack.keys.test })).body).toEqual(rotated.body);

    await stack.api('/v1/schedules', { key: stack.keys.test, body: { endpoint: `${receiver.url}/rotated`, body: '{"n":2}', delay: '2s' } });
    const [req] = await waitForPath('/rotated', 1);
    const headers = headersOf(req);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    for (const secret of [rotated.body.secret, before.secret]) {
      expect(new Webhook(secret).verify(req.body, headers)).toEqual({ n: 2 });
      expect(schedSignatureValid(headers['sched-signature'], req.body, secret)).toBe(true);
    }
  });

  it('retries a server that fails three times, then succeeds, with the same delivery id on every attempt', async () => {
    routes.set('/flaky', (n) => (n <= 3 ? { status: 500, body: `down ${n}` } : { status: 200, body: 'finally' }));
    const { deliveryId } = await stack.plan('test', { endpoint: `${receiver.url}/flaky`, policy: quick });
    const delivery = await stack.waitForDelivery('test', deliveryId, (d) => d.state === 'succeeded');
    expect(delivery.attempts.map((a) => [a.n, a.fire_kind, a.status_code])).toEqual([
      [1, 'first', 500],
      [2, 'retry', 500],
      [3, 'retry', 500],
      [4, 'retry', 200],
    ]);
    expect(delivery.attempts[0].response_body).toBe('down 1');
    expect(delivery.next_attempt_at).toBeNull();
    const requests = at('/flaky');
    expect(requests).toHaveLength(4);
    expect(new Set(requests.map((r) => r.headers['sched-delivery-id']))).toEqual(new Set([deliveryId]));
    expect(new Set(requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([deliveryId]));
    expect(requests.map((r) => r.headers['sched-attempt'])).toEqual(['1', '2', '3', '4']);
    // Each retry is due when the previous attempt said, and never leaves before it.
    for (const [i, attempt] of delivery.attempts.entries()) {
      if (i > 0) expect(Date.parse(attempt.fired_at)).toBeGreaterThanOrEqual(Date.parse(attempt.scheduled_for));
    }
  });

  it('honours Retry-After on a 429', async () => {
    routes.set('/busy', (n) => (n === 1 ? { status: 429, body: 'slow down', headers: { 'retry-after': '1' } } : { status: 204 }));
    const { deliveryId } = await stack.plan('test', { endpoint: `${receiver.url}/busy`, policy: quick });
    const delivery = await stack.waitForDelivery('test', deliveryId, (d) => d.state === 'succeeded');
    const [first, second] = delivery.attempts;
    expect(first.status_code).toBe(429);
    expect(second).toMatchObject({ n: 2, fire_kind: 'retry', status_code: 204 });
    // The retry was planned at least the server's 1 s after the first attempt, despite a 20 ms backoff.
    expect(Date.parse(second.scheduled_for) - Date.parse(first.fired_at)).toBeGreaterThanOrEqual(1_000);
  });

  it('dead-letters a permanent 4xx at once, without retrying', async () => {
    routes.set('/gone', () => ({ status: 410, body: 'gone for good' }));
    const { deliveryId, scheduleId } = await stack.plan('test', { endpoint: `${receiver.url}/gone`, policy: quick });
    const delivery = await stack.waitForDelivery('test', deliveryId, (d) => d.state === 'dead_lettered');
    expect(delivery.attempts).toEqual([expect.objectContaining({ n: 1, status_code: 410, response_body: 'gone for good', error: null })]);
    expect(delivery.next_attempt_at).toBeNull();
    expect(at('/gone')).toHaveLength(1);

    const byState = await stack.api('/v1/deliveries?state=dead_lettered', { key: stack.keys.test });
    expect(byState.body.data.map((d: DeliveryView) => d.id)).toContain(deliveryId);
    expect(byState.body.data.every((d: DeliveryView) => d.state === 'dead_lettered')).toBe(true);
    const bySchedule = await stack.api(`/v1/deliveries?schedule=${scheduleId}`, { key: stack.keys.test });
    expect(bySchedule.body.data.map((d: DeliveryView) => d.id)).toEqual([deliveryId]);
  });

  it('records a timeout as a failed attempt and retries it', async () => {
    routes.set('/slow', (n) => (n === 1 ? { status: 200, body: 'too late', delayMs: 2_000 } : { status: 200, body: 'quick' }));
    const { deliveryId } = await stack.plan('test', { endpoint: `${receiver.url}/slow`, policy: { ...quick, timeout_ms: 300 } });
    const delivery = await stack.waitForDelivery('test', deliveryId, (d) => d.state === 'succeeded');
    expect(delivery.attempts[0]).toMatchObject({ n: 1, status_code: null, response_body: null, error: expect.stringMatching(/^timeout: no response within 300 ms/) });
    expect(delivery.attempts[1]).toMatchObject({ n: 2, status_code: 200, response_body: 'quick' });
  });

  it('dead-letters after the last attempt, lists it, and replays it on request', async () => {
    let healthy = false;
    routes.set('/dlq', () => (healthy ? { status: 200, body: 'back' } : { status: 503, body: 'unavailable' }));
    const { deliveryId } = await stack.plan('test', { endpoint: `${receiver.url}/dlq`, policy: { ...quick, max_attempts: 2 } });
    const dead = await stack.waitForDelivery('test', deliveryId, (d) => d.state === 'dead_lettered');
    expect(dead.attempts.map((a) => [a.n, a.fire_kind, a.status_code])).toEqual([
      [1, 'first', 503],
      [2, 'retry', 503],
    ]);

    const listed = await stack.api('/v1/dead-letters', { key: stack.keys.test });
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ object: 'list', has_more: expect.any(Boolean) });
    expect(listed.body.data.map((d: DeliveryView) => d.id)).toContain(deliveryId);
    const elsewhere = await stack.api('/v1/dead-letters', { key: stack.keys.sandbox });
    expect(elsewhere.body.data.map((d: DeliveryView) => d.id)).not.toContain(deliveryId);

    const fromSandbox = await stack.api(`/v1/deliveries/${deliveryId}/replay`, { key: stack.keys.sandbox, method: 'POST' });
    expect(fromSandbox.status).toBe(404);
    expect(fromSandbox.body.error.code).toBe('resource_missing');

    healthy = true;
    const replay = await stack.api(`/v1/deliveries/${deliveryId}/replay`, { key: stack.keys.test, method: 'POST' });
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ id: deliveryId, object: 'delivery', state: 'scheduled' });

    const replayed = await stack.waitForDelivery('test', deliveryId, (d) => d.state === 'succeeded');
    expect(replayed.attempts[2]).toMatchObject({ n: 3, fire_kind: 'replay', status_code: 200, response_body: 'back' });
    const last = at('/dlq').at(-1) as ReceivedRequest;
    expect(last.headers['sched-delivery-id']).toBe(deliveryId);
    expect(last.headers['sched-attempt']).toBe('3');
    expect((await stack.api('/v1/dead-letters', { key: stack.keys.test })).body.data.map((d: DeliveryView) => d.id)).not.toContain(deliveryId);
  });

  it('refuses to replay a delivery that has not gone out yet or is still being retried', async () => {
    const later = await stack.plan('test', { endpoint: `${receiver.url}/later`, at: new Date(Date.now() + 3_600_000) });
    await stack.waitForDelivery('test', later.deliveryId, (d) => d.state === 'scheduled');
    const early = await stack.api(`/v1/deliveries/${later.deliveryId}/replay`, { key: stack.keys.test, method: 'POST' });
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('delivery_not_replayable');

    routes.set('/retrying', () => ({ status: 503, headers: { 'retry-after': '3600' } }));
    const retrying = await stack.plan('test', { endpoint: `${receiver.url}/retrying` });
    await stack.waitForDelivery('test', retrying.deliveryId, (d) => d.state === 'retrying');
    const res = await stack.api(`/v1/deliveries/${retrying.deliveryId}/replay`, { key: stack.keys.test, method: 'POST' });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/retrying/);
    expect((await stack.api('/v1/deliveries/dlv_doesnotexist/replay', { key: stack.keys.test, method: 'POST' })).status).toBe(404);
  });

  it('never forgets a pending retry across a restart: retries are due fires in PostgreSQL', async () => {
    routes.set('/restart', (n) => (n === 1 ? { status: 503, headers: { 'retry-after': '2' } } : { status: 200, body: 'after restart' }));
    const { deliveryId } = await stack.plan('test', { endpoint: `${receiver.url}/restart`, policy: quick });
    await stack.waitForDelivery('test', deliveryId, (d) => d.state === 'retrying');
    await stack.restart();
    const delivery = await stack.waitForDelivery('test', deliveryId, (d) => d.state === 'succeeded');
    expect(delivery.attempts.map((a) => [a.n, a.status_code])).toEqual([
      [1, 503],
      [2, 200],
    ]);
    expect(at('/restart')).toHaveLength(2);
  });
});
