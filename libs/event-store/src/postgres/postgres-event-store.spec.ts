import { Client, Pool } from 'pg';
import { TestDatabase, adminDatabaseUrl, createTestDatabase } from '@schedstack/testing';
import { Position, RecordedEvent, START, Subscription, WrongExpectedRevisionError } from '../event-store.port';
import { newEvent, runEventStoreContract, uniqueStreamName, waitFor, waitVisible } from '../testing/event-store.contract';
import { PostgresEventStore, PostgresEventStoreOptions } from './postgres-event-store';

runEventStoreContract('PostgresEventStore', async () => {
  const db = await createTestDatabase('es');
  const store = new PostgresEventStore({ connectionString: db.url });
  await store.init();
  return {
    store,
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('PostgresEventStore', () => {
  let db: TestDatabase;
  let admin: Client;
  let opened: PostgresEventStore[] = [];
  let subscriptions: Subscription[] = [];

  const open = async (options: Omit<PostgresEventStoreOptions, 'connectionString'> = {}): Promise<PostgresEventStore> => {
    const store = new PostgresEventStore({ connectionString: db.url, ...options });
    await store.init();
    opened.push(store);
    return store;
  };

  const follow = (store: PostgresEventStore, after: Position): { events: RecordedEvent[]; errors: unknown[] } => {
    const events: RecordedEvent[] = [];
    const errors: unknown[] = [];
    subscriptions.push(
      store.subscribeToAll({
        after,
        onEvent: async (event) => {
          events.push(event);
        },
        onError: (error) => errors.push(error),
      }),
    );
    return { events, errors };
  };

  const listenerPids = async (): Promise<number[]> =>
    (
      await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'es-listen' AND query ILIKE 'LISTEN%'`,
        [db.name],
      )
    ).rows.map((r) => r.pid);

  /** Every committed event visible to readers, so `headPosition()` is a clean starting point. */
  const settledHead = async (store: PostgresEventStore): Promise<Position> => {
    const newest = await store.pool.query<{ commit: string; prepare: string }>(
      `SELECT transaction_id::text AS commit, global_position::text AS prepare FROM es_events
        ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    );
    const row = newest.rows[0];
    if (!row) return START;
    const position = { commit: BigInt(row.commit), prepare: BigInt(row.prepare) };
    await waitVisible(store, position);
    return position;
  };

  beforeAll(async () => {
    db = await createTestDatabase('es_pg');
    admin = new Client({ connectionString: adminDatabaseUrl() });
    await admin.connect();
  });

  afterEach(async () => {
    await Promise.all(subscriptions.map((s) => s.close()));
    await Promise.all(opened.map((s) => s.close()));
    subscriptions = [];
    opened = [];
  });

  afterAll(async () => {
    await admin.query(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin.end();
    await db.drop();
  });

  describe('schema and lifecycle', () => {
    it('init() is idempotent and safe when several processes run it at once; an empty store has head START', async () => {
      const fresh = await createTestDatabase('es_init');
      const stores = Array.from({ length: 6 }, () => new PostgresEventStore({ connectionString: fresh.url }));
      try {
        await Promise.all(stores.map((s) => s.init()));
        await Promise.all(stores.map((s) => s.init()));
        const tables = await stores[0].pool.query<{ tablename: string }>(
          `SELECT tablename FROM pg_tables WHERE tablename LIKE 'es\\_%' ORDER BY tablename`,
        );
        expect(tables.rows.map((r) => r.tablename)).toEqual(['es_events', 'es_streams']);
        expect(await stores[0].headPosition()).toEqual(START);
        expect(await stores[0].readAll()).toEqual([]);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await fresh.drop();
      }
    });

    it('close() ends an owned pool but leaves a pool it was given open', async () => {
      const pool = new Pool({ connectionString: db.url });
      try {
        const borrowed = new PostgresEventStore({ pool });
        await borrowed.close();
        await expect(pool.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
      } finally {
        await pool.end();
      }
      const owned = new PostgresEventStore({ connectionString: db.url });
      await expect(owned.ping()).resolves.toBe(true);
      await owned.close();
      await expect(owned.ping()).resolves.toBe(false);
    });

    it('stores data and metadata as jsonb and createdAt from the database clock', async () => {
      const store = await open();
      const stream = uniqueStreamName();
      const event = newEvent('ScheduleCreated', { cron: '*/5 * * * *' }, { tenant: 'prj_abc' });
      await store.appendToStream(stream, [event], 'no_stream');
      const row = await store.pool.query<{ data_type: string; metadata_type: string; skew: number }>(
        `SELECT jsonb_typeof(data) AS data_type, jsonb_typeof(metadata) AS metadata_type,
                abs(extract(epoch FROM now() - created_at))::float AS skew
           FROM es_events WHERE event_id = $1`,
        [event.id],
      );
      expect(row.rows).toEqual([{ data_type: 'object', metadata_type: 'object', skew: expect.any(Number) }]);
      expect(row.rows[0].skew).toBeLessThan(30);
    });
  });

  describe('reading several streams (issue #9)', () => {
    it('reads them by index even when the statistics make the planner prefer scanning the whole table', async () => {
      const fresh = await createTestDatabase('es_read');
      const store = new PostgresEventStore({ connectionString: fresh.url });
      const client = new Client({ connectionString: fresh.url });
      try {
        await store.init();
        const streams = Array.from({ length: 400 }, () => uniqueStreamName('read'));
        const appended = await store.appendToStreams(streams.map((streamName) => ({ streamName, events: [newEvent('A', {}), newEvent('B', {})], expected: 'no_stream' })));
        expect(appended.filter((a) => a instanceof Error)).toEqual([]);
        // Statistics that say each stream is half the table: the state of a fresh database (no
        // statistics yet) or of one that grew faster than autovacuum analyses it, made certain.
        await store.pool.query('ALTER TABLE es_events ALTER COLUMN stream_name SET (n_distinct = 2)');
        await store.pool.query('ANALYZE es_events');
        await client.connect();
        const plans: string[] = [];
        client.on('notice', (notice) => plans.push(notice.message ?? ''));
        await client.query(`LOAD 'auto_explain'`);
        await client.query('SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET client_min_messages = log');
        const names = streams.slice(100, 150);
        // The plain query scans the table...
        await client.query('SELECT * FROM es_events WHERE stream_name = ANY($1::text[]) ORDER BY stream_name, revision', [names]);
        expect(plans.join('\n')).toMatch(/Seq Scan on es_events/);
        plans.length = 0;
        // ...the store's read goes by the index.
        await client.query('SELECT * FROM es_read_streams($1::text[])', [names]);
        expect(plans.join('\n')).toMatch(/Index Scan using es_events_stream_revision|Bitmap Index Scan on es_events_stream_revision/);
        expect(plans.join('\n')).not.toMatch(/Seq Scan on es_events/);
        const read = await store.readStreams([names[1], names[0], 'read-missing']);
        expect(read.map((events) => events.map((e) => `${e.streamName}:${e.revision}:${e.type}`))).toEqual([
          [`${names[1]}:0:A`, `${names[1]}:1:B`],
          [`${names[0]}:0:A`, `${names[0]}:1:B`],
          [],
        ]);
      } finally {
        await client.end().catch(() => undefined);
        await store.close();
        await fresh.drop();
      }
    });
  });

  describe('duplicate event ids', () => {
    it('names the ids that already exist when only some do, whatever the expected revision', async () => {
      const store = await open();
      const stream = uniqueStreamName();
      const existing = newEvent();
      const fresh = newEvent();
      await store.appendToStream(stream, [existing], 'no_stream');

      for (const expected of [0, 'any', 'stream_exists'] as const) {
        const error = await store.appendToStream(stream, [existing, fresh], expected).catch((e: Error) => e);
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).message).toContain(existing.id);
        expect((error as Error).message).not.toContain(fresh.id);
      }
      expect((await store.readStream(stream)).map((e) => e.id)).toEqual([existing.id]);
    });

    it('rejects an id already used in another stream', async () => {
      const store = await open();
      const event = newEvent();
      await store.appendToStream(uniqueStreamName(), [event], 'no_stream');
      const other = uniqueStreamName();
      await expect(store.appendToStream(other, [event], 'any')).rejects.toThrow(event.id);
      expect(await store.readStream(other)).toEqual([]);
    });

    it('rejects the same id twice within one append', async () => {
      const store = await open();
      const event = newEvent();
      await expect(store.appendToStream(uniqueStreamName(), [event, event], 'any')).rejects.toThrow(event.id);
    });
  });

  describe('group commit (issue #9)', () => {
    /** Append statements the store sends: single `es_append` calls and grouped ones. */
    const countAppendStatements = (store: PostgresEventStore): { singles: number; groups: number[] } => {
      const seen = { singles: 0, groups: [] as number[] };
      const query = store.pool.query.bind(store.pool) as (...args: unknown[]) => unknown;
      jest.spyOn(store.pool, 'query').mockImplementation(((text: unknown, values?: unknown[]) => {
        if (typeof text === 'string' && text.includes('es_append_many')) seen.groups.push((JSON.parse(String(values?.[0])) as unknown[]).length);
        else if (typeof text === 'string' && text.includes('es_append')) seen.singles += 1;
        return query(text, values);
      }) as never);
      return seen;
    };

    it('writes appends that arrive while a writer is busy in one statement, each caller getting its own result', async () => {
      const store = await open({ concurrentAppends: 1 });
      const statements = countAppendStatements(store);
      const streams = Array.from({ length: 20 }, () => uniqueStreamName());
      const events = streams.map(() => newEvent());

      const results = await Promise.all(streams.map((s, i) => store.appendToStream(s, [events[i]], 'no_stream')));

      // The first finds the writer free and goes alone; the 19 that queued behind it go together.
      expect(statements).toEqual({ singles: 1, groups: [19] });
      expect(results.map((r) => r.nextExpectedRevision)).toEqual(streams.map(() => 0));
      for (const [i, stream] of streams.entries()) expect((await store.readStream(stream)).map((e) => e.id)).toEqual([events[i].id]);
      // One transaction for the group: the 19 share a commit position, in the order they were called.
      const grouped = results.slice(1).map((r) => r.position);
      expect(new Set(grouped.map((p) => p.commit)).size).toBe(1);
      expect(grouped.map((p) => p.prepare)).toEqual([...grouped.map((p) => p.prepare)].sort((a, b) => (a < b ? -1 : 1)));
    });

    it('refuses only the append whose expected revision is wrong; the rest of its group is written', async () => {
      const store = await open({ concurrentAppends: 1 });
      const taken = uniqueStreamName();
      await store.appendToStream(taken, [newEvent()], 'no_stream');
      const streams = [uniqueStreamName(), taken, uniqueStreamName(), uniqueStreamName()];

      const outcomes = await Promise.allSettled(streams.map((s) => store.appendToStream(s, [newEvent()], 'no_stream')));

      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedRevisionError);
      expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ streamName: taken, actual: 0 });
      for (const stream of [streams[0], streams[2], streams[3]]) expect(await store.readStream(stream)).toHaveLength(1);
      expect(await store.readStream(taken)).toHaveLength(1);
    });

    it('writes a group set-wise with every kind of expected revision, exactly as one append after the other would', async () => {
      const store = await open();
      const [numbered, exists, any, fresh] = [uniqueStreamName(), uniqueStreamName(), uniqueStreamName(), uniqueStreamName()];
      for (const stream of [numbered, exists, any]) await store.appendToStream(stream, [newEvent('old'), newEvent('old')], 'no_stream');
      const batch = [
        { streamName: numbered, events: [newEvent('n1'), newEvent('n2')], expected: 1 },
        { streamName: exists, events: [newEvent('e1')], expected: 'stream_exists' as const },
        { streamName: fresh, events: [newEvent('f1'), newEvent('f2'), newEvent('f3')], expected: 'no_stream' as const },
        { streamName: any, events: [newEvent('a1')], expected: 'any' as const },
      ];

      const results = await store.appendToStreams(batch);

      expect(results.map((r) => (r as { nextExpectedRevision: number }).nextExpectedRevision)).toEqual([3, 2, 2, 2]);
      const all = [];
      for (const [i, { streamName, events }] of batch.entries()) {
        const read = await store.readStream(streamName);
        expect(read.slice(-events.length).map((e) => [e.id, e.type])).toEqual(events.map((e) => [e.id, e.type]));
        expect(read.map((e) => e.revision)).toEqual(read.map((_, n) => n));
        expect(read[read.length - 1].position).toEqual((results[i] as { position: unknown }).position);
        all.push(...read.slice(-events.length));
      }
      // One transaction, the events in request order. (Read per stream: readAll stops short of
      // transactions still open anywhere in the cluster, and other suites share it.)
      all.sort((x, y) => (x.position.prepare < y.position.prepare ? -1 : 1));
      expect(all.map((e) => e.type)).toEqual(['n1', 'n2', 'e1', 'f1', 'f2', 'f3', 'a1']);
      expect(new Set(all.map((e) => e.position.commit)).size).toBe(1);
    });

    it('appends to one stream twice in a group in request order, and refuses the group when any expectation fails', async () => {
      const store = await open();
      const [twice, other] = [uniqueStreamName(), uniqueStreamName()];
      const results = await store.appendToStreams([
        { streamName: twice, events: [newEvent('first')], expected: 'no_stream' },
        { streamName: other, events: [newEvent('other')], expected: 'any' },
        { streamName: twice, events: [newEvent('second')], expected: 0 },
      ]);
      expect(results.map((r) => (r as { nextExpectedRevision: number }).nextExpectedRevision)).toEqual([0, 0, 1]);
      expect((await store.readStream(twice)).map((e) => e.type)).toEqual(['first', 'second']);

      // A wrong expectation in the set-wise path fails the statement; the one-by-one retry names it.
      const stale = await store.appendToStreams([
        { streamName: other, events: [newEvent('ok')], expected: 0 },
        { streamName: twice, events: [newEvent('stale')], expected: 0 },
      ]);
      expect(stale[0]).toMatchObject({ nextExpectedRevision: 1 });
      expect(stale[1]).toBeInstanceOf(WrongExpectedRevisionError);
      expect((await store.readStream(twice)).map((e) => e.type)).toEqual(['first', 'second']);
    });

    it('answers a retried append inside a group as the first time, and still writes the rest of the group', async () => {
      const store = await open();
      const [retried, fresh] = [uniqueStreamName(), uniqueStreamName()];
      const first = await store.appendToStream(retried, [newEvent('once')], 'no_stream');
      const stored = (await store.readStream(retried))[0];

      const results = await store.appendToStreams([
        { streamName: retried, events: [{ id: stored.id, type: 'once', data: stored.data }], expected: 'no_stream' },
        { streamName: fresh, events: [newEvent('new')], expected: 'no_stream' },
      ]);

      expect(results[0]).toEqual(first);
      expect(results[1]).toMatchObject({ nextExpectedRevision: 0 });
      expect(await store.readStream(retried)).toHaveLength(1);
      expect((await store.readStream(fresh)).map((e) => e.type)).toEqual(['new']);
    });

    it('creates the new streams of a group at their final revision, writing no second row version for them', async () => {
      // A database of its own, one connection: the table's counters then hold only this test's writes.
      const own = await createTestDatabase('es_pg_streams');
      const pool = new Pool({ connectionString: own.url, max: 1 });
      const store = new PostgresEventStore({ pool });
      try {
        await store.init();
        const existing = uniqueStreamName();
        await store.appendToStream(existing, [newEvent('old')], 'no_stream');
        const streamRows = async () => {
          // The counts of this (the only) backend reach the shared statistics when it next reports.
          await pool.query('SELECT pg_stat_force_next_flush()');
          const { rows } = await pool.query<{ ins: number; upd: number }>(
            `SELECT n_tup_ins::int AS ins, n_tup_upd::int AS upd FROM pg_stat_user_tables WHERE relname = 'es_streams'`,
          );
          return rows[0];
        };
        const before = await streamRows();
        const fresh = Array.from({ length: 30 }, () => uniqueStreamName());

        const results = await store.appendToStreams([
          ...fresh.map((streamName) => ({ streamName, events: [newEvent('a'), newEvent('b')], expected: 'no_stream' as const })),
          { streamName: existing, events: [newEvent('new')], expected: 0 },
        ]);

        expect(results.map((r) => (r as { nextExpectedRevision: number }).nextExpectedRevision)).toEqual([...fresh.map(() => 1), 1]);
        const after = await streamRows();
        // 30 rows written once each; the one existing stream updated (it was locked and moved on).
        expect(after.ins - before.ins).toBe(30);
        expect(after.upd - before.upd).toBe(1);
        const { rows } = await pool.query<{ stream_name: string; last_revision: string }>(
          `SELECT stream_name, last_revision::text FROM es_streams WHERE stream_name = ANY($1) ORDER BY stream_name`,
          [[...fresh, existing]],
        );
        expect(rows.map((r) => r.last_revision)).toEqual(Array(31).fill('1'));
        // The next append to a created stream sees the revision it was created at.
        await expect(store.appendToStream(fresh[0], [newEvent('c')], 1)).resolves.toMatchObject({ nextExpectedRevision: 2 });
        await expect(store.appendToStream(fresh[1], [newEvent('c')], 0)).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      } finally {
        await store.close();
        await pool.end();
        await own.drop();
      }
    });

    it('fails a malformed request alone, not the group it was written with', async () => {
      const store = await open({ concurrentAppends: 1 });
      const streams = [uniqueStreamName(), uniqueStreamName(), uniqueStreamName()];
      const outcomes = await Promise.allSettled([
        store.appendToStream(streams[0], [newEvent()], 'no_stream'),
        store.appendToStream(streams[1], [newEvent()], 'no_stream'),
        store.appendToStream(streams[2], null as unknown as [], 'no_stream'),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      expect(await store.readStream(streams[1])).toHaveLength(1);
    });

    it('gives every waiting caller the error when the database cannot be reached, and recovers', async () => {
      const store = await open({ concurrentAppends: 1 });
      const query = store.pool.query.bind(store.pool) as (...args: unknown[]) => unknown;
      const spy = jest.spyOn(store.pool, 'query').mockImplementation((() => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))) as never);
      const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => store.appendToStream(uniqueStreamName(), [newEvent()], 'no_stream')));
      expect(outcomes.map((o) => o.status)).toEqual(Array(5).fill('rejected'));
      expect(outcomes.map((o) => ((o as PromiseRejectedResult).reason as Error).message)).toEqual(Array(5).fill('connect ECONNREFUSED'));

      spy.mockImplementation(query as never);
      const stream = uniqueStreamName();
      await expect(store.appendToStream(stream, [newEvent()], 'no_stream')).resolves.toMatchObject({ nextExpectedRevision: 0 });
    });
  });

  describe('appendWithin (the caller owns the transaction)', () => {
    it('leaves no trace when the transaction rolls back', async () => {
      const store = await open();
      const stream = uniqueStreamName();
      const client = await store.pool.connect();
      try {
        await client.query('BEGIN');
        await store.appendWithin(client, stream, [newEvent()], 'no_stream');
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
      expect(await store.readStream(stream)).toEqual([]);
      await expect(store.appendToStream(stream, [newEvent()], 'no_stream')).resolves.toMatchObject({ nextExpectedRevision: 0 });
    });
  });

  describe('overlapping transactions', () => {
    it('never lets a checkpoint skip an event whose transaction commits late (a naive reader would)', async () => {
      const store = await open({ pollIntervalMs: 50 });
      const before = await settledHead(store);
      const naiveRead = async (afterGlobalPosition: bigint): Promise<{ id: string; global_position: string }[]> =>
        (
          await store.pool.query<{ id: string; global_position: string }>(
            'SELECT event_id::text AS id, global_position::text AS global_position FROM es_events WHERE global_position > $1 ORDER BY global_position',
            [afterGlobalPosition.toString()],
          )
        ).rows;
      const naiveStart = before.prepare < 0n ? 0n : before.prepare;
      const subscribed = follow(store, before);

      const late = newEvent('LateCommit');
      const early = newEvent('EarlyCommit');
      const t1 = new Client({ connectionString: db.url });
      await t1.connect();
      try {
        // T1 appends first (smaller transaction id and sequence number) but stays open...
        await t1.query('BEGIN');
        const r1 = await store.appendWithin(t1, uniqueStreamName('late'), [late], 'no_stream');
        // ...while T2 appends and commits.
        const r2 = await store.appendToStream(uniqueStreamName('early'), [early], 'no_stream');
        expect(r1.position.commit).toBeLessThan(r2.position.commit);
        expect(r1.position.prepare).toBeLessThan(r2.position.prepare);

        // A naive reader sees T2's event now and moves its checkpoint past T1's sequence number.
        const naiveFirst = await naiveRead(naiveStart);
        expect(naiveFirst.map((r) => r.id)).toEqual([early.id]);
        const naiveCheckpoint = BigInt(naiveFirst[0].global_position);

        // Our reader sees neither: T2's event waits until T1, which is older, has finished.
        const firstRead = await store.readAll({ after: before });
        expect(firstRead).toEqual([]);
        expect(await store.headPosition()).toEqual(before);
        await sleep(300);
        expect(subscribed.events).toEqual([]);
        const checkpoint = firstRead.at(-1)?.position ?? before;

        await t1.query('COMMIT');

        // The naive reader has skipped T1's event for good.
        expect(await naiveRead(naiveCheckpoint)).toEqual([]);
        expect(BigInt(r1.position.prepare)).toBeLessThan(naiveCheckpoint);

        // Ours delivers both, T1's first, to readAll and to a live subscription.
        const secondRead = await waitFor(async () => {
          const page = await store.readAll({ after: checkpoint });
          return page.length >= 2 ? page : undefined;
        }, 'both events to become visible');
        expect(secondRead.map((e) => e.id)).toEqual([late.id, early.id]);
        expect(secondRead.map((e) => e.position)).toEqual([r1.position, r2.position]);
        await waitFor(() => subscribed.events.length >= 2, 'the subscription to deliver both');
        expect(subscribed.events.map((e) => e.id)).toEqual([late.id, early.id]);
      } finally {
        await t1.end();
      }
    });

    it('fetches one of the events waiting behind a running transaction, not all of them (issue #9)', async () => {
      const store = await open({ pollIntervalMs: 60_000 });
      const before = await settledHead(store);
      const t1 = new Client({ connectionString: db.url });
      await t1.connect();
      try {
        await t1.query('BEGIN');
        await store.appendWithin(t1, uniqueStreamName('running'), [newEvent('Running')], 'no_stream');
        for (let i = 0; i < 40; i++) await store.appendToStream(uniqueStreamName('waiting'), [newEvent('Waiting')], 'no_stream');

        const reads = jest.spyOn(store.pool, 'query');
        expect(await store.readAll({ after: before })).toEqual([]);
        const fetched = await Promise.all(
          reads.mock.calls
            .map((call, n) => ({ sql: call[0], result: reads.mock.results[n].value as Promise<{ rows: unknown[] }> }))
            .filter(({ sql }) => typeof sql === 'string' && sql.includes('pg_current_snapshot()) AS xmin'))
            .map(async ({ result }) => (await result).rows.length),
        );
        reads.mockRestore();
        // Forty committed events wait behind T1; fetching them only to drop them was the old cost.
        expect(fetched).toEqual([1]);

        await t1.query('COMMIT');
        const all = await waitFor(async () => {
          const page = await store.readAll({ after: before });
          return page.length >= 41 ? page : undefined;
        }, 'all 41 events to become visible');
        expect(all.map((e) => e.type)).toEqual(['Running', ...Array(40).fill('Waiting')]);
      } finally {
        await t1.end();
      }
    });

    it('reads a page far behind the head without walking the rest of the log', async () => {
      const store = await open({ pollIntervalMs: 60_000 });
      const before = await settledHead(store);
      // A long log, written directly for speed: 20,000 events in 40 transactions.
      const prefix = uniqueStreamName('long');
      for (let t = 0; t < 40; t++) {
        await store.pool.query(`INSERT INTO es_streams (stream_name, last_revision) SELECT $1 || g, 0 FROM generate_series(1, 500) g`, [`${prefix}-${t}-`]);
        await store.pool.query(
          `INSERT INTO es_events (event_id, stream_name, revision, type, data) SELECT gen_random_uuid(), $1 || g, 0, 'Long', '{}' FROM generate_series(1, 500) g`,
          [`${prefix}-${t}-`],
        );
      }
      const reads = jest.spyOn(store.pool, 'query');
      expect(await store.readAll({ after: before, limit: 100 })).toHaveLength(100);
      const [sql, params] = reads.mock.calls.find(([text]) => typeof text === 'string' && text.includes('AS xmin')) as unknown as [string, unknown[]];
      reads.mockRestore();
      const { rows } = await store.pool.query<{ 'QUERY PLAN': { Plan: Record<string, number> }[] }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, params);
      const { Plan: plan } = rows[0]['QUERY PLAN'][0];
      // A hundred events and the one-row probe: a few pages. Bounded by `after` and xmin separately,
      // the probe walked every index entry after the page (~80 pages here, a full log's worth when
      // a new subscription replays it from the start).
      expect(plan['Shared Hit Blocks'] + plan['Shared Read Blocks']).toBeLessThan(40);
    });
  });

  describe('subscriptions at the same position', () => {
    it('share one read per wake-up, and each still gets every event in order', async () => {
      const store = await open({ pollIntervalMs: 60_000 });
      const head = await settledHead(store);
      const followers = Array.from({ length: 8 }, () => follow(store, head));
      await sleep(300); // the initial catch-up reads are done
      const reads = jest.spyOn(store.pool, 'query');
      const appended = [];
      for (let i = 0; i < 20; i++) {
        const event = newEvent();
        await store.appendToStream(uniqueStreamName(), [event], 'no_stream');
        appended.push(event.id);
        await waitFor(() => followers.every((f) => f.events.length === i + 1), `event ${i} everywhere`, 5000);
      }
      const pageReads = reads.mock.calls.filter(([sql]) => typeof sql === 'string' && sql.includes('pg_current_snapshot()) AS xmin'));
      reads.mockRestore();
      for (const f of followers) expect(f.events.map((e) => e.id)).toEqual(appended);
      // Eight subscriptions woken twenty times would read 160 pages without sharing.
      expect(pageReads.length).toBeLessThanOrEqual(2 * 20 + 8);
    });
  });

  describe('waking subscriptions across processes', () => {
    it('a subscription sees an append made through another instance via NOTIFY, not polling', async () => {
      // A polls once a minute, so only the notification can deliver within the timeout.
      const a = await open({ pollIntervalMs: 60_000 });
      const b = await open();
      const { events, errors } = follow(a, await settledHead(a));
      await waitFor(async () => (await listenerPids()).length === 1, 'the LISTEN connection');
      await sleep(300);

      const event = newEvent();
      await b.appendToStream(uniqueStreamName(), [event], 'no_stream');
      await waitFor(() => events.some((e) => e.id === event.id), 'cross-process delivery', 5000);
      expect(events.map((e) => e.id)).toEqual([event.id]);
      expect(errors).toEqual([]);
    });

    it('re-establishes the LISTEN connection after it is terminated', async () => {
      const a = await open({ pollIntervalMs: 60_000 });
      const b = await open();
      const { events, errors } = follow(a, await settledHead(a));
      const [first] = await waitFor(async () => {
        const pids = await listenerPids();
        return pids.length === 1 ? pids : undefined;
      }, 'the LISTEN connection');

      await admin.query('SELECT pg_terminate_backend($1)', [first]);
      await waitFor(async () => {
        const pids = await listenerPids();
        return pids.length === 1 && pids[0] !== first;
      }, 'a new LISTEN connection');
      expect(errors.length).toBeGreaterThan(0);
      await sleep(300);

      const event = newEvent();
      await b.appendToStream(uniqueStreamName(), [event], 'no_stream');
      await waitFor(() => events.some((e) => e.id === event.id), 'delivery after reconnecting', 5000);
    });

    it('keeps polling through query errors and catches up when the database is back', async () => {
      const a = await open({ pollIntervalMs: 100 });
      const { events, errors } = follow(a, await settledHead(a));
      await sleep(300);

      // Like a PostgreSQL restart: every connection dropped and new ones refused for a while.
      await admin.query(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS false`);
      try {
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db.name]);
        await waitFor(() => errors.length >= 3, 'errors reported while the database is unavailable');
      } finally {
        await admin.query(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
      }

      const b = await open();
      const event = newEvent();
      await b.appendToStream(uniqueStreamName(), [event], 'no_stream');
      await waitFor(() => events.some((e) => e.id === event.id), 'delivery after the outage', 10_000);
      expect(events.map((e) => e.id)).toEqual([event.id]);
      await expect(a.ping()).resolves.toBe(true);
    });
  });
});
