import type { DeliveryView, Scope } from '@schedstack/contracts';
import type { PostgresEventStore } from '@schedstack/event-store';
import { describeWithNats, type Receiver } from '@schedstack/testing';
import type { Pool } from 'pg';
import { appReady as ready, type DispatcherPair, type DistributedStack, eventually, planFire, startDispatcherPair, withdrawSchedule } from '../support';

/** Short, so the kill -9 reclaim below waits little; well above the event-loop stalls of a saturated CI machine (the product default is 30 s). */
const LEASE_MS = 5_000;

/**
 * SPEC §4 leases with real processes: dispatcher replicas over real NATS and PostgreSQL. The lease
 * is short (LEASE_MS) so a killed holder's fires are taken over within the test.
 */
describeWithNats('dispatcher replicas — shared fires, withdrawal and kill -9 reclaim (distributed profile)', () => {
  let pair: DispatcherPair;
  let stack: DistributedStack;
  let receiver: Receiver;
  let pool: Pool;
  let store: PostgresEventStore;
  let scope: Scope;
  const at = (path: string) => receiver.requests.filter((r) => r.path === path);
  /**
   * The 2,000 attempts above leave the dispatcher's projection a backlog to apply; a test that
   * must act before its fires are due waits for it to catch up first.
   */
  const projectionCaughtUp = () =>
    eventually(async () => {
      const { rows } = await pool.query<{ behind: boolean }>(
        `SELECT EXISTS (
           SELECT 1 FROM es_events e, projection_checkpoints c
            WHERE c.name = 'dispatcher.due-fires'
              AND e.type IN ('schedule.fire_planned', 'schedule.paused', 'schedule.canceled', 'delivery.attempted', 'delivery.replay_requested')
              AND (e.transaction_id::text::bigint, e.global_position) > (c.commit_position, c.prepare_position)) AS behind`,
      );
      return !rows[0].behind;
    }, 120_000, 250);

  beforeAll(async () => {
    pair = await startDispatcherPair('dsp_replicas', LEASE_MS);
    ({ stack, receiver, pool, store, scope } = pair);
    // Long enough to wait for the other machine-saturating suite to finish first.
  }, 300_000);

  afterAll(() => pair?.close(), 60_000);

  it('two dispatcher processes share 2,000 fires: every delivery arrives exactly once', async () => {
    const due = Date.now() + 5_000;
    // Due over 4 s, four times the claim look-ahead: the replicas claim slices as the window moves
    // on. Due within 1 s, one replica could claim all 2,000 (four full batches back to back) while
    // the other was stalled on a saturated machine, and the test no longer had two at work.
    const SPREAD_MS = 4_000;
    const ids: string[] = [];
    for (let i = 0; i < 2_000; i += 50) {
      const planned = await Promise.all(
        Array.from({ length: 50 }, (_, j) => planFire(store, scope, { endpoint: `${receiver.url}/shared`, at: new Date(due + Math.floor(((i + j) * SPREAD_MS) / 2_000)) })),
      );
      ids.push(...planned.map((p) => p.deliveryId));
    }
    // Who holds leases on these fires while they go out (a finished fire's row is deleted, lease and all).
    const owners = new Set<string>();
    const sampleOwners = async () => {
      const { rows } = await pool.query<{ pid: string }>(
        `SELECT DISTINCT split_part(lease_owner, ':', 2) AS pid FROM dsp_due_fires WHERE delivery_id = ANY($1) AND lease_owner IS NOT NULL`,
        [ids],
      );
      rows.forEach((r) => owners.add(r.pid));
    };
    await eventually(
      async () => {
        await sampleOwners();
        return at('/shared').length >= 2_000;
      },
      150_000,
      100,
    );
    // Every fire is finished, so no late duplicate can still be on its way.
    await eventually(
      async () => (await pool.query<{ n: string }>(`SELECT count(*) AS n FROM dsp_due_fires WHERE delivery_id = ANY($1)`, [ids])).rows[0].n === '0',
      60_000,
      250,
    );
    const received = at('/shared').map((r) => r.headers['sched-delivery-id'] as string);
    expect(received).toHaveLength(2_000);
    expect(new Set(received).size).toBe(2_000);
    expect(new Set(received)).toEqual(new Set(ids));
    expect(at('/shared').every((r) => r.headers['sched-attempt'] === '1')).toBe(true);
    // Both processes took a share of the work.
    const dispatcherPids = stack.processes.filter((p) => p.name.startsWith('dispatcher')).map((p) => String(p.child.pid));
    expect([...owners].sort()).toEqual(dispatcherPids.sort());
  }, 240_000);

  it('withdraws claimed fires of a paused and a canceled schedule, whichever replica holds them', async () => {
    await projectionCaughtUp();
    const due = new Date(Date.now() + 2_500);
    const paused = await planFire(store, scope, { endpoint: `${receiver.url}/paused`, at: due });
    const canceled = await planFire(store, scope, { endpoint: `${receiver.url}/canceled`, at: due });
    const more = await Promise.all(
      [paused, canceled].flatMap(({ scheduleId }, k) =>
        Array.from({ length: 4 }, () => planFire(store, scope, { endpoint: `${receiver.url}/${k === 0 ? 'paused' : 'canceled'}`, at: due, scheduleId })),
      ),
    );
    const ids = [paused, canceled, ...more].map((p) => p.deliveryId);
    await eventually(
      async () =>
        (await pool.query<{ n: string }>(`SELECT count(*) AS n FROM dsp_due_fires WHERE delivery_id = ANY($1) AND lease_owner IS NOT NULL`, [ids])).rows[0].n === '10',
      20_000,
      20,
    );
    await withdrawSchedule(store, scope, paused.scheduleId, 'paused');
    await withdrawSchedule(store, scope, canceled.scheduleId, 'canceled');
    await planFire(store, scope, { endpoint: `${receiver.url}/control`, at: new Date(due.getTime() + 500) });
    await eventually(async () => at('/control').length === 1, 20_000);
    expect(at('/paused')).toHaveLength(0);
    expect(at('/canceled')).toHaveLength(0);
    const view = await eventually(async () => {
      const res = await stack.api(`/v1/deliveries/${paused.deliveryId}`, { key: stack.keys.test });
      return res.body?.state === 'canceled' ? (res.body as DeliveryView) : undefined;
    }, 30_000, 250);
    expect(view.attempts).toHaveLength(0);
  }, 180_000);

  it('reclaims the fires of a dispatcher killed with SIGKILL while holding their leases', async () => {
    // This replica looks 30 s ahead, so it alone claims the fires below before it is killed.
    const doomed = stack.startApp('dispatcher', { SCHEDSTACK_DISPATCH_LOOKAHEAD_MS: '30000' });
    await ready(doomed);
    await projectionCaughtUp();
    const due = new Date(Date.now() + 5_000);
    const planned = await Promise.all(Array.from({ length: 20 }, () => planFire(store, scope, { endpoint: `${receiver.url}/reclaim`, at: due })));
    const ids = planned.map((p) => p.deliveryId);
    await eventually(
      async () =>
        (
          await pool.query<{ n: string }>(`SELECT count(*) AS n FROM dsp_due_fires WHERE delivery_id = ANY($1) AND split_part(lease_owner, ':', 2) = $2`, [
            ids,
            String(doomed.child.pid),
          ])
        ).rows[0].n === '20',
      20_000,
      20,
    );
    doomed.child.kill('SIGKILL');

    await eventually(async () => at('/reclaim').length >= 20, 60_000);
    const received = at('/reclaim').map((r) => r.headers['sched-delivery-id']);
    expect(new Set(received)).toEqual(new Set(ids));
    expect(received).toHaveLength(20);
    const delivery = await eventually(async () => {
      const res = await stack.api(`/v1/deliveries/${ids[0]}`, { key: stack.keys.test });
      return res.body?.attempts?.length === 1 ? (res.body as DeliveryView) : undefined;
    }, 90_000, 250);
    expect(delivery.attempts[0]).toMatchObject({ n: 1, fire_kind: 'reclaim', status_code: 200 });
    // Taken over only once the dead holder's lease ran out, LEASE_MS after the fires were due.
    expect(Date.parse(delivery.attempts[0].fired_at)).toBeGreaterThanOrEqual(due.getTime() + LEASE_MS);
  }, 180_000);
});
