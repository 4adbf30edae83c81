import { Logger } from '@nestjs/common';
import { type EventDataMap, streamName } from '@schedstack/contracts';
import { PostgresEventStore } from '@schedstack/event-store';
import { migrate } from '@schedstack/platform';
import { createTestDatabase, type TestDatabase } from '@schedstack/testing';
import { Pool } from 'pg';
import { AttemptRecorder } from './attempt-recorder';
import { DISPATCHER_MIGRATIONS } from './dispatcher.projection';
import { DueFires } from './due-fires';

const attempted = (deliveryId: string): EventDataMap['delivery.attempted'] => ({
  delivery_id: deliveryId,
  schedule_id: 'sch_bench',
  attempt: { n: 1, fire_kind: 'first', scheduled_for: new Date().toISOString(), fired_at: new Date().toISOString(), status_code: 200, error: null, duration_ms: 1 } as unknown as EventDataMap['delivery.attempted']['attempt'],
  state: 'succeeded',
  next_attempt_at: null,
});

/** A burst of attempts is recorded in a few multi-stream appends, and each lands in its own stream. */
describe('AttemptRecorder', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase('recorder');
    pool = new Pool({ connectionString: db.url, max: 8 });
    store = new PostgresEventStore({ pool });
    await store.init();
    await migrate(pool, 'dispatcher', DISPATCHER_MIGRATIONS);
  });

  afterEach(() => jest.restoreAllMocks());

  afterAll(async () => {
    await store.close();
    await pool.end();
    await db.drop();
  });

  it('records 1,000 attempts in batches, every one in its delivery stream exactly once', async () => {
    const recorder = new AttemptRecorder(store, new DueFires(pool, 'test-worker', 30_000), new Logger('test'), 5);
    const batches = jest.spyOn(store, 'appendToStreams');
    const scope = { projectId: 'prj_recorder', environment: 'live' as const };
    const ids = Array.from({ length: 1_000 }, (_, i) => `dlv_${i}`);
    const settled = await Promise.all(ids.map((id, i) => new Promise<void>((resolve) => recorder.record(scope, String(i + 1), attempted(id), resolve))));
    await recorder.drain();

    expect(settled).toHaveLength(1_000);
    // One call per attempt would be 1,000; batches of up to 250 need at least 4.
    expect(batches.mock.calls.length).toBeLessThanOrEqual(1_000 / 250 + 4);
    const streams = await Promise.all(ids.map((id) => store.readStream(streamName(scope, 'delivery', id))));
    expect(streams.map((events) => events.map((e) => e.type))).toEqual(ids.map(() => ['delivery.attempted']));
  });

  it('at a steady trickle, attempts wait a moment to share an append instead of one statement each (issue #9)', async () => {
    const recorder = new AttemptRecorder(store, new DueFires(pool, 'test-worker', 30_000), new Logger('test'), 5);
    const batches = jest.spyOn(store, 'appendToStreams');
    const scope = { projectId: 'prj_recorder_trickle', environment: 'live' as const };
    const ids = Array.from({ length: 100 }, (_, i) => `dlv_trickle_${i}`);
    const settled: Promise<void>[] = [];
    for (const [i, id] of ids.entries()) {
      settled.push(new Promise<void>((resolve) => recorder.record(scope, String(i + 1), attempted(id), resolve)));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(settled);
    await recorder.drain();
    // Sent as soon as a writer was free, a trickle of one attempt a millisecond took an append per
    // one to three attempts (40-100 statements); waiting up to 15 ms for company, a handful.
    expect(batches.mock.calls.length).toBeLessThanOrEqual(25);
    const streams = await Promise.all(ids.map((id) => store.readStream(streamName(scope, 'delivery', id))));
    expect(streams.map((events) => events.length)).toEqual(ids.map(() => 1));
  });

  it('a refused batch falls back to single appends, so one bad attempt does not lose the others', async () => {
    const recorder = new AttemptRecorder(store, new DueFires(pool, 'test-worker', 30_000), new Logger('test'), 5);
    const scope = { projectId: 'prj_recorder2', environment: 'live' as const };
    const real = PostgresEventStore.prototype.appendToStreams.bind(store);
    // The first multi-stream append fails as a whole, as a dropped connection would make it.
    jest.spyOn(store, 'appendToStreams').mockImplementationOnce(() => Promise.reject(new Error('connection terminated'))).mockImplementation(real);
    const ids = Array.from({ length: 20 }, (_, i) => `dlv_fallback_${i}`);
    await Promise.all(ids.map((id, i) => new Promise<void>((resolve) => recorder.record(scope, String(i + 1), attempted(id), resolve))));
    await recorder.drain();
    const streams = await Promise.all(ids.map((id) => store.readStream(streamName(scope, 'delivery', id))));
    expect(streams.map((events) => events.length)).toEqual(ids.map(() => 1));
  });
});
