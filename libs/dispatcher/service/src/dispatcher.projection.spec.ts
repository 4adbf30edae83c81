import { randomUUID } from 'node:crypto';
import { type EventDataMap, streamName } from '@schedstack/contracts';
import type { RecordedEvent } from '@schedstack/event-store';
import { inTransaction, migrate } from '@schedstack/platform';
import { createTestDatabase, type TestDatabase } from '@schedstack/testing';
import { Pool } from 'pg';
import { createDispatcherProjection, DISPATCHER_MIGRATIONS } from './dispatcher.projection';

const scope = { projectId: 'prj_batch', environment: 'live' as const };
let position = 0n;

function event<T extends keyof EventDataMap>(type: T, stream: string, data: EventDataMap[T]): RecordedEvent {
  position += 1n;
  return { id: randomUUID(), streamName: stream, type, data, metadata: {}, revision: 0, position: { commit: position, prepare: position }, createdAt: new Date('2026-11-29T12:00:00Z') };
}

const planned = (delivery: string, schedule: string) =>
  event('schedule.fire_planned', streamName(scope, 'schedule', schedule), {
    schedule_id: schedule,
    delivery_id: delivery,
    fire_at: '2026-11-29T12:00:01.000Z',
    fire_kind: 'first',
    request: { endpoint: 'https://example.com/hook', method: 'POST', headers: {}, body: '{}' },
    next_fire_at: null,
    policy: { retries: 3 } as EventDataMap['schedule.fire_planned']['policy'],
  });

const attempted = (delivery: string, n: number, state: 'succeeded' | 'retrying' | 'dead_lettered') =>
  event('delivery.attempted', streamName(scope, 'delivery', delivery), {
    delivery_id: delivery,
    schedule_id: `sch_${delivery}`,
    attempt: { n, fire_kind: n === 1 ? 'first' : 'retry', scheduled_for: '2026-11-29T12:00:01.000Z', fired_at: '2026-11-29T12:00:01.004Z', status_code: state === 'succeeded' ? 200 : 503, duration_ms: 3, response_body: 'x', error: null, mocked: false },
    state,
    next_attempt_at: state === 'retrying' ? `2026-11-29T12:00:0${n + 1}.000Z` : null,
  });

/**
 * The batch path must leave exactly the rows the per-event path leaves, for a sequence with runs
 * of planned fires, attempts (succeeded, retrying, dead-lettered, the same delivery twice in a
 * row), a pause between them and a retry attempt of a paused schedule.
 */
describe('dispatcher projection: applyBatch equals apply, event by event', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('dsp_projection');
    pool = new Pool({ connectionString: db.url, max: 4 });
    await migrate(pool, 'dispatcher', DISPATCHER_MIGRATIONS);
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  async function snapshot(prefix: string) {
    const rows = async (sql: string) => (await pool.query(sql, [`${prefix}%`])).rows;
    return {
      deliveries: await rows(`SELECT id, schedule_id, state, request, policy, view, created_at FROM dsp_deliveries WHERE id LIKE $1 ORDER BY id`),
      dueFires: await rows(
        `SELECT delivery_id, attempt, round_attempt, schedule_id, fire_at, scheduled_for, fire_kind, request, policy, state, trace FROM dsp_due_fires WHERE delivery_id LIKE $1 ORDER BY delivery_id, attempt`,
      ),
      attempts: await rows(`SELECT delivery_id, n, fire_kind, fired_at, lag_ms FROM dsp_attempts WHERE delivery_id LIKE $1 ORDER BY delivery_id, n`),
    };
  }

  function sequence(prefix: string): RecordedEvent[] {
    const d = (i: number) => `${prefix}${i}`;
    return [
      ...[1, 2, 3, 4, 5].map((i) => planned(d(i), `sch_${d(i)}`)),
      planned(d(1), `sch_${d(1)}`), // planned twice: nothing changes
      attempted(d(1), 1, 'succeeded'),
      attempted(d(2), 1, 'retrying'),
      attempted(d(3), 1, 'dead_lettered'),
      attempted(d(2), 2, 'retrying'), // the same delivery again within the run
      event('schedule.paused', streamName(scope, 'schedule', `sch_${d(4)}`), { schedule_id: `sch_${d(4)}` } as EventDataMap['schedule.paused']),
      attempted(d(4), 1, 'retrying'), // in flight when paused: no retry comes back
      attempted(d(5), 1, 'succeeded'),
      attempted(d(404), 1, 'succeeded'), // no delivery row
    ];
  }

  it('leaves the same deliveries, due fires and attempts', async () => {
    const projection = createDispatcherProjection();
    const one = sequence('dlv_one_');
    await inTransaction(pool, async (client) => {
      for (const e of one) await projection.apply(client, e);
    });
    const batched = sequence('dlv_all_');
    const applyBatch = projection.applyBatch;
    if (!applyBatch) throw new Error('the dispatcher projection has no applyBatch');
    await inTransaction(pool, (client) => applyBatch(client, batched));

    const rename = (value: unknown) => JSON.parse(JSON.stringify(value).replace(/dlv_(one|all)_/g, 'dlv_'));
    const perEvent = rename(await snapshot('dlv_one_'));
    const perBatch = rename(await snapshot('dlv_all_'));
    expect(perEvent.deliveries).toHaveLength(5);
    // A recorded attempt's fire is deleted once its retry, if any, is copied from it: what is left
    // is the one retry still to be sent (issue #9: the table holds what is still due).
    expect(perEvent.dueFires.map((f: { delivery_id: string; attempt: number; state: string }) => [f.delivery_id, f.attempt, f.state])).toEqual([['dlv_2', 3, 'pending']]);
    expect(perBatch).toEqual(perEvent);
  });
});
