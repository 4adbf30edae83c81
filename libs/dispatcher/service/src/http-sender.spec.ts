import { type Receiver, startReceiver } from '@schedstack/testing';
import { UndiciHttpSender } from './http-sender';
import { OutboundGuard } from './outbound-guard';

/**
 * SPEC §7: lag runs to when the request went out. In a burst a request can wait in the client for
 * a pooled connection; the sender reports that wait, so the engine's fired_at includes it.
 */
describe('UndiciHttpSender — time spent waiting for a connection', () => {
  let receiver: Receiver;
  let sender: UndiciHttpSender;

  beforeAll(async () => {
    receiver = await startReceiver();
    // The first request is held 300 ms: on a single connection the second cannot go out before.
    receiver.respondWith((_req, index) => ({ status: 200, body: 'ok', delayMs: index === 0 ? 300 : 0 }));
    sender = new UndiciHttpSender({ guard: new OutboundGuard({ allowLoopback: true, allowlist: [] }), connections: 1 });
  });

  afterAll(async () => {
    await sender?.close();
    await receiver?.close();
  });

  it('reports how long a request queued behind another on the one connection, and not for the first', async () => {
    const send = (id: string) =>
      sender.send({ url: `${receiver.url}/queue`, method: 'POST', headers: { 'sched-delivery-id': id, 'sched-attempt': '1' }, body: '{}', timeoutMs: 10_000 });
    const [first, second] = await Promise.all([send('dlv_first'), send('dlv_second')]);

    expect(first).toMatchObject({ kind: 'response', status: 200 });
    expect(second).toMatchObject({ kind: 'response', status: 200 });
    // Causality, not speed: the second was written only after the first's 300 ms answer.
    expect(second.queuedMs).toBeGreaterThanOrEqual(290);
    expect(first.queuedMs ?? 0).toBeLessThan(second.queuedMs ?? 0);
    expect(receiver.requests.map((r) => r.headers['sched-delivery-id'])).toEqual(['dlv_first', 'dlv_second']);
  });

  it('reports nothing for a request it never wrote (refused by the guard)', async () => {
    const strict = new UndiciHttpSender({ guard: new OutboundGuard({ allowLoopback: false, allowlist: [] }) });
    try {
      const result = await strict.send({ url: `${receiver.url}/refused`, method: 'POST', headers: { 'sched-delivery-id': 'dlv_refused', 'sched-attempt': '1' }, body: null, timeoutMs: 5_000 });
      expect(result.kind).toBe('refused');
      expect(result.queuedMs).toBeUndefined();
    } finally {
      await strict.close();
    }
  });
});
