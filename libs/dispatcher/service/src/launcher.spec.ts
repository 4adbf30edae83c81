import { eventually, type Receiver, startReceiver } from '@schedstack/testing';
import { UndiciHttpSender } from './http-sender';
import { FireLauncher, type LaunchOrder, type LaunchReport } from './launcher';
import { OutboundGuard } from './outbound-guard';

/** How long `/busy` holds the one connection, and the lease a waiting fire is given: it lapses in between, with margins a saturated machine keeps. */
const BUSY_MS = 3_000;
const SHORT_LEASE_MS = 1_500;

/**
 * A fire handed to the sender may wait for a connection (a burst to one origin). Its lease is
 * checked again when its turn comes: renewals may have stalled meanwhile, and another replica may
 * hold the fire by then (docs/dispatcher.md, "The sending threads").
 */
describe('FireLauncher — a fire waiting for a connection', () => {
  let receiver: Receiver;
  let launcher: FireLauncher;
  let reports: LaunchReport[];
  /** The launcher's clock (breakers and timers), which a test may move ahead; leases are by Date.now(). */
  let clockOffsetMs: number;
  const clock = () => Date.now() + clockOffsetMs;
  const reportsOf = (id: string) => reports.filter((r) => r.id === id).map((r) => r.kind);
  const receivedPaths = () => receiver.requests.map((r) => r.path);
  const poll = (probe: () => boolean) => eventually(probe, 20_000, 10);

  const order = (id: string, leaseMs: number, overrides: Partial<LaunchOrder> = {}): LaunchOrder => ({
    id,
    atMs: clock(),
    leaseDeadline: Date.now() + leaseMs,
    request: { url: `${receiver.url}/${id}`, method: 'POST', headers: { 'sched-delivery-id': `dlv_${id}`, 'sched-attempt': '1' }, body: '{}', timeoutMs: 10_000 },
    mocked: false,
    breaker: null,
    ...overrides,
  });

  beforeEach(async () => {
    receiver = await startReceiver();
    receiver.respondWith((req) => ({ status: req.path === '/failing' ? 500 : 200, body: 'ok', delayMs: req.path === '/busy' ? BUSY_MS : 0 }));
    reports = [];
    clockOffsetMs = 0;
    launcher = new FireLauncher(new UndiciHttpSender({ guard: new OutboundGuard({ allowLoopback: true, allowlist: [] }), connections: 1 }), clock);
    launcher.connect((batch) => reports.push(...batch));
  });

  afterEach(async () => {
    await launcher.stop();
    await launcher.close();
    await receiver.close();
  });

  /** Arms `/busy`, waits until it holds the connection, then arms `next` behind it and waits until it is handed to the sender. */
  async function queueBehindBusy(next: () => LaunchOrder): Promise<LaunchOrder> {
    launcher.arm([order('busy', 60_000)]);
    await receiver.waitFor(receiver.requests.length + 1);
    const queued = next();
    launcher.arm([queued]);
    // Its timer runs at once and it is handed to the sender, where it waits.
    await new Promise((r) => setTimeout(r, 100));
    expect(reportsOf(queued.id)).toEqual([]);
    return queued;
  }

  it('does not send one whose lease ran out while it waited; a renewal that proves it still ours sends it', async () => {
    // Valid at the hand-over, past by the time `/busy` gives the connection back.
    await queueBehindBusy(() => order('lapsing', SHORT_LEASE_MS));
    await poll(() => reportsOf('lapsing').length > 0);
    expect(reportsOf('lapsing')).toEqual(['lapsed']);
    expect(receivedPaths()).toEqual(['/busy']);

    launcher.resume('lapsing', Date.now() + 30_000);
    await poll(() => reportsOf('lapsing').includes('sent'));
    expect(reportsOf('lapsing')).toEqual(['lapsed', 'sent']);
    expect(receivedPaths()).toEqual(['/busy', '/lapsing']);
  });

  it('sends one whose lease a renewal extended while it waited', async () => {
    await queueBehindBusy(() => order('renewed', SHORT_LEASE_MS));
    launcher.extend([['renewed', Date.now() + 30_000]]);
    await poll(() => reportsOf('renewed').length > 0);
    expect(reportsOf('renewed')).toEqual(['sent']);
    expect(receivedPaths()).toEqual(['/busy', '/renewed']);
  });

  it('drops one disarmed while it waited (its lease found gone, or the fire withdrawn) and never sends it', async () => {
    await queueBehindBusy(() => order('withdrawn', 60_000));
    launcher.disarm(['withdrawn']);
    launcher.arm([order('after', 60_000)]);
    await poll(() => reportsOf('after').includes('sent'));
    expect(reportsOf('withdrawn')).toEqual(['dropped']);
    expect(receivedPaths()).toEqual(['/busy', '/after']);
  });

  it('hands one still waiting back at stop, and neither sends nor reports it', async () => {
    await queueBehindBusy(() => order('at-stop', 60_000));
    expect(await launcher.stop()).toEqual(['at-stop']);
    await poll(() => reportsOf('busy').includes('sent'));
    await launcher.close();
    expect(reportsOf('at-stop')).toEqual([]);
    expect(receivedPaths()).toEqual(['/busy']);
  });

  it("lets its origin's next fire probe at once when a half-open breaker's probe is held back", async () => {
    const breaker = { key: `${receiver.url}`, settings: { failureThreshold: 1, coolDownMs: 60_000 } };
    // One failure opens the breaker for a minute of the launcher's clock…
    launcher.arm([order('failing', 60_000, { breaker })]);
    await poll(() => reportsOf('failing').includes('sent'));
    // …which passes; the probe it then admits waits behind `/busy` (no breaker) and lapses there.
    clockOffsetMs += 60_000;
    await queueBehindBusy(() => order('probe', SHORT_LEASE_MS, { breaker }));
    await poll(() => reportsOf('probe').length > 0);
    expect(reportsOf('probe')).toEqual(['lapsed']);

    // The probe never reported: the next fire is the probe now, not deferred for another minute.
    launcher.arm([order('next', 60_000, { breaker })]);
    await poll(() => reportsOf('next').length > 0);
    expect(reportsOf('next')).toEqual(['sent']);
  });
});
