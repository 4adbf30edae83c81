import { type CreateScheduleInput, type Environment, type ScheduleView, streamName } from '@schedstack/contracts';
import { PostgresEventStore } from '@schedstack/event-store';
import { inTransaction, migrate, orderKeys, ScopedReadModel } from '@schedstack/platform';
import { scheduleDecider, settingsFromInput, triggerFromInput } from '@schedstack/schedules-domain';
import { createTestDatabase, type TestDatabase } from '@schedstack/testing';
import { Pool } from 'pg';
import { createdScheduleView } from './schedule.view';
import { SCHEDULES_MIGRATIONS, schedulesProjection } from './schedules.projection';

const VIEW_KEYS: (keyof ScheduleView)[] = [
  'id', 'object', 'mode', 'endpoint', 'method', 'headers', 'body', 'delay', 'run_at', 'cron', 'timezone',
  'catch_up', 'catch_up_window', 'ends_at', 'max_fires', 'fire_count', 'process', 'metadata', 'state', 'next_fire_at', 'created_at',
];

const base: CreateScheduleInput = { endpoint: 'https://example.com/hooks/orders', method: 'POST', headers: {}, body: null };

/**
 * A create answers with the view built from its own events instead of reading the row back, so
 * the two must agree to the byte: same values, same key order (jsonb reorders nested objects).
 */
describe('the view a create answers with', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;
  let schedules: ScopedReadModel<ScheduleView>;
  let n = 0;

  beforeAll(async () => {
    db = await createTestDatabase('schedule_view');
    pool = new Pool({ connectionString: db.url, max: 4 });
    store = new PostgresEventStore({ pool });
    await store.init();
    await migrate(pool, 'schedules', SCHEDULES_MIGRATIONS);
    schedules = new ScopedReadModel<ScheduleView>(pool, 'sch_schedules', { state: 'state' }, (view) => orderKeys(view, VIEW_KEYS));
  });

  afterAll(async () => {
    await store.close();
    await pool.end();
    await db.drop();
  });

  it.each<[string, Environment, Partial<CreateScheduleInput>]>([
    ['a one-off schedule from a delay, with headers in no particular order', 'test', { delay: '1h', headers: { 'x-trace': 'abc', 'content-type': 'application/json', a: '1' }, body: 'hi' }],
    ['a one-off schedule at a run_at', 'live', { method: 'PUT', run_at: '2030-05-01T09:00:00+02:00' }],
    [
      'a cron schedule with every setting, metadata and keys of every length and script',
      'sandbox',
      {
        cron: '0 9 * * 1-5',
        timezone: 'Europe/Berlin',
        ends_at: '2031-01-01T00:00:00Z',
        max_fires: 10,
        catch_up: 'all',
        catch_up_window: '30m',
        process: 'billing',
        metadata: { vip: true, order_id: 'ord_123', priority: 2, größe: 'xl', zz: 1.5, é: 'a', b: 'ü' },
        headers: { 'x-é': '1', 'x-z': '2', 'x-a': '3' },
      },
    ],
    ['a cron schedule with the defaults', 'test', { cron: '*/5 * * * *' }],
  ])('equals, byte for byte, what the projection stores and a read returns: %s', async (_name, environment, fields) => {
    const scope = { projectId: `prj_view${++n}`, environment };
    const input = { ...base, ...fields };
    const now = new Date('2030-01-01T12:00:00.000Z');
    const trigger = triggerFromInput(input, now);
    const scheduleId = `sch_view${n}`;
    const events = scheduleDecider.decide(
      {
        type: 'create',
        data: {
          scheduleId,
          trigger,
          settings: settingsFromInput(input, trigger, now),
          firstDeliveryId: `dlv_view${n}`,
          request: { endpoint: input.endpoint, method: input.method, headers: input.headers, body: input.body },
          process: input.process ?? null,
          policy: null,
          metadata: input.metadata ?? null,
        },
      },
      scheduleDecider.initialState(),
      now,
    );
    const stream = streamName(scope, 'schedule', scheduleId);
    await store.appendToStream(stream, events.map((e, i) => ({ id: `00000000-0000-4000-8000-${String(n * 10 + i).padStart(12, '0')}`, ...e })), 'no_stream');
    const recorded = await store.readStream(stream);
    await inTransaction(pool, async (client) => {
      for (const event of recorded) await schedulesProjection.apply(client, event);
    });

    const answered = schedules.asRead(createdScheduleView(environment, events));
    const read = await schedules.get(scope, scheduleId);
    expect(JSON.stringify(answered)).toBe(JSON.stringify(read));
    expect(answered).toMatchObject({ id: scheduleId, mode: environment, state: 'active', fire_count: 1 });
  });
});
