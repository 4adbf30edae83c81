import { randomUUID } from 'node:crypto';
import { type EventDataMap, type EventType, streamName } from '@schedstack/contracts';
import type { RecordedEvent } from '@schedstack/event-store';
import { inTransaction, migrate } from '@schedstack/platform';
import { createTestDatabase, type TestDatabase } from '@schedstack/testing';
import { Pool } from 'pg';
import { SCHEDULES_MIGRATIONS, schedulesProjection } from './schedules.projection';

let position = 0n;
function event<T extends EventType>(type: T, stream: string, data: EventDataMap[T]): RecordedEvent {
  position += 1n;
  return { id: randomUUID(), streamName: stream, type, data, metadata: {}, revision: 0, position: { commit: position, prepare: position }, createdAt: new Date() };
}

/** A sequence with created+planned pairs (one-off and cron), a lone creation, a pause and a second fire. */
function sequence(prefix: string): RecordedEvent[] {
  const scope = { projectId: 'prj_batch', environment: 'test' as const };
  const s = (i: number) => `${prefix}${i}`;
  const stream = (i: number) => streamName(scope, 'schedule', s(i));
  const request = { endpoint: 'https://example.com/hook', method: 'POST', headers: { 'x-a': '1' }, body: '{"a":1}' };
  const created = (i: number, cron: boolean): RecordedEvent =>
    event('schedule.created', stream(i), {
      schedule_id: s(i),
      request,
      trigger: cron ? { kind: 'cron', cron: '*/5 * * * *', timezone: 'Europe/Berlin' } : { kind: 'once', run_at: '2026-12-01T09:00:00.000Z', delay: '30s' },
      next_fire_at: '2026-12-01T09:00:00.000Z',
      created_at: '2026-11-29T12:00:00.000Z',
      ...(cron ? { catch_up: 'skip' as const, catch_up_window: '2h', max_fires: 10, metadata: { tier: 'gold', n: 3 } } : {}),
    });
  const planned = (i: number, at: string, next: string | null): RecordedEvent =>
    event('schedule.fire_planned', stream(i), {
      schedule_id: s(i),
      delivery_id: `dlv_${s(i)}_${at}`,
      fire_at: at,
      fire_kind: 'first',
      request,
      next_fire_at: next,
    });
  return [
    created(1, false),
    planned(1, '2026-12-01T09:00:00.000Z', null),
    created(2, true),
    planned(2, '2026-12-01T09:00:00.000Z', '2026-12-01T09:05:00.000Z'),
    created(3, true), // planned later, not in this batch
    created(4, false),
    planned(4, '2026-12-01T09:00:00.000Z', null),
    event('schedule.paused', stream(4), { schedule_id: s(4), paused_at: '2026-11-29T12:00:01.000Z', withdrawn_fires: 1 }),
    planned(2, '2026-12-01T09:05:00.000Z', '2026-12-01T09:10:00.000Z'),
    planned(3, '2026-12-01T10:00:00.000Z', '2026-12-01T11:00:00.000Z'),
    created(5, false),
    planned(5, '2026-12-01T09:00:00.000Z', null),
    // A run of finished schedules (one-offs completing at their fire time, a cancel among them).
    event('schedule.completed', stream(1), { schedule_id: s(1), completed_at: '2026-12-01T09:00:00.000Z' }),
    event('schedule.completed', stream(5), { schedule_id: s(5), completed_at: '2026-12-01T09:00:00.000Z' }),
    event('schedule.canceled', stream(3), { schedule_id: s(3), canceled_at: '2026-12-01T09:00:01.000Z' }),
    planned(2, '2026-12-01T09:10:00.000Z', '2026-12-01T09:15:00.000Z'),
  ];
}

describe('schedules projection: applyBatch leaves the rows apply leaves, event by event', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('sch_projection');
    pool = new Pool({ connectionString: db.url, max: 4 });
    await migrate(pool, 'schedules', SCHEDULES_MIGRATIONS);
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('turns created-and-planned pairs into the same rows (view bytes, state, plan_at)', async () => {
    await inTransaction(pool, async (client) => {
      for (const e of sequence('sch_one_')) await schedulesProjection.apply(client, e);
    });
    const applyBatch = schedulesProjection.applyBatch;
    if (!applyBatch) throw new Error('the schedules projection has no applyBatch');
    await inTransaction(pool, (client) => applyBatch(client, sequence('sch_all_')));

    const rows = async (prefix: string) =>
      (await pool.query(`SELECT id, view::text AS view, state, created_at, plan_at FROM sch_schedules WHERE id LIKE $1 ORDER BY id`, [`${prefix}%`])).rows.map((r) =>
        JSON.parse(JSON.stringify(r).replace(/sch_(one|all)_/g, 'sch_')),
      );
    const perEvent = await rows('sch_one_');
    expect(perEvent).toHaveLength(5);
    const state = (id: string) => perEvent.find((r: { id: string }) => r.id === id);
    expect([state('sch_1').state, state('sch_2').state, state('sch_3').state, state('sch_4').state, state('sch_5').state]).toEqual(['completed', 'active', 'canceled', 'paused', 'completed']);
    expect(state('sch_5').plan_at).toBeNull();
    expect(await rows('sch_all_')).toEqual(perEvent);
  });

  it('writes a run of created pairs, and a run of finished schedules, each in one statement', async () => {
    const applyBatch = schedulesProjection.applyBatch;
    if (!applyBatch) throw new Error('the schedules projection has no applyBatch');
    const statements: string[] = [];
    await inTransaction(pool, async (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      jest.spyOn(client, 'query').mockImplementation(((text: string, values?: unknown[]) => (statements.push(text.trim().split(/\s+/)[0]), query(text, values))) as never);
      await applyBatch(client, sequence('sch_count_'));
      jest.restoreAllMocks();
    });
    // INSERT (pairs 1, 2), INSERT (3 alone), INSERT (pair 4), UPDATE (pause), UPDATE ×2 (fires of 2
    // and 3), INSERT (pair 5), one UPDATE for the three finished, UPDATE (fire of 2).
    expect(statements).toEqual(['INSERT', 'INSERT', 'INSERT', 'UPDATE', 'UPDATE', 'UPDATE', 'INSERT', 'UPDATE', 'UPDATE']);
  });
});
