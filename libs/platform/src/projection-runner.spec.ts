import { randomBytes, randomUUID } from 'node:crypto';
import { PostgresEventStore, type AppendResult, type RecordedEvent, type Subscription } from '@schedstack/event-store';
import {
  batchHandlerOf,
  ensureEventsStream,
  EventRelay,
  JetStreamEventFeed,
  StoreEventFeed,
  type EventFeed,
  type EventFeedSubscribeOptions,
} from '@schedstack/messaging';
import { createTestDatabase, describeWithNats, natsUrl, type TestDatabase } from '@schedstack/testing';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import type { Pool, PoolClient } from 'pg';
import { createPool, migrate } from './database';
import { CHECKPOINT_MIGRATIONS, type ProjectionDefinition, ProjectionRunner } from './projection-runner';

/** An at-least-once feed at its worst: every batch is delivered twice, the copy after the original. */
class RedeliveringFeed implements EventFeed {
  constructor(private readonly inner: EventFeed) {}
  subscribe(options: EventFeedSubscribeOptions): Promise<Subscription> {
    const { handle } = batchHandlerOf(options);
    return this.inner.subscribe({
      ...options,
      onEvents: async (batch) => {
        await handle(batch);
        await handle(batch);
      },
    });
  }
}

/**
 * Hands the subscriber the given batches, one after the other, retrying a failed one like a real
 * feed; ignores the checkpoint, as a feed replaying from its start would.
 */
