import { randomUUID } from 'node:crypto';
import { PostgresEventStore, type RecordedEvent, type Subscription } from '@schedstack/event-store';
import { type EventFeed, type EventFeedSubscribeOptions, StoreEventFeed } from '@schedstack/messaging';
import { createTestDatabase, type TestDatabase } from '@schedstack/testing';
import type { Pool, PoolClient } from 'pg';
import { createPool, migrate } from './database';
import { CHECKPOINT_MIGRATIONS, type ProjectionDefinition, ProjectionRunner } from './projection-runner';

/** An at-least-once feed at its worst: every event is delivered twice, the copy after the original. */
class RedeliveringFeed implements EventFeed {
  constructor(private readonly inner: EventFeed) {}
  subscribe(options: EventFeedSubscribeOptions): Promise<Subscription> {
    return this.inner.subscribe({
      ...options,
      onEvent: async (event) => {
        await options.onEvent(event);
        await options.onEvent(event);
      },
    });
  }
}

// Each test has its own event type, so a projection sees only the events of its own test.
let eventType = 'counter.incremented';

const counterProjection = (failOnce = new Set<string>()): ProjectionDefinition => ({
  name: `test.counter.${randomUUID().slice(0, 8)}`,
  types: [eventType],
  async apply(client: PoolClient, event: RecordedEvent) {
    await client.query(`UPDATE counter SET value = value + 1`);
    if (failOnce.delete(event.id)) throw new Error('crash after the row write, before the commit');
  },
});

describe('ProjectionRunner — exactly-once over an at-least-once feed', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase('projection');
    pool = createPool(db.url, 5);
    store = new PostgresEventStore({ pool, pollIntervalMs: 50 });
    await store.init();
    await migrate(pool, 'platform', CHECKPOINT_MIGRATIONS);
    await pool.query(`CREATE TABLE counter (value integer NOT NULL); INSERT INTO counter VALUES (0)`);
  });

  afterAll(async () => {
    await store.close();
    await pool.end();
    await db.drop();
  });

  beforeEach(async () => {
    eventType = `counter.incremented.${randomUUID().slice(0, 8)}`;
    await pool.query(`UPDATE counter SET value = 0`);
  });

  const value = async () => (await pool.query<{ value: number }>(`SELECT value FROM counter`)).rows[0].value;

  async function appendIncrements(n: number) {
    const results = [];
    for (let i = 0; i < n; i++) {
      results.push(await store.appendToStream(`prj_t.test.counter-${randomUUID()}`, [{ id: randomUUID(), type: eventType, data: {} }], 'no_stream'));
    }
    return results[results.length - 1];
  }

  it('applies each event once when the feed delivers every event twice', async () => {
    const runner = new ProjectionRunner(pool, new RedeliveringFeed(new StoreEventFeed(store)), counterProjection());
    await runner.start();
    const last = await appendIncrements(5);
    await runner.waitFor(last.position);
    expect(await value()).toBe(5);
    await runner.stop();
  });

  it('rolls back a half-applied event and applies it once when it comes again', async () => {
    const ids = new Set<string>();
    const projection = counterProjection(ids);
    const runner = new ProjectionRunner(pool, new StoreEventFeed(store), projection);
    const originalApply = projection.apply.bind(projection);
    // The first event to arrive fails once, after its row write, as a crash before commit would.
    let armed = true;
    (projection as { apply: ProjectionDefinition['apply'] }).apply = async (client, event) => {
      if (armed) {
        armed = false;
        ids.add(event.id);
      }
      return originalApply(client, event);
    };
    await runner.start();
    const last = await appendIncrements(3);
    await runner.waitFor(last.position);
    expect(ids.size).toBe(0); // the failure happened and was retried
    expect(await value()).toBe(3);
    await runner.stop();
  });

  it('resumes from its stored checkpoint after a restart without re-applying', async () => {
    const projection = counterProjection();
    const first = new ProjectionRunner(pool, new StoreEventFeed(store), projection);
    await first.start();
    const before = await appendIncrements(2);
    await first.waitFor(before.position);
    await first.stop();

    // A new runner with the same name starts from the checkpoint, even if its feed starts from zero.
    const second = new ProjectionRunner(pool, new RedeliveringFeed(new StoreEventFeed(store)), projection);
    await second.start();
    const after = await appendIncrements(1);
    await second.waitFor(after.position);
    expect(await value()).toBe(3);
    await second.stop();
  });

  it('lets a writer wait for its own event to be projected (read-your-writes)', async () => {
    const runner = new ProjectionRunner(pool, new StoreEventFeed(store), counterProjection());
    await runner.start();
    const last = await appendIncrements(1);
    await runner.waitFor(last.position);
    expect(await value()).toBe(1);
    expect(runner.checkpoint).toEqual(last.position);
    await runner.stop();
  });
});
