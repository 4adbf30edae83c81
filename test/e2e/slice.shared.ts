import type { Receiver } from '@schedstack/testing';
import { eventually, type TestStack } from '../support';

/**
 * The foundation's end-to-end slice, shared by the local and distributed suites: create a
 * schedule through the gateway, receive it at a real HTTP server at the due time, and see the
 * delivery and its attempt through the gateway.
 */
export function describeSlice(getStack: () => TestStack, getReceiver: () => Receiver): void {
  it('creates a schedule, fires it on time with the stored request, and shows the attempt', async () => {
    const stack = getStack();
    const receiver = getReceiver();
    const created = await stack.api('/v1/schedules', {
      key: stack.keys.test,
      body: {
        endpoint: `${receiver.url}/hooks/orders?src=slice`,
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-order': 'ord_123' },
        body: '{"order_id":"ord_123"}',
        delay: '1s',
      },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('request-id')).toMatch(/^req_/);
    const schedule = created.body;
    expect(schedule).toMatchObject({ object: 'schedule', mode: 'test', method: 'PUT', state: 'active', endpoint: `${receiver.url}/hooks/orders?src=slice` });
    expect(schedule.id).toMatch(/^sch_[0-9A-Za-z]{22}$/);
    const dueAt = Date.parse(schedule.next_fire_at);
    expect(dueAt - Date.parse(schedule.created_at)).toBe(1000);

    // Read-your-writes: the GET right after the POST sees the schedule.
    const fetched = await stack.api(`/v1/schedules/${schedule.id}`, { key: stack.keys.test });
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(schedule);

    const [arrived] = await receiver.waitFor(1, 20_000);
    expect(arrived.method).toBe('PUT');
    expect(arrived.path).toBe('/hooks/orders?src=slice');
    expect(arrived.body).toBe('{"order_id":"ord_123"}');
    expect(arrived.headers['x-order']).toBe('ord_123');
    expect(arrived.headers['content-type']).toBe('application/json');
    expect(arrived.headers['sched-schedule-id']).toBe(schedule.id);
    expect(arrived.headers['sched-mode']).toBe('test');
    expect(arrived.headers['sched-attempt']).toBe('1');
    expect(arrived.headers['user-agent']).toMatch(/^SchedStack\//);
    expect(arrived.headers['sched-delivery-id']).toMatch(/^dlv_/);
    // Never early: the request left at or after the due instant (same machine, same clock).
    expect(arrived.receivedAt).toBeGreaterThanOrEqual(dueAt);

    const delivery = await eventually(async () => {
      const res = await stack.api(`/v1/deliveries?schedule=${schedule.id}`, { key: stack.keys.test });
      const first = res.body?.data?.[0];
      return first?.attempts?.length === 1 ? first : undefined;
    });
    expect(delivery).toMatchObject({ id: arrived.headers['sched-delivery-id'], object: 'delivery', mode: 'test', schedule: schedule.id, state: 'succeeded' });
    const [attempt] = delivery.attempts;
    expect(attempt).toMatchObject({ n: 1, fire_kind: 'first', status_code: 200, scheduled_for: schedule.next_fire_at, response_body: 'ok', mocked: false, error: null });
    expect(Date.parse(attempt.fired_at)).toBeGreaterThanOrEqual(dueAt);

    const one = await stack.api(`/v1/deliveries/${delivery.id}`, { key: stack.keys.test });
    expect(one.status).toBe(200);
    expect(one.body.attempts).toHaveLength(1);
  });

  it('hides a schedule from the other environments of the project with the same 404 as an unknown id', async () => {
    const stack = getStack();
    const receiver = getReceiver();
    const created = await stack.api('/v1/schedules', {
      key: stack.keys.live,
      body: { endpoint: `${receiver.url}/iso`, delay: '1h' },
    });
    expect(created.status).toBe(201);
    expect(created.body.mode).toBe('live');
    const fromTest = await stack.api(`/v1/schedules/${created.body.id}`, { key: stack.keys.test });
    const unknown = await stack.api(`/v1/schedules/sch_doesnotexist`, { key: stack.keys.test });
    expect(fromTest.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(fromTest.body.error.code).toBe(unknown.body.error.code);
    const listed = await stack.api('/v1/schedules', { key: stack.keys.sandbox });
    expect(listed.body.data.map((s: { id: string }) => s.id)).not.toContain(created.body.id);
  });

  it('refuses a request without a valid key with a Stripe-style 401', async () => {
    const stack = getStack();
    const none = await stack.api('/v1/schedules');
    expect(none.status).toBe(401);
    expect(none.body.error).toMatchObject({ type: 'authentication_error', code: 'api_key_missing' });
    expect(none.body.error.request_id).toBe(none.headers.get('request-id'));
    const bad = await stack.api('/v1/schedules', { key: 'sk_test_' + 'x'.repeat(32) });
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('api_key_invalid');
  });
}