class ScriptedFeed implements EventFeed {
  readonly failures: unknown[] = [];
  constructor(private readonly batches: readonly (readonly RecordedEvent[])[]) {}
  async subscribe(options: EventFeedSubscribeOptions): Promise<Subscription> {
    const { handle } = batchHandlerOf(options);
    let closed = false;
    const done = (async () => {
      for (const batch of this.batches) {
        for (;;) {
          if (closed) return;
          try {
            await handle(batch.map((event) => ({ event, sequence: null })));
            break;
          } catch (error) {
            this.failures.push(error);
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      }
    })();
    return {
      close: async () => {
        closed = true;
        await done;
      },
    };
  }
}

// Each test has its own event type, so a projection sees only the events of its own test.
let eventType = 'counter.incremented';

/** Counts events in `counter` and logs each applied event's id in order in `applied`. */
const counterProjection = (failOnce = new Set<string>()): ProjectionDefinition => ({
  name: `test.counter.${randomUUID().slice(0, 8)}`,
  types: [eventType],
  async apply(client: PoolClient, event: RecordedEvent) {
    await client.query(`UPDATE counter SET value = value + 1`);
    await client.query(`INSERT INTO applied (projection, event_id) VALUES ($1, $2)`, [eventType, event.id]);
    if (failOnce.delete(event.id)) throw new Error('crash after the row write, before the commit');
  },
});

describe('ProjectionRunner — exactly-once over an at-least-once feed', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase('projection');
    pool = createPool(db.url, 10);
    store = new PostgresEventStore({ pool, pollIntervalMs: 50 });
    await store.init();
    await migrate(pool, 'platform', CHECKPOINT_MIGRATIONS);
    await pool.query(`CREATE TABLE counter (value integer NOT NULL); INSERT INTO counter VALUES (0)`);
    // No unique key on event_id: an event applied twice must show, not fail its batch into a retry.
    await pool.query(`CREATE TABLE applied (n bigserial PRIMARY KEY, projection text NOT NULL, event_id uuid NOT NULL)`);
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
  const appliedIds = async () =>
    (await pool.query<{ event_id: string }>(`SELECT event_id FROM applied WHERE projection = $1 ORDER BY n`, [eventType])).rows.map((r) => r.event_id);

  /** Appends `n` events of this test's type, each to a stream of its own; returns the last result and all ids. */
  async function appendIncrements(n: number): Promise<AppendResult & { ids: string[] }> {
    const results: AppendResult[] = [];
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = randomUUID();
      results.push(await store.appendToStream(`prj_t.test.counter-${randomUUID()}`, [{ id, type: eventType, data: {} }], 'no_stream'));
      ids.push(id);
    }
    return { ...results[results.length - 1], ids };
  }

  /** This test's events from readAll, once all `n` are visible (it hides commits behind older open transactions). */
  async function visibleEvents(n: number): Promise<RecordedEvent[]> {
    for (let tries = 0; ; tries++) {
      const events = (await store.readAll({ limit: 100_000 })).filter((e) => e.type === eventType);
      if (events.length === n || tries > 500) return events;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function storedCheckpoint(name: string) {
    const { rows } = await pool.query<{ stream_sequence: string | null }>(`SELECT stream_sequence FROM projection_checkpoints WHERE name = $1`, [name]);
    return { streamSequence: rows[0].stream_sequence === null ? null : Number(rows[0].stream_sequence) };
  }

  it('applies each event once when the feed delivers every batch twice', async () => {
    const runner = new ProjectionRunner(pool, new RedeliveringFeed(new StoreEventFeed(store)), counterProjection());
    await runner.start();
    const last = await appendIncrements(5);
    await runner.waitFor(last.position);
    expect(await value()).toBe(5);
    expect(await appliedIds()).toEqual(last.ids);
    await runner.stop();
  });

  it('read-your-writes waits are woken by the runner, not by polling the checkpoint table', async () => {
    // The safety net (reading the stored checkpoint when nothing woke a waiter) is pushed out of the way.
    const runner = new ProjectionRunner(pool, new StoreEventFeed(store), counterProjection(), { storedCheckpointRecheckMs: 60_000 });
    await runner.start();
    const queries = jest.spyOn(pool, 'query');
    // 20 writes, each awaited by 5 concurrent readers (an API under load).
    for (let i = 0; i < 20; i++) {
      const last = await appendIncrements(1);
      await Promise.all(Array.from({ length: 5 }, () => runner.waitFor(last.position, 30_000)));
    }
    const checkpointReads = queries.mock.calls.filter(([sql]) => typeof sql === 'string' && sql.includes('FROM projection_checkpoints WHERE name = $1') && !sql.includes('FOR UPDATE'));
    queries.mockRestore();
    // Polling every 25 ms per waiter read it at least once per wait, hundreds of times in all.
    expect(checkpointReads).toEqual([]);
    await runner.stop();
  });

  it('applies overlapping, redelivered batches in order, each event once', async () => {
    const last = await appendIncrements(6);
    const events = await visibleEvents(6);
    const [e1, e2, e3, e4, e5, e6] = events;
    // Redeliveries after a lost ack, a restart from an earlier point, and a repeat of the last.
    const feed = new ScriptedFeed([[e1, e2], [e1, e2, e3], [e2, e3, e4, e5], [e1], [e5, e6], [e6]]);
    const runner = new ProjectionRunner(pool, feed, counterProjection());
    await runner.start();
    await runner.waitFor(last.position);
    expect(await appliedIds()).toEqual(last.ids);
    expect(await value()).toBe(6);
    await runner.stop();
  });

  it('rolls a failed batch back whole and applies it once when the feed retries it', async () => {
    const last = await appendIncrements(4);
    const events = await visibleEvents(4);
    // The batch's third event fails after the first two were written in the same transaction.
    const feed = new ScriptedFeed([events.slice(0, 1), events.slice(1)]);
    const runner = new ProjectionRunner(pool, feed, counterProjection(new Set([events[2].id])));
    await runner.start();
    await runner.waitFor(last.position);
    expect(feed.failures).toEqual([new Error('crash after the row write, before the commit')]);
    expect(await appliedIds()).toEqual(last.ids);
    expect(await value()).toBe(4);
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
    // The local feed has no stream sequence to store.
    expect(await storedCheckpoint(projection.name)).toEqual({ streamSequence: null });
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

  it('hands consecutive events to applyBatch when the projection has one', async () => {
    const batches: string[][] = [];
    const projection: ProjectionDefinition = {
      ...counterProjection(),
      apply: () => Promise.reject(new Error('apply must not be called')),
      async applyBatch(client, events) {
        batches.push(events.map((e) => e.id));
        for (const event of events) await client.query(`INSERT INTO applied (projection, event_id) VALUES ($1, $2)`, [eventType, event.id]);
      },
    };
    const last = await appendIncrements(3);
    const events = await visibleEvents(3);
    const runner = new ProjectionRunner(pool, new ScriptedFeed([events.slice(0, 2), events]), projection);
    await runner.start();
    await runner.waitFor(last.position);
    // The second batch loses what the first applied.
    expect(batches).toEqual([last.ids.slice(0, 2), last.ids.slice(2)]);
    expect(await appliedIds()).toEqual(last.ids);
    await runner.stop();
  });

  it("spends two round trips of its own on a batch: BEGIN with the checkpoint's lock, its update with COMMIT", async () => {
    const projection: ProjectionDefinition = {
      ...counterProjection(),
      async applyBatch(client, events) {
        await client.query(`INSERT INTO applied (projection, event_id) SELECT $1, unnest($2::uuid[])`, [eventType, events.map((e) => e.id)]);
      },
    };
    const last = await appendIncrements(3);
    const events = await visibleEvents(3);
    // Every statement the runner's connections send (the first start creates the checkpoint row).
    const sent: string[] = [];
    const counting = {
      connect: async () => {
        const client = await pool.connect();
        const query = client.query.bind(client) as (...args: unknown[]) => unknown;
        return Object.assign(Object.create(client) as PoolClient, {
          query: (text: unknown, values?: unknown) => (sent.push(String(text)), query(text, values)),
        });
      },
      query: (text: unknown, values?: unknown) => (sent.push(String(text)), (pool.query as (...args: unknown[]) => unknown)(text, values)),
    } as unknown as Pool;
    await pool.query(`INSERT INTO projection_checkpoints (name, commit_position, prepare_position) VALUES ($1, 0, 0)`, [projection.name]);
    const runner = new ProjectionRunner(counting, new ScriptedFeed([events.slice(0, 2), events.slice(2), events]), projection);
    await runner.start();
    await runner.waitFor(last.position);
    await runner.stop();

    expect(await appliedIds()).toEqual(last.ids);
    const { rows } = await pool.query<{ commit: string; prepare: string }>(
      `SELECT commit_position::text AS commit, prepare_position::text AS prepare FROM projection_checkpoints WHERE name = $1`,
      [projection.name],
    );
    expect(rows).toEqual([{ commit: last.position.commit.toString(), prepare: last.position.prepare.toString() }]);
    // Per batch that applied something: the lock (with BEGIN), the projection's insert, the
    // checkpoint (with COMMIT). The third batch was all applied already: skipped without a transaction.
    const transactions = sent.filter((text) => text.startsWith('BEGIN;'));
    expect(transactions).toHaveLength(2);
    expect(sent.filter((text) => /^(BEGIN|COMMIT|ROLLBACK)$/.test(text.trim()))).toEqual([]);
    expect(sent.filter((text) => text.trim().endsWith('; COMMIT'))).toHaveLength(2);
    expect(sent.filter((text) => text.startsWith('INSERT INTO applied'))).toHaveLength(2);
  });

  describeWithNats('over JetStream (relay → ordered consumer → batch transaction)', () => {
    let nc: NatsConnection;
    let jsm: JetStreamManager;
    let relay: EventRelay;
    let streamName: string;
    let prefix: string;
    const runners: ProjectionRunner[] = [];

    beforeAll(async () => {
      nc = await connect({ servers: natsUrl() });
      jsm = await nc.jetstreamManager();
    });
    afterAll(() => nc.close());

    beforeEach(async () => {
      const id = randomBytes(4).toString('hex');
      streamName = `TEST_PROJECTION_${id}`;
      prefix = `tproj_${id}`;
      relay = new EventRelay({ store, nc, streamName, subjectPrefix: prefix, retryInitialDelayMs: 50 });
      await relay.start();
    });
    afterEach(async () => {
      for (const runner of runners.splice(0)) await runner.stop();
      await relay.stop();
      await jsm.streams.delete(streamName).catch(() => undefined);
    });

    function runner(projection: ProjectionDefinition, maxBatch?: number): ProjectionRunner {
      const feed = new JetStreamEventFeed({ nc, streamName, subjectPrefix: prefix, retryDelayMs: 50 });
      const created = new ProjectionRunner(pool, feed, projection, { maxBatch });
      runners.push(created);
      return created;
    }

    /** The config of the consumer the runner's feed creates in the background after start. */
    async function consumerConfig() {
      for (let tries = 0; tries < 500; tries++) {
        const [consumer] = await jsm.consumers.list(streamName).next();
        if (consumer) return consumer.config;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error('no consumer');
    }

    /** Stream sequence of the relayed event `id`. */
    async function sequenceOf(id: string): Promise<number> {
      const info = await jsm.streams.info(streamName);
      for (let seq = info.state.last_seq; seq >= info.state.first_seq; seq--) {
        if ((await jsm.streams.getMessage(streamName, { seq })).header.get('Nats-Msg-Id') === id) return seq;
      }
      throw new Error(`event ${id} is not in the stream`);
    }

    it('two replicas of one projection apply each event exactly once, in order', async () => {
      const projection = counterProjection();
      const a = runner(projection, 7);
      const b = runner(projection, 7);
      await Promise.all([a.start(), b.start()]);
      const last = await appendIncrements(60);
      await a.waitFor(last.position, 20_000);
      await b.waitFor(last.position, 20_000);
      expect(await appliedIds()).toEqual(last.ids);
      expect(await value()).toBe(60);
    });

    it('retries a batch that fails midway without skipping, re-applying or reordering', async () => {
      const before = await appendIncrements(10);
      const failOnce = new Set([before.ids[6]]);
      const r = runner(counterProjection(failOnce), 50);
      await r.start();
      const last = await appendIncrements(5);
      await r.waitFor(last.position, 20_000);
      expect(failOnce.size).toBe(0);
      expect(await appliedIds()).toEqual([...before.ids, ...last.ids]);
      expect(await value()).toBe(15);
    });

    it('checkpoints the stream sequence and resumes right after it after a restart', async () => {
      const projection = counterProjection();
      const first = runner(projection);
      await first.start();
      const before = await appendIncrements(3);
      await first.waitFor(before.position, 20_000);
      await first.stop();
      const lastSequence = await sequenceOf(before.ids[2]);
      expect(await storedCheckpoint(projection.name)).toEqual({ streamSequence: lastSequence });

      const second = runner(projection);
      await second.start();
      expect(await consumerConfig()).toMatchObject({ deliver_policy: 'by_start_sequence', opt_start_seq: lastSequence + 1 });
      const after = await appendIncrements(2);
      await second.waitFor(after.position, 20_000);
      expect(await appliedIds()).toEqual([...before.ids, ...after.ids]);
    });

    it('starts over without duplicates when the stream was recreated and its sequences moved', async () => {
      // A message the relay did not write comes first: in the recreated stream, without it, the
      // checkpointed sequence holds the next event, which resuming after it would skip.
      await relay.stop();
      await jsm.streams.delete(streamName);
      await ensureEventsStream(jsm, { name: streamName, subjects: [`${prefix}.>`] });
      await nc.jetstream().publish(`${prefix}.prj_t.test.other`, new TextEncoder().encode('{}'));
      await relay.start();

      const projection = counterProjection();
      const first = runner(projection);
      await first.start();
      const before = await appendIncrements(3);
      await first.waitFor(before.position, 20_000);
      await first.stop();

      await relay.stop();
      await jsm.streams.delete(streamName);
      const after = await appendIncrements(2);
      await relay.start(); // recreates the stream and copies the store into it from the start

      const second = runner(projection);
      await second.start();
      await second.waitFor(after.position, 20_000);
      expect(await appliedIds()).toEqual([...before.ids, ...after.ids]);
      expect(await value()).toBe(5);
    });

    it('reads from the stream start when the checkpoint has no stream sequence yet (before the migration)', async () => {
      const projection = counterProjection();
      const first = runner(projection);
      await first.start();
      const before = await appendIncrements(3);
      await first.waitFor(before.position, 20_000);
      await first.stop();
      await pool.query(`UPDATE projection_checkpoints SET stream_sequence = NULL WHERE name = $1`, [projection.name]);

      const second = runner(projection);
      await second.start();
      expect((await consumerConfig()).deliver_policy).toBe('all');
      const after = await appendIncrements(2);
      await second.waitFor(after.position, 20_000);
      expect(await appliedIds()).toEqual([...before.ids, ...after.ids]);
    });
  });
});
