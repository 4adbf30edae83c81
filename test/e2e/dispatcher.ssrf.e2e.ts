import type { DeliveryView } from '@schedstack/contracts';
import { type Receiver, startReceiver } from '@schedstack/testing';
import { type DispatchStack, eventually, startDispatchStack } from '../support';

/**
 * SPEC §4 outbound safety, probed end to end: a stack that does not allow loopback (as in
 * production), an operator allowlist of 127.0.0.2 only, and a real receiver on 127.0.0.1 that
 * must never see a request.
 */
describe('dispatcher outbound guard — SSRF probes (loopback not allowed, allowlist 127.0.0.2)', () => {
  let stack: DispatchStack;
  let receiver: Receiver;
  let allowed: Receiver;
  let port: string;

  beforeAll(async () => {
    stack = await startDispatchStack('dsp_ssrf', { SCHEDSTACK_ALLOW_LOOPBACK: 'false', SCHEDSTACK_OUTBOUND_ALLOWLIST: '127.0.0.2/32' });
    receiver = await startReceiver();
    allowed = await startReceiver({ host: '127.0.0.2' });
    port = new URL(receiver.url).port;
  });

  afterAll(async () => {
    await allowed?.close();
    await receiver?.close();
    await stack?.close();
  });

  const probes: [string, string][] = [
    ['loopback', 'http://127.0.0.1:PORT/probe'],
    ['IPv6 loopback', 'http://[::1]:PORT/probe'],
    ['IPv4-mapped IPv6', 'http://[::ffff:127.0.0.1]:PORT/probe'],
    ['decimal IPv4', 'http://2130706433:PORT/probe'],
    ['hex IPv4', 'http://0x7f000001:PORT/probe'],
    ['octal IPv4', 'http://0177.0.0.1:PORT/probe'],
    ['0.0.0.0', 'http://0.0.0.0:PORT/probe'],
    ['a host name resolving to loopback', 'http://localhost:PORT/probe'],
    ['private 10/8', 'http://10.0.0.1/probe'],
    ['private 172.16/12', 'http://172.16.0.1/probe'],
    ['private 192.168/16', 'http://192.168.0.1/probe'],
    ['link-local', 'http://169.254.10.10/probe'],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['CGNAT', 'http://100.64.0.1/probe'],
    ['multicast', 'http://224.0.0.1/probe'],
    ['broadcast', 'http://255.255.255.255/probe'],
    ['IPv6 unique-local', 'http://[fc00::1]/probe'],
    ['IPv6 link-local', 'http://[fe80::1]/probe'],
    ['IPv6 multicast', 'http://[ff02::1]/probe'],
    ['IPv6 cloud metadata', 'http://[fd00:ec2::254]/latest/meta-data/'],
  ];

  it.each(probes)('refuses %s in live as a permanent failure, without connecting', async (_family, template) => {
    const endpoint = template.replace('PORT', port);
    const { deliveryId } = await stack.plan('live', { endpoint });
    const delivery = await stack.waitForDelivery('live', deliveryId, (d) => d.state === 'dead_lettered');
    expect(delivery.attempts).toEqual([
      expect.objectContaining({ n: 1, fire_kind: 'first', status_code: null, response_body: null, error: expect.stringMatching(/^endpoint_blocked: .+ address/) }),
    ]);
    expect(delivery.next_attempt_at).toBeNull();
    expect(receiver.requests).toHaveLength(0);
  });

  it('refuses the cloud metadata address for a schedule created with a live key through the API', async () => {
    const created = await stack.api('/v1/schedules', { key: stack.keys.live, body: { endpoint: 'http://169.254.169.254/latest/meta-data/iam', delay: '1s' } });
    // Refusing it at creation would be as good; when it is accepted, the dispatcher must refuse it.
    expect([201, 400]).toContain(created.status);
    if (created.status === 400) {
      expect(created.body.error.param).toBe('endpoint');
      return;
    }
    const delivery = await eventually(async () => {
      const res = await stack.api(`/v1/deliveries?schedule=${created.body.id}`, { key: stack.keys.live });
      return res.body.data[0]?.state === 'dead_lettered' ? (res.body.data[0] as DeliveryView) : undefined;
    });
    expect(delivery.attempts[0].error).toBe(
      'endpoint_blocked: 169.254.169.254 is a cloud metadata address; an operator can allow it with SCHEDSTACK_OUTBOUND_ALLOWLIST',
    );
  });

  it('guards sandbox and test too: a test key is no way around it', async () => {
    const { deliveryId } = await stack.plan('test', { endpoint: `http://127.0.0.1:${port}/probe` });
    const delivery = await stack.waitForDelivery('test', deliveryId, (d) => d.state === 'dead_lettered');
    expect(delivery.attempts[0].error).toMatch(/^endpoint_blocked: 127\.0\.0\.1 is a loopback address/);
    expect(receiver.requests).toHaveLength(0);
  });

  it('delivers to an address the operator allowlisted', async () => {
    const { deliveryId } = await stack.plan('live', { endpoint: `${allowed.url}/ok` });
    const delivery = await stack.waitForDelivery('live', deliveryId, (d) => d.state === 'succeeded');
    expect(delivery.attempts[0].status_code).toBe(200);
    expect(allowed.requests.map((r) => r.path)).toContain('/ok');
  });

  it('does not follow a redirect to 127.0.0.1: the 3xx is the answer, and a permanent failure', async () => {
    allowed.respondWith((req) =>
      req.path === '/redirect' ? { status: 302, headers: { location: `http://127.0.0.1:${port}/stolen` } } : { status: 200, body: 'ok' },
    );
    const { deliveryId } = await stack.plan('live', { endpoint: `${allowed.url}/redirect` });
    const delivery = await stack.waitForDelivery('live', deliveryId, (d) => d.state === 'dead_lettered');
    expect(delivery.attempts).toEqual([
      expect.objectContaining({ status_code: 302, error: `redirect not followed: 302 to http://127.0.0.1:${port}/stolen` }),
    ]);
    expect(allowed.requests.filter((r) => r.path === '/redirect')).toHaveLength(1);
    expect(receiver.requests).toHaveLength(0);
  });
});
