import { migrate } from '@schedstack/platform';
import { createTestDatabase, type TestDatabase } from '@schedstack/testing';
import { Pool } from 'pg';
import { DISPATCHER_MIGRATIONS } from './dispatcher.projection';
import { DueFires, lockedPending } from './due-fires';

/**
 * Issue #9: statements that find due fires by key must go by the key, however stale the planner's
 * statistics are. The plans are read with auto_explain, sent to this client as notices.
 */
describe('DueFires — statements by key in a burst the statistics have not seen', () => {
  let db: TestDatabase;
  let pool: Pool;
  /** Its connections report the plan of every statement. */
  let observed: Pool;
  const plans: string[] = [];

  const insertFires = (from: number, count: number, state: string) =>
    pool.query(
      `INSERT INTO dsp_due_fires (delivery_id, attempt, project_id, environment, schedule_id, fire_at, scheduled_for, fire_kind, request, state)
       SELECT 'dlv_' || g, 1, 'prj_plans', 'live', 'sch_' || g, now() + interval '1 minute', now() + interval '1 minute', 'first', '{}'::jsonb, $3
         FROM generate_series($1::int, $1::int + $2::int - 1) g`,
      [from, count, state],
    );

  beforeAll(async () => {
    db = await createTestDatabase('dsp_plans');
    pool = new Pool({ connectionString: db.url, max: 2 });
    await migrate(pool, 'dispatcher', DISPATCHER_MIGRATIONS);
    // What the statistics last saw: a quiet moment, almost nothing pending...
    await insertFires(0, 5_000, 'done');
    await insertFires(5_000, 5, 'pending');
    await pool.query('ANALYZE dsp_due_fires');
    // ...and what is there now: a burst of 10,000 pending fires.
    await insertFires(10_000, 10_000, 'pending');
    observed = new Pool({ connectionString: db.url, max: 1 });
    observed.on('connect', (client) => {
      client.on('notice', (notice) => plans.push(notice.message ?? ''));
      void client.query(`LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET client_min_messages = log`);
    });
    // Fails here, not silently later, if auto_explain is not there to report plans.
    expect((await observed.query('SHOW auto_explain.log_min_duration')).rows).toEqual([{ 'auto_explain.log_min_duration': '0' }]);
  });

  afterAll(async () => {
    await observed.end();
    await pool.end();
    await db.drop();
  });

  const idsOf = async (fromDelivery: number, count: number): Promise<string[]> =>
    (
      await pool.query<{ id: string }>(`SELECT id::text FROM dsp_due_fires WHERE delivery_id = ANY($1::text[])`, [
        Array.from({ length: count }, (_, i) => `dlv_${fromDelivery + i}`),
      ])
    ).rows.map((r) => r.id);

  const planOf = async (run: () => Promise<unknown>): Promise<string> => {
    plans.length = 0;
    await run();
    return plans.join('\n');
  };

  it('left to itself, the planner reads the pending index for them (the case the statements avoid)', async () => {
    const ids = await idsOf(12_000, 100);
    const plan = await planOf(() => observed.query(`SELECT id FROM dsp_due_fires WHERE id = ANY($1::bigint[]) AND state = 'pending'`, [ids]));
    expect(plan).toContain('dsp_due_fires_pending');
  });

  it('finishes, renews and checks leases by id without reading the pending index', async () => {
    const fires = new DueFires(observed, 'worker-plans', 30_000);
    const ids = await idsOf(13_000, 100);
    await pool.query(`UPDATE dsp_due_fires SET lease_owner = 'worker-plans' WHERE id = ANY($1::bigint[])`, [ids]);

    const someoneElses = ids.slice(0, 3);
    await pool.query(`UPDATE dsp_due_fires SET lease_owner = 'another-worker' WHERE id = ANY($1::bigint[])`, [someoneElses]);
    expect((await fires.lost(ids)).sort()).toEqual([...someoneElses].sort());
    await pool.query(`UPDATE dsp_due_fires SET lease_owner = 'worker-plans' WHERE id = ANY($1::bigint[])`, [someoneElses]);
    const renewed = new Set<string>();
    const renewPlan = await planOf(async () => (await fires.renew(ids)).forEach((id) => renewed.add(id)));
    expect(renewed.size).toBe(100);
    const lostPlan = await planOf(async () => expect(await fires.lost(ids)).toEqual([]));
    // The first ten will be retried (kept, marked done), the rest deleted.
    const finishPlan = await planOf(() => fires.finish(ids.map((id, n) => ({ id, retried: n < 10 }))));
    for (const plan of [renewPlan, lostPlan, finishPlan]) {
      expect(plan).toContain('dsp_due_fires_pkey');
      expect(plan).not.toContain('dsp_due_fires_pending');
    }
    // The writers lock what they change first, in id order (lockedPending); finish skips what is locked.
    for (const plan of [renewPlan, finishPlan]) expect(plan).toMatch(/LockRows[\s\S]*Index Scan using dsp_due_fires_pkey/);
    expect(finishPlan).toContain('SKIP LOCKED');
    expect(finishPlan).toContain('Delete on dsp_due_fires');
    // Still the same test: the fires are finished now, so none is pending, held or renewable.
    expect((await fires.lost(ids)).length).toBe(100);
    expect((await fires.renew(ids)).size).toBe(0);
    const { rows } = await pool.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM dsp_due_fires WHERE id = ANY($1::bigint[]) GROUP BY state`, [ids]);
    expect(rows).toEqual([{ state: 'done', n: 10 }]);
  });

  it('finds fires by delivery and attempt (the projection safety net) without reading the pending index', async () => {
    const deliveries = Array.from({ length: 100 }, (_, i) => `dlv_${14_000 + i}`);
    const plan = await planOf(() =>
      observed.query(
        `DELETE FROM dsp_due_fires
          WHERE id = ANY(${lockedPending('dsp_due_fires f JOIN unnest($1::text[], $2::int[]) AS x(delivery_id, n) ON f.delivery_id = x.delivery_id AND f.attempt = x.n', 'true', { anyState: true })})`,
        [deliveries, Array(100).fill(1)],
      ),
    );
    // By the unique key, or (a table this small) one pass over it: either way not the 10,000 pending entries.
    expect(plan).toContain('Delete on dsp_due_fires');
    expect(plan).not.toContain('dsp_due_fires_pending');
    const { rows } = await pool.query(`SELECT 1 FROM dsp_due_fires WHERE delivery_id = ANY($1::text[])`, [deliveries]);
    expect(rows).toEqual([]);
  });
});

/**
 * Issue #9: a claim rewrites only lease columns, which no index covers, so PostgreSQL can keep the
 * new version on the fire's page without touching an index (a heap-only update) — if the page has
 * room. Packed full, each claimed fire moved to a new page and got new entries in every index.
 */
describe('DueFires — claims are heap-only updates', () => {
  const FIRES = 400;
  let db: TestDatabase;
  /** One connection, so the claims' statistics are this backend's to flush. */
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('dsp_hot');
    pool = new Pool({ connectionString: db.url, max: 1 });
    await migrate(pool, 'dispatcher', DISPATCHER_MIGRATIONS);
    // Fires as the projection writes them: one multi-row insert, a request of a few hundred bytes.
    await pool.query(
      `INSERT INTO dsp_due_fires (delivery_id, attempt, project_id, environment, schedule_id, fire_at, scheduled_for, fire_kind, request, trace)
       SELECT 'dlv_' || md5(g::text), 1, 'prj_hot', 'live', 'sch_' || md5(g::text), now(), now(), 'first',
              jsonb_build_object('endpoint', 'http://127.0.0.1:4000/hooks/' || g, 'method', 'POST',
                                 'headers', jsonb_build_object('content-type', 'application/json'), 'body', repeat('x', 200)),
              '{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}'::jsonb
         FROM generate_series(1, $1::int) g`,
      [FIRES],
    );
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  const updates = async () =>
    (
      await pool.query<{ all: number; hot: number }>(
        `SELECT n_tup_upd::int AS all, n_tup_hot_upd::int AS hot FROM pg_stat_user_tables WHERE relid = 'dsp_due_fires'::regclass`,
      )
    ).rows[0];

  it('claims every fire without a new index entry', async () => {
    const fires = new DueFires(pool, 'worker-hot', 30_000);
    let claimed = 0;
    for (let batch = await fires.claim(1_000, 100); batch.length > 0; batch = await fires.claim(1_000, 100)) claimed += batch.length;
    expect(claimed).toBe(FIRES);
    // The claims' counts reach the shared statistics when this backend next reports.
    await pool.query('SELECT pg_stat_force_next_flush()');
    const { all, hot } = await updates();
    expect(all).toBe(FIRES);
    // Packed full (fillfactor 100), only the last page's few fires found room: 10 of 400.
    expect(hot).toBe(FIRES);
  });
});
