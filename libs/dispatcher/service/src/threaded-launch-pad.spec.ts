import { type Receiver, startReceiver, eventually } from '@schedstack/testing';
import type { LaunchOrder, LaunchReport } from './launcher';
import { ThreadedLaunchPad } from './threaded-launch-pad';

describe('ThreadedLaunchPad: the launcher on a sending thread of its own', () => {
  let receiver: Receiver;
  let pad: ThreadedLaunchPad;
  let reports: LaunchReport[];
  const reportsOf = (id: string) => reports.filter((r) => r.id === id).map((r) => r.kind);

  const order = (id: string, overrides: Partial<LaunchOrder> = {}): LaunchOrder => ({
    id,
    atMs: Date.now(),
    leaseDeadline: Date.now() + 30_000,
    request: {
      url: `${receiver.url}/hook/${id}`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sched-delivery-id': `dlv_${id}`, 'sched-attempt': '1' },
      body: `{"fire":"${id}"}`,
      timeoutMs: 5_000,
    },
    mocked: false,
    breaker: null,
    ...overrides,
  });

  beforeAll(async () => {
    receiver = await startReceiver();
  });

  beforeEach(() => {
    reports = [];
    pad = new ThreadedLaunchPad({ guard: { allowLoopback: true, allowlist: [] } });
    pad.connect((batch) => reports.push(...batch));
  });

  afterEach(async () => {
    await pad.stop();
    await pad.close();
  });

  afterAll(() => receiver.close());

  it('sends an order from the thread at its time and reports the answer', async () => {
    receiver.respondWith(() => ({ status: 201, body: 'created' }));
    const before = receiver.requests.length;
    const at = Date.now() + 100;
    pad.arm([order('a1', { atMs: at })]);
    await eventually(() => reportsOf('a1').includes('sent'));
    const [received] = receiver.requests.slice(before);
    expect(received).toMatchObject({ method: 'POST', path: '/hook/a1', body: '{"fire":"a1"}' });
    expect(received.headers['sched-delivery-id']).toBe('dlv_a1');
    expect(received.receivedAt).toBeGreaterThanOrEqual(at);
    const sent = reports.find((r) => r.id === 'a1' && r.kind === 'sent');
    expect(sent).toMatchObject({ kind: 'sent', result: { kind: 'response', status: 201, body: 'created' } });
  });

  it('reports a disarmed order dropped and never sends it', async () => {
    const before = receiver.requests.length;
    pad.arm([order('d1', { atMs: Date.now() + 60_000 })]);
    pad.disarm(['d1']);
    await eventually(() => reportsOf('d1').includes('dropped'));
    expect(reportsOf('d1')).toEqual(['dropped']);
    expect(receiver.requests.slice(before).map((r) => r.path)).not.toContain('/hook/d1');
  });

  it('holds an order whose lease ran out before its time until a renewal resumes it', async () => {
    const before = receiver.requests.length;
    pad.arm([order('l1', { atMs: Date.now() + 50, leaseDeadline: Date.now() - 1 })]);
    await eventually(() => reportsOf('l1').includes('lapsed'));
    // Nothing went out on a lapsed lease.
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.requests.slice(before).map((r) => r.path)).not.toContain('/hook/l1');
    pad.resume('l1', Date.now() + 30_000);
    await eventually(() => reportsOf('l1').includes('sent'));
    expect(reportsOf('l1')).toEqual(['lapsed', 'sent']);
  });

  it('sends an order whose lease deadline an extension moved past its time', async () => {
    // Its time comes a second after the lease it was armed with ran out; the extension comes first.
    pad.arm([order('e1', { atMs: Date.now() + 1_100, leaseDeadline: Date.now() + 100 })]);
    pad.extend([['e1', Date.now() + 30_000]]);
    await eventually(() => reportsOf('e1').includes('sent'));
    expect(reportsOf('e1')).toEqual(['sent']);
  });

  it('checks endpoints with its own outbound guard', async () => {
    await pad.close();
    pad = new ThreadedLaunchPad({ guard: { allowLoopback: false, allowlist: [] } });
    pad.connect((batch) => reports.push(...batch));
    pad.arm([order('g1')]);
    await eventually(() => reportsOf('g1').includes('sent'));
    expect(reports.find((r) => r.id === 'g1')).toMatchObject({ kind: 'sent', result: { kind: 'refused', error: expect.stringContaining('loopback') } });
  });

  it('answers a stop with the orders it had not sent, and ignores orders after it', async () => {
    pad.arm([order('s1', { atMs: Date.now() + 60_000 }), order('s2', { atMs: Date.now() + 60_000 })]);
    expect((await pad.stop()).sort()).toEqual(['s1', 's2']);
    pad.arm([order('s3')]);
    await new Promise((r) => setTimeout(r, 200));
    expect(reportsOf('s3')).toEqual([]);
  });

  it('reports what a dead thread held as dropped and goes on with a new one', async () => {
    pad.arm([order('x1', { atMs: Date.now() + 60_000 })]);
    // The thread dies (an out-of-memory abort, a native crash): here, terminated from outside.
    await pad['lanes'][0].worker.terminate();
    await eventually(() => reportsOf('x1').includes('dropped'));
    pad.arm([order('x2')]);
    await eventually(() => reportsOf('x2').includes('sent'));
  });

  describe('with two sending threads', () => {
    let two: ThreadedLaunchPad;
    let mine: LaunchReport[];
    const mineOf = (id: string) => mine.filter((r) => r.id === id).map((r) => r.kind);

    beforeEach(() => {
      mine = [];
      two = new ThreadedLaunchPad({ guard: { allowLoopback: true, allowlist: [] } }, 2);
      two.connect((batch) => mine.push(...batch));
    });

    afterEach(async () => {
      await two.stop();
      await two.close();
    });

    it('uses both threads, and disarms, extends and stops each order on the thread that holds it', async () => {
      receiver.respondWith(() => ({ status: 200, body: 'ok' }));
      const later = ['t1', 't2', 't3', 't4'].map((id) => order(id, { atMs: Date.now() + 60_000 }));
      two.arm(later);
      const lanes = new Set(later.map((o) => two['laneOf'].get(o.id)));
      expect(lanes.size).toBe(2);
      two.disarm(['t1', 't2']);
      await eventually(() => mineOf('t1').includes('dropped') && mineOf('t2').includes('dropped'));
      // Both threads send what is due now.
      two.arm([order('n1'), order('n2')]);
      await eventually(() => mineOf('n1').includes('sent') && mineOf('n2').includes('sent'));
      expect((await two.stop()).sort()).toEqual(['t3', 't4']);
    });

    it("sends every fire of an origin with a breaker through one thread, so the origin's failures open one breaker", async () => {
      receiver.respondWith(() => ({ status: 500, body: 'down' }));
      const breaker = { key: 'test|live|http://origin.example', settings: { failureThreshold: 1, coolDownMs: 60_000 } };
      two.arm([order('b1', { breaker })]);
      await eventually(() => mineOf('b1').includes('sent'));
      two.arm([order('b2', { breaker, atMs: Date.now() + 50 })]);
      await eventually(() => mineOf('b2').length > 0);
      expect(mineOf('b2')).toEqual(['deferred']);
      receiver.respondWith(() => ({ status: 200, body: 'ok' }));
    });
  });
});
