import type { IncomingHttpHeaders } from 'node:http';
import type { DeliveryView } from '@schedstack/contracts';
import { type Receiver, type ReceivedRequest, startReceiver } from '@schedstack/testing';
import { Webhook } from 'standardwebhooks';
import { eventually, startLocalStack, type TestStack } from '../support';

const headersOf = (req: ReceivedRequest) => req.headers as IncomingHttpHeaders as Record<string, string>;

describe('platform webhooks (SPEC §6, local profile, real HTTP receiver)', () => {
  let stack: TestStack;
  let receiver: Receiver;
  const failuresLeft = new Map<string, number>();
  const at = (path: string) => receiver.requests.filter((r) => r.path === path);
  const waitForPath = (path: string, count: number) => eventually(async () => at(path).length >= count && at(path), 20_000);

  beforeAll(async () => {
    stack = await startLocalStack('webhooks');
    receiver = await startReceiver();
    receiver.respondWith((req) => {
      const left = failuresLeft.get(req.path) ?? 0;
      if (left > 0) {
        failuresLeft.set(req.path, left - 1);
        return { status: 500, body: 'try again' };
      }
      return { status: 200, body: 'ok' };
    });
  });

  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  const createEndpoint = async (key: string, body: Record<string, unknown>) => {
    const res = await stack.api('/v1/webhook-endpoints', { key, body });
    expect(res.status).toBe(201);
    return res.body as { id: string; secret: string; events: string[] };
  };

  const fireOnce = async (key: string, path: string) => {
    const res = await stack.api('/v1/schedules', { key, body: { endpoint: `${receiver.url}${path}`, body: '{"n":1}', delay: '1s' } });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };

  it('creates, lists, updates, rotates and deletes endpoints; the secret is shown only on create and rotate', async () => {
    const key = stack.keys.test;
    const created = await stack.api('/v1/webhook-endpoints', { key, body: { url: 'https://example.com/hooks', events: ['delivery.dead_lettered'] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ object: 'webhook_endpoint', mode: 'test', url: 'https://example.com/hooks', events: ['delivery.dead_lettered'], enabled: true, description: null });
    expect(created.body.id).toMatch(/^we_[0-9A-Za-z]{22}$/);
    expect(created.body.secret).toMatch(/^whsec_/);
    const id = created.body.id as string;

    const got = await stack.api(`/v1/webhook-endpoints/${id}`, { key });
    expect(got.status).toBe(200);
    expect(got.body).not.toHaveProperty('secret');
    expect(Object.keys(got.body)).toEqual(['id', 'object', 'mode', 'url', 'description', 'events', 'enabled', 'created_at']);

    const listed = await stack.api('/v1/webhook-endpoints', { key });
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((e: { id: string }) => e.id)).toContain(id);

    const patched = await stack.api(`/v1/webhook-endpoints/${id}`, { key, method: 'PATCH', body: { events: ['*'], enabled: false } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id, events: ['*'], enabled: false, url: 'https://example.com/hooks' });
    const badPatch = await stack.api(`/v1/webhook-endpoints/${id}`, { key, method: 'PATCH', body: { url: 'ftp://example.com' } });
    expect(badPatch.status).toBe(400);
    expect(badPatch.body.error.param).toBe('url');

    const rotated = await stack.api(`/v1/webhook-endpoints/${id}/rotate-secret`, { key, method: 'POST' });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);

    const deleted = await stack.api(`/v1/webhook-endpoints/${id}`, { key, method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ id, object: 'webhook_endpoint', deleted: true });
    expect((await stack.api(`/v1/webhook-endpoints/${id}`, { key })).status).toBe(404);
  });

  it('refuses a bad URL or an unknown event type, naming the field', async () => {
    const badUrl = await stack.api('/v1/webhook-endpoints', { key: stack.keys.test, body: { url: 'ftp://example.com' } });
    expect(badUrl.status).toBe(400);
    expect(badUrl.body.error.param).toBe('url');
    const badEvent = await stack.api('/v1/webhook-endpoints', { key: stack.keys.test, body: { url: 'https://example.com', events: ['schedule.exploded'] } });
    expect(badEvent.status).toBe(400);
    expect(badEvent.body.error.param).toBe('events');
  });

  it("answers 404 for another environment's endpoint id, to every verb", async () => {
    const { id } = await createEndpoint(stack.keys.test, { url: 'https://example.com/isolated' });
    const key = stack.keys.sandbox;
    for (const [method, path] of [
      ['GET', `/v1/webhook-endpoints/${id}`],
      ['PATCH', `/v1/webhook-endpoints/${id}`],
      ['DELETE', `/v1/webhook-endpoints/${id}`],
      ['POST', `/v1/webhook-endpoints/${id}/rotate-secret`],
    ]) {
      const res = await stack.api(path, { key, method, ...(method === 'PATCH' ? { body: { enabled: false } } : {}) });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('resource_missing');
    }
    const listed = await stack.api('/v1/webhook-endpoints', { key });
    expect(listed.body.data.map((e: { id: string }) => e.id)).not.toContain(id);
  });

  it('sends delivery.succeeded signed with the endpoint secret, verifiable by the stock standardwebhooks library, and shows the attempts under the endpoint', async () => {
    const key = stack.keys.sandbox;
    const endpoint = await createEndpoint(key, { url: `${receiver.url}/events-sandbox`, events: ['delivery.succeeded'] });
    const scheduleId = await fireOnce(key, '/target-sandbox');
    const [req] = await waitForPath('/events-sandbox', 1);
    const headers = headersOf(req);
    const payload = new Webhook(endpoint.secret).verify(req.body, headers) as Record<string, unknown>;
    expect(payload).toMatchObject({ type: 'delivery.succeeded', mode: 'sandbox', data: { schedule: scheduleId, state: 'succeeded' } });
    expect(Object.keys(payload)).toEqual(['id', 'type', 'created_at', 'mode', 'data']);
    expect(payload.id).toMatch(/^evt_/);
    expect(headers['sched-event-version']).toBe('1');
    expect(headers['sched-webhook-endpoint-id']).toBe(endpoint.id);
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(req.body, headers)).toThrow();

    const deliveries = await eventually(async () => {
      const res = await stack.api(`/v1/deliveries?webhook_endpoint=${endpoint.id}`, { key });
      return res.body.data.length === 1 && res.body.data[0].state === 'succeeded' && (res.body.data as DeliveryView[]);
    });
    expect(deliveries[0]).toMatchObject({ webhook_endpoint: endpoint.id, schedule: null, fire_kind: 'first' });
    expect(deliveries[0].id).toBe(headers['webhook-id']);
    expect(deliveries[0].attempts).toHaveLength(1);
  });

  it('never sends a webhook about a webhook delivery', async () => {
    const key = stack.keys.live;
    const endpoint = await createEndpoint(key, { url: `${receiver.url}/events-live`, events: ['*'] });
    const scheduleId = await fireOnce(key, '/target-live');
    await waitForPath('/events-live', 1);
    const webhookDeliveries = await eventually(async () => {
      const res = await stack.api(`/v1/deliveries?webhook_endpoint=${endpoint.id}`, { key });
      const data = res.body.data as DeliveryView[];
      return data.length > 0 && data.every((d) => d.state === 'succeeded') && data;
    });
    // Long enough for a webhook about those webhook deliveries to have been planned and sent.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const events = at('/events-live').map((r) => JSON.parse(r.body) as { type: string; data: { delivery?: string; schedule?: string } });
    const webhookIds = new Set(webhookDeliveries.map((d) => d.id));
    expect(events.filter((e) => e.data.delivery && webhookIds.has(e.data.delivery))).toEqual([]);
    expect(events.every((e) => e.data.schedule === scheduleId)).toBe(true);
    expect(events.map((e) => e.type)).toContain('delivery.succeeded');
  });

  it('retries a webhook the endpoint answers with 500, with the same webhook-id, until it succeeds', async () => {
    const key = stack.keys.test;
    const endpoint = await createEndpoint(key, { url: `${receiver.url}/events-flaky`, events: ['delivery.succeeded'] });
    failuresLeft.set('/events-flaky', 1);
    await fireOnce(key, '/target-flaky');
    const [first, second] = await waitForPath('/events-flaky', 2);
    expect(first.headers['webhook-id']).toBe(second.headers['webhook-id']);
    expect(first.body).toBe(second.body);
    expect(second.headers['sched-attempt']).toBe('2');
    new Webhook(endpoint.secret).verify(second.body, headersOf(second));
    const delivery = await eventually(async () => {
      const res = await stack.api(`/v1/deliveries?webhook_endpoint=${endpoint.id}`, { key });
      return res.body.data[0]?.state === 'succeeded' && (res.body.data[0] as DeliveryView);
    });
    expect(delivery.attempts.map((a) => [a.fire_kind, a.status_code])).toEqual([
      ['first', 500],
      ['retry', 200],
    ]);
  });
});
