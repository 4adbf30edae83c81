import { type Receiver, startReceiver } from '@schedstack/testing';
import { eventually, startLocalStack, type TestStack } from '../support';

/**
 * Where schedules meet their environment's configuration (SPEC §3, §5): a named process's policy
 * travels with every fire, metadata is checked against the field definitions, and the
 * active-schedules quota holds.
 */
describe('schedules against their environment configuration', () => {
  let stack: TestStack;
  let receiver: Receiver;

  beforeAll(async () => {
    stack = await startLocalStack('sch_env');
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it('refuses a schedule naming a process that does not exist, naming the field', async () => {
    const res = await stack.api('/v1/schedules', { key: stack.keys.test, body: { endpoint: `${receiver.url}/x`, delay: '1h', process: 'nope' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ param: 'process', code: 'resource_missing' });
  });

  it("applies the named process's retry policy to the schedule's deliveries", async () => {
    const process = await stack.api('/v1/processes', {
      key: stack.keys.test,
      body: { name: 'impatient', max_attempts: 2, backoff: { initial: '50ms', max: '100ms' } },
    });
    expect(process.status).toBe(201);
    receiver.respondWith((req) => (req.path === '/flaky' ? { status: 500, body: 'down' } : { status: 200, body: 'ok' }));
    const created = await stack.api('/v1/schedules', {
      key: stack.keys.test,
      body: { endpoint: `${receiver.url}/flaky`, delay: '1s', process: 'impatient' },
    });
    expect(created.status).toBe(201);
    expect(created.body.process).toBe('impatient');
    const delivery = await eventually(async () => {
      const res = await stack.api(`/v1/deliveries?schedule=${created.body.id}`, { key: stack.keys.test });
      const d = res.body.data?.[0];
      return d?.state === 'dead_lettered' ? d : undefined;
    });
    // The default policy would retry 8 times; the process allows 2 attempts.
    expect(delivery.attempts).toHaveLength(2);
    expect(delivery.attempts.map((a: { status_code: number }) => a.status_code)).toEqual([500, 500]);
  });

  it('validates metadata against the environment field definitions', async () => {
    const field = await stack.api('/v1/fields', { key: stack.keys.sandbox, body: { name: 'customer_id', type: 'string', required: true } });
    expect(field.status).toBe(201);
    const missing = await stack.api('/v1/schedules', { key: stack.keys.sandbox, body: { endpoint: `${receiver.url}/m`, delay: '1h', metadata: {} } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.param).toMatch(/^metadata/);
    const ok = await stack.api('/v1/schedules', {
      key: stack.keys.sandbox,
      body: { endpoint: `${receiver.url}/m`, delay: '1h', metadata: { customer_id: 'cus_1' } },
    });
    expect(ok.status).toBe(201);
    expect(ok.body.metadata).toEqual({ customer_id: 'cus_1' });
  });

  it('enforces the active-schedules quota of the environment with a 429 naming the quota', async () => {
    const login = await stack.api('/v1/sessions', { body: stack.owner });
    expect(login.status).toBe(201);
    const owner = { authorization: `Bearer ${login.body.token}`, 'sched-environment': 'test' };
    // The earlier one-off schedules of this environment complete once their fire is due: wait for that.
    await eventually(async () => (await stack.api('/v1/schedules?state=active&limit=100', { key: stack.keys.test })).body.data.length === 0);
    const patched = await stack.api('/v1/limits', { method: 'PATCH', headers: owner, body: { active_schedules: 1 } });
    expect(patched.status).toBe(200);
    const allowed = await stack.api('/v1/schedules', { key: stack.keys.test, body: { endpoint: `${receiver.url}/q`, delay: '1h' } });
    expect(allowed.status).toBe(201);
    const refused = await stack.api('/v1/schedules', { key: stack.keys.test, body: { endpoint: `${receiver.url}/q`, delay: '1h' } });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'quota_exceeded', param: 'active_schedules' });
    // Other environments have their own quota.
    const live = await stack.api('/v1/schedules', { key: stack.keys.live, body: { endpoint: `${receiver.url}/q`, delay: '1h' } });
    expect(live.status).toBe(201);
  });

  it("refuses new schedules once the environment's deliveries for the day are used up", async () => {
    const login = await stack.api('/v1/sessions', { body: stack.owner });
    const owner = { authorization: `Bearer ${login.body.token}`, 'sched-environment': 'sandbox' };
    // Every schedule created in sandbox so far has planned one delivery today.
    const today: number = await eventually(async () => (await stack.api('/v1/deliveries?limit=100', { key: stack.keys.sandbox })).body.data.length);
    const patched = await stack.api('/v1/limits', { method: 'PATCH', headers: owner, body: { deliveries_per_day: today } });
    expect(patched.status).toBe(200);
    const refused = await stack.api('/v1/schedules', { key: stack.keys.sandbox, body: { endpoint: `${receiver.url}/d`, delay: '1h' } });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'quota_exceeded', param: 'deliveries_per_day' });
    const raised = await stack.api('/v1/limits', { method: 'PATCH', headers: owner, body: { deliveries_per_day: today + 1 } });
    expect(raised.status).toBe(200);
    const allowed = await stack.api('/v1/schedules', { key: stack.keys.sandbox, body: { endpoint: `${receiver.url}/d`, delay: '1h' } });
    expect(allowed.status).toBe(201);
  });
});
