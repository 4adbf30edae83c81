import { startLocalStack, type TestStack } from '../support';
import { inOneSecond } from '../support/rate-windows';

/**
 * SPEC §5 rate limits and quotas through HTTP, with the product defaults in force: 10 requests
 * per second per key in sandbox and test, 100 in live; 429 with Retry-After and RateLimit-*.
 */
describe('environments — rate limits and quotas (SPEC §5)', () => {
  let stack: TestStack;
  let ownerSession: string;
  let adminSession: string;

  beforeAll(async () => {
    stack = await startLocalStack('env_limits', { productRateLimits: true });
    ownerSession = (await stack.api('/v1/sessions', { body: stack.owner })).body.token;
    const admin = await stack.api('/v1/members', { key: ownerSession, body: { email: 'admin@example.com', role: 'admin' } });
    adminSession = (await stack.api('/v1/sessions', { body: { email: 'admin@example.com', password: admin.body.password } })).body.token;
  }, 60_000);

  afterAll(() => stack?.close());

  it('starts from the defaults: live at 100 requests/s and no quotas, sandbox and test throttled', async () => {
    expect((await stack.api('/v1/limits', { key: stack.keys.live })).body).toEqual({
      object: 'limits',
      mode: 'live',
      requests_per_second: 100,
      active_schedules: null,
      deliveries_per_day: null,
      updated_at: null,
    });
    for (const environment of ['sandbox', 'test'] as const) {
      expect((await stack.api('/v1/limits', { key: stack.keys[environment] })).body).toEqual({
        object: 'limits',
        mode: environment,
        requests_per_second: 10,
        active_schedules: 1_000,
        deliveries_per_day: 10_000,
        updated_at: null,
      });
    }
  });

  it('sends RateLimit headers on every /v1 response', async () => {
    const res = await stack.api('/v1/processes', { key: stack.keys.live });
    expect(res.headers.get('ratelimit-limit')).toBe('100');
    expect(Number(res.headers.get('ratelimit-remaining'))).toBeLessThan(100);
    expect(Number(res.headers.get('ratelimit-reset'))).toBe(1);
  });

  it('answers the 11th request of a second with a sandbox key with 429, Retry-After and RateLimit-*', async () => {
    const responses = await inOneSecond(() => Promise.all(Array.from({ length: 15 }, () => stack.api('/v1/limits', { key: stack.keys.sandbox }))));
    const ok = responses.filter((r) => r.status === 200);
    const limited = responses.filter((r) => r.status === 429);
    expect(ok).toHaveLength(10);
    expect(limited).toHaveLength(5);
    for (const res of limited) {
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.headers.get('ratelimit-limit')).toBe('10');
      expect(res.headers.get('ratelimit-remaining')).toBe('0');
      expect(res.headers.get('ratelimit-reset')).toBe('1');
      expect(res.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
      expect(res.body.error.message).toContain('10 requests per second in sandbox');
    }
    expect(ok.map((r) => Number(r.headers.get('ratelimit-remaining'))).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('counts each key on its own', async () => {
    const second = (await stack.api('/v1/api-keys', { key: stack.keys.test, body: { name: 'second' } })).body.secret as string;
    const [first, other] = await inOneSecond(() =>
      Promise.all([
        Promise.all(Array.from({ length: 12 }, () => stack.api('/v1/limits', { key: stack.keys.test }))),
        Promise.all(Array.from({ length: 5 }, () => stack.api('/v1/limits', { key: second }))),
      ]),
    );
    expect(first.filter((r) => r.status === 200)).toHaveLength(10);
    expect(other.every((r) => r.status === 200)).toBe(true);
  });

  it('lets an owner change an environment’s limits, which the gateway applies at once', async () => {
    const changed = await stack.api('/v1/limits', {
      key: ownerSession,
      method: 'PATCH',
      headers: { 'sched-environment': 'sandbox' },
      body: { requests_per_second: 3, active_schedules: null },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ mode: 'sandbox', requests_per_second: 3, active_schedules: null, deliveries_per_day: 10_000 });
    expect(Date.parse(changed.body.updated_at)).not.toBeNaN();
    const responses = await inOneSecond(() => Promise.all(Array.from({ length: 6 }, () => stack.api('/v1/processes', { key: stack.keys.sandbox }))));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(3);
    expect(responses.find((r) => r.status === 429)?.headers.get('ratelimit-limit')).toBe('3');
    await stack.api('/v1/limits', { key: ownerSession, method: 'PATCH', headers: { 'sched-environment': 'sandbox' }, body: { requests_per_second: 10 } });
  });

  it('lets only an owner session or a live key edit limits', async () => {
    const byAdmin = await stack.api('/v1/limits', { key: adminSession, method: 'PATCH', body: { requests_per_second: 50 } });
    expect(byAdmin.status).toBe(403);
    const bySandboxKey = await stack.api('/v1/limits', { key: stack.keys.sandbox, method: 'PATCH', body: { requests_per_second: 50 } });
    expect(bySandboxKey.status).toBe(403);
    expect(bySandboxKey.body.error.code).toBe('insufficient_permissions');
    const byLiveKey = await stack.api('/v1/limits', { key: stack.keys.live, method: 'PATCH', body: { deliveries_per_day: 50_000 } });
    expect(byLiveKey.status).toBe(200);
    expect(byLiveKey.body).toMatchObject({ mode: 'live', requests_per_second: 100, deliveries_per_day: 50_000 });
  });

  it.each([
    [{ requests_per_second: 0 }, 'requests_per_second'],
    [{ requests_per_second: 'fast' }, 'requests_per_second'],
    [{ requests_per_second: null }, 'requests_per_second'],
    [{ active_schedules: -5 }, 'active_schedules'],
    [{ deliveries_per_day: 2.5 }, 'deliveries_per_day'],
    [{ burst: 20 }, 'burst'],
  ])('refuses PATCH /v1/limits %j with 400 naming %s', async (body, param) => {
    const res = await stack.api('/v1/limits', { key: stack.keys.live, method: 'PATCH', body });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe(param);
  });
});
