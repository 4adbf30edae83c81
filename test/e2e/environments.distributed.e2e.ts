import { describeWithNats, natsUrl } from '@schedstack/testing';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { type DistributedStack, freePort, startDistributedStack, type TestStack, withApi } from '../support';
import { inOneSecond } from '../support/rate-windows';

/**
 * SPEC §5 across replicas: two gateway processes share one rate-limit counter per key, a key
 * revoked through one gateway is refused by the other within the credential cache's TTL, and a
 * clone is announced as `environment.cloned` to a plain NATS subscriber.
 */
describeWithNats('environments — several gateway replicas (distributed profile)', () => {
  let stack: DistributedStack;
  let second: TestStack;

  beforeAll(async () => {
    stack = await startDistributedStack('env_dist', {}, { productRateLimits: true });
    const port = await freePort();
    stack.startApp('gateway', { PORT: String(port) });
    second = withApi(`http://127.0.0.1:${port}`, stack.projectId, stack.keys, async () => undefined);
    const deadline = Date.now() + 60_000;
    while ((await fetch(`${second.url}/readyz`).then((r) => r.status, () => 0)) !== 200) {
      if (Date.now() > deadline) throw new Error('the second gateway did not become ready');
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 180_000);

  afterAll(() => stack?.close(), 60_000);

  it('runs two gateway processes', () => {
    expect(stack.processes.filter((p) => p.name.startsWith('gateway')).map((p) => p.name)).toEqual(['gateway#1', 'gateway#2']);
  });

  it('shares one counter per key between the gateways: RateLimit-Remaining counts down across both', async () => {
    const remaining = await inOneSecond(async () => {
      const seen: number[] = [];
      for (let i = 0; i < 6; i++) {
        const gateway = i % 2 === 0 ? stack : second;
        seen.push(Number((await gateway.api('/v1/limits', { key: stack.keys.sandbox })).headers.get('ratelimit-remaining')));
      }
      return seen;
    });
    expect(remaining).toEqual([9, 8, 7, 6, 5, 4]);
  });

  it('holds the limit for a burst spread over both gateways', async () => {
    const responses = await inOneSecond(() =>
      Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? stack : second).api('/v1/limits', { key: stack.keys.test }))),
    );
    expect(responses.filter((r) => r.status === 200)).toHaveLength(10);
    const limited = responses.filter((r) => r.status === 429);
    expect(limited).toHaveLength(14);
    expect(limited.every((r) => r.headers.get('retry-after') === '1')).toBe(true);
  });

  it('refuses a revoked key at once on the gateway that revoked it, and on the other within the cache TTL', async () => {
    const minted = await stack.api('/v1/api-keys', { key: stack.keys.live, body: { name: 'rotating' } });
    const key = minted.body.secret as string;
    // Both gateways have verified (and cached) the key.
    expect((await stack.api('/v1/limits', { key })).status).toBe(200);
    expect((await second.api('/v1/limits', { key })).status).toBe(200);
    const revokedAt = Date.now();
    expect((await stack.api(`/v1/api-keys/${minted.body.id}`, { key: stack.keys.live, method: 'DELETE' })).status).toBe(200);
    expect((await stack.api('/v1/limits', { key })).status).toBe(401);
    while ((await second.api('/v1/limits', { key })).status !== 401) {
      expect(Date.now() - revokedAt).toBeLessThan(3_000);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('announces a clone as environment.cloned on events.<project>.<target>.environment.cloned', async () => {
    let nc: NatsConnection | undefined;
    let sub: Subscription | undefined;
    try {
      nc = await connect({ servers: natsUrl() });
      const prefix = stack.env.SCHEDSTACK_EVENTS_PREFIX as string;
      sub = nc.subscribe(`${prefix}.${stack.projectId}.sandbox.environment.cloned`, { max: 1 });
      const created = await stack.api('/v1/processes', { key: stack.keys.live, body: { name: 'announced' } });
      expect(created.status).toBe(201);
      const cloned = await second.api('/v1/environments/sandbox/clone', { key: stack.keys.live, body: {} });
      expect(cloned.body.applied).toBe(true);
      const message = await Promise.race([
        (async () => {
          for await (const m of sub as Subscription) return m;
          return undefined;
        })(),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 15_000)),
      ]);
      expect(message).toBeDefined();
      const event = message?.json<{ type: string; data: Record<string, unknown> }>();
      expect(event?.type).toBe('environment.cloned');
      expect(event?.data).toMatchObject({
        source: 'live',
        target: 'sandbox',
        source_position: cloned.body.source_position,
        changes: expect.objectContaining({ processes: { added: [created.body.id], changed: [], removed: [] } }),
      });
    } finally {
      sub?.unsubscribe();
      await nc?.close();
    }
  });
});
