import { type Receiver, startReceiver, eventually } from '@schedstack/testing';
import { UndiciHttpSender } from './http-sender';
import { FireLauncher, type LaunchOrder, type LaunchReport } from './launcher';
import { OutboundGuard } from './outbound-guard';

/**
 * A fire handed to the sender may wait for a connection (a burst to one origin). Its lease is
 * checked again when its turn comes: renewals may have stalled meanwhile, and another replica may
 * hold the fire by then (docs/dispatcher.md, "The sending threads").
 */
describe('FireLauncher — a fire waiting for a connection', () => {
  let receiver: Receiver;
  let launcher: FireLauncher;
  let reports: LaunchReport[];
  const reportsOf = (id: string) => reports.filter((r) => r.id === id).map((r) => r.kind);
  const receivedPaths = () => receiver.requests.map((r) => r.path);

  const order = (id: string, leaseDeadline: number): LaunchOrder => ({
    id,
    atMs: Date.now(),
    leaseDeadline,
    request: { url: `${receiver.url}/${id}`, method: 'POST', headers: { 'sched-delivery-id': `dlv_${id}`, 'sched-attempt': '1' }, body: '{}', timeoutMs: 10_000 },
    mocked: false,
    breaker: null,
  });

  beforeEach(async () => {
    receiver = await startReceiver();
    // The one connection is held by `/busy` for 2 s; every other fire waits for it.
    receiver.respondWith((req) => ({ status: 200, body: 'ok', delayMs: req.path === '/busy' ? 2_000 : 0 }));
    reports = [];
    launcher = new FireLauncher(new UndiciHttpSender({ guard: new OutboundGuard({ allowLoopback: true, allowlist: [] }), connections: 1 }));
    launcher.connect((batch) => reports.push(...batch));
  });

  afterEach(async () => {
    await launcher.stop();
    await launcher.close();
    await receiver.close();
  });

  /** Arms `/busy` and then `id` (lease until `leaseDeadline`), and waits until `/busy` holds the connection. */
  async function queueBehindBusy(id: string, leaseDeadline: number): Promise<void> {
    launcher.arm([order('busy', Date.now() + 30_000)]);
    await receiver.waitFor(1);
    launcher.arm([order(id, leaseDeadline)]);
    // Its timer runs at once and it is handed to the sender, where it waits.
    await new Promise((r) => setTimeout(r, 100));
    expect(reportsOf(id)).toEqual([]);
  }

  it('does not send one whose lease ran out while it waited; a renewal that proves it still ours sends it', async () => {
    // Valid at the hand-over, past by the time `/busy` gives the connection back.
    await queueBehindBusy('lapsing', Date.now() + 800);
    await eventually(() => reportsOf('lapsing').length > 0);
    expect(reportsOf('lapsing')).toEqual(['lapsed']);
    expect(receivedPaths()).toEqual(['/busy']);

    launcher.resume('lapsing', Date.now() + 30_000);
    await eventually(() => reportsOf('lapsing').includes('sent'));
    expect(reportsOf('lapsing')).toEqual(['lapsed', 'sent']);
    expect(receivedPaths()).toEqual(['/busy', '/lapsing']);
  });

  it('sends one whose lease a renewal extended while it waited', async () => {
    await queueBehindBusy('renewed', Date.now() + 800);
    launcher.extend([['renewed', Date.now() + 30_000]]);
    await eventually(() => reportsOf('renewed').length > 0);
    expect(reportsOf('renewed')).toEqual(['sent']);
    expect(receivedPaths()).toEqual(['/busy', '/renewed']);
  });

  it('drops one disarmed while it waited (its lease found gone, or the fire withdrawn) and never sends it', async () => {
    await queueBehindBusy('withdrawn', Date.now() + 30_000);
    launcher.disarm(['withdrawn']);
    launcher.arm([order('after', Date.now() + 30_000)]);
    await eventually(() => reportsOf('after').includes('sent'));
    expect(reportsOf('withdrawn')).toEqual(['dropped']);
    expect(receivedPaths()).toEqual(['/busy', '/after']);
  });
});
