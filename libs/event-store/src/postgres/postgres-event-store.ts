import { randomUUID } from 'node:crypto';
import { GroupCommit } from '@schedstack/contracts';
import { Client, ClientConfig, Pool, PoolClient } from 'pg';
import {
  AppendRequest,
  AppendResult,
  comparePositions,
  EventStore,
  ExpectedRevision,
  NewEvent,
  Position,
  ReadAllOptions,
  RecordedEvent,
  START,
  SubscribeOptions,
  Subscription,
  WrongExpectedRevisionError,
  subscriberBatches,
} from '../event-store.port';

export interface PostgresEventStoreOptions {
  /** A pool owned by the caller; `close()` leaves it open. */
  readonly pool?: Pool;
  /** Used to create (and own) a pool when `pool` is not given. */
  readonly connectionString?: string;
  /** How often subscriptions poll when no notification arrives. Default 200. */
  readonly pollIntervalMs?: number;
  /**
   * Group commit: at most this many append statements run at once; appends that arrive meanwhile
   * wait and go together in one statement (one transaction) as soon as one finishes. Default 2.
   */
  readonly concurrentAppends?: number;
}

/** Anything that can run a query inside the caller's open transaction. */
export type Queryable = Pick<PoolClient, 'query'>;

const NOTIFY_CHANNEL = 'es_appended';
/** Arbitrary constant: serialises `init()` across processes. */
const SCHEMA_LOCK_KEY = 7_305_112_903_377_001;
const DEFAULT_READ_LIMIT = 1000;
/** Events kept in the shared tail (see `sharedPage`). */
const TAIL_CAPACITY = 5000;
/** Appends written together by one group-commit statement, at most. */
const GROUP_COMMIT_MAX = 250;
const HANDLER_RETRY_DELAY_MS = 500;
const LISTEN_APPLICATION_NAME = 'es-listen';
const EVENT_ID_INDEX = 'es_events_event_id';
/** SQLSTATE es_append raises when it refuses an append (duplicate ids, wrong expected revision). */
const APPEND_REFUSED = 'SSA01';

const SCHEMA_SQL = `
  CREATE TABLE IF NOT EXISTS es_streams (
    stream_name   text PRIMARY KEY,
    last_revision bigint NOT NULL DEFAULT -1
  );
  CREATE TABLE IF NOT EXISTS es_events (
    global_position bigserial PRIMARY KEY,
    transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid NOT NULL,
    stream_name     text NOT NULL,
    revision        bigint NOT NULL,
    type            text NOT NULL,
    data            jsonb NOT NULL,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT es_events_stream_revision UNIQUE (stream_name, revision)
  );
  CREATE UNIQUE INDEX IF NOT EXISTS ${EVENT_ID_INDEX} ON es_events (event_id);
  CREATE INDEX IF NOT EXISTS es_events_global_order ON es_events (transaction_id, global_position);

  -- One append in one round trip (the API's hot path): lock the stream, answer a retried append as
  -- the original did, check the expected revision, insert in order, notify. Refusals are raised
  -- with SQLSTATE ${APPEND_REFUSED} so the caller's transaction is rolled back, never half-written.
  -- p_origin is sent as the notification's payload: the appending instance, which woke its own
  -- subscriptions already, ignores it.
  DROP FUNCTION IF EXISTS es_append(text, text, jsonb);
  CREATE OR REPLACE FUNCTION es_append(p_stream text, p_expected text, p_events jsonb, p_origin text)
  RETURNS TABLE (outcome text, revision bigint, commit_position text, prepare_position text)
  LANGUAGE plpgsql AS $fn$
  DECLARE
    v_current bigint;
    v_ids uuid[] := ARRAY(SELECT (x->>'id')::uuid FROM jsonb_array_elements(p_events) x);
    v_existing text[];
    v_in_stream int;
    v_ok boolean;
  BEGIN
    INSERT INTO es_streams (stream_name) VALUES (p_stream) ON CONFLICT DO NOTHING;
    SELECT s.last_revision INTO v_current FROM es_streams s WHERE s.stream_name = p_stream FOR UPDATE;
    SELECT array_agg(e.event_id::text ORDER BY e.global_position), count(*) FILTER (WHERE e.stream_name = p_stream)
      INTO v_existing, v_in_stream
      FROM es_events e WHERE e.event_id = ANY(v_ids);
    IF v_existing IS NOT NULL THEN
      IF array_length(v_existing, 1) = array_length(v_ids, 1) AND v_in_stream = array_length(v_ids, 1) THEN
        RETURN QUERY SELECT 'replayed'::text, e.revision, e.transaction_id::text, e.global_position::text
          FROM es_events e WHERE e.event_id = ANY(v_ids) ORDER BY e.revision DESC LIMIT 1;
        RETURN;
      END IF;
      RAISE EXCEPTION USING ERRCODE = '${APPEND_REFUSED}', MESSAGE = 'duplicate', DETAIL = array_to_string(v_existing, ', ');
    END IF;
    v_ok := p_expected = 'any'
      OR (p_expected = 'no_stream' AND v_current < 0)
      OR (p_expected = 'stream_exists' AND v_current >= 0)
      OR (p_expected ~ '^-?[0-9]+$' AND p_expected::bigint = v_current);
    IF NOT v_ok THEN
      RAISE EXCEPTION USING ERRCODE = '${APPEND_REFUSED}', MESSAGE = 'wrong_revision', DETAIL = v_current::text;
    END IF;
    UPDATE es_streams SET last_revision = v_current + jsonb_array_length(p_events) WHERE stream_name = p_stream;
    PERFORM pg_notify('${NOTIFY_CHANNEL}', p_origin);
    RETURN QUERY
      WITH inserted AS (
        INSERT INTO es_events (event_id, stream_name, revision, type, data, metadata)
        SELECT (x.e->>'id')::uuid, p_stream, v_current + x.ord, x.e->>'type', x.e->'data', x.e->'metadata'
          FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, ord)
         ORDER BY x.ord
        RETURNING es_events.revision, es_events.transaction_id, es_events.global_position)
      SELECT 'appended'::text, i.revision, i.transaction_id::text, i.global_position::text
        FROM inserted i ORDER BY i.global_position DESC LIMIT 1;
  END
  $fn$;

  -- Many appends in one statement (group commit, recorded attempts). With distinct streams and no
  -- event id already stored, the common case, it works set-wise: one insert, lock, check, update
  -- and insert for all, instead of es_append's per-append statements. Otherwise (a retried append,
  -- a stream twice) it runs es_append for each request, in order. A refusal of any request
  -- raises, so the caller can try them one by one to learn which.
  CREATE OR REPLACE FUNCTION es_append_many(p_requests jsonb, p_origin text)
  RETURNS TABLE (ord bigint, revision bigint, commit_position text, prepare_position text)
  LANGUAGE plpgsql AS $fn$
  DECLARE
    -- Arrays, not joins on jsonb: the planner then looks rows up by index instead of scanning.
    v_streams text[];
    v_expected text[];
    v_events jsonb[];
    v_current bigint[];
    v_created text[];
    v_old text[];
    v_refused text;
  BEGIN
    SELECT array_agg(a.r->>'stream' ORDER BY a.o), array_agg(a.r->>'expected' ORDER BY a.o), array_agg(a.r->'events' ORDER BY a.o)
      INTO v_streams, v_expected, v_events
      FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS a(r, o);
    IF (SELECT count(DISTINCT n) FROM unnest(v_streams) n) < cardinality(v_streams)
       OR EXISTS (SELECT 1 FROM es_events e
                   WHERE e.event_id = ANY(ARRAY(SELECT (x->>'id')::uuid FROM unnest(v_events) ev, jsonb_array_elements(ev) x))) THEN
      -- Locked in name order here too, so this path cannot deadlock with a set-wise group.
      INSERT INTO es_streams (stream_name) SELECT DISTINCT n FROM unnest(v_streams) n ORDER BY n ON CONFLICT DO NOTHING;
      PERFORM 1 FROM es_streams s WHERE s.stream_name = ANY(v_streams) ORDER BY s.stream_name FOR UPDATE;
      RETURN QUERY
        SELECT a.o, r.revision, r.commit_position, r.prepare_position
          FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS a(r, o),
               LATERAL es_append(a.r->>'stream', a.r->>'expected', a.r->'events', p_origin) r
         ORDER BY a.o;
      RETURN;
    END IF;
    -- A new stream is created at its final revision, so it needs no lock or update of its own:
    -- a request's first append is most appends (each delivery's first attempt, each create), and
    -- the lock and the update were two more row versions written for each (issue #9). A stream
    -- created meanwhile by another group is waited for by the insert, then found existing.
    WITH created AS (
      INSERT INTO es_streams AS s (stream_name, last_revision)
      SELECT u.n, jsonb_array_length(u.ev) - 1 FROM unnest(v_streams, v_events) AS u(n, ev) ORDER BY u.n
      ON CONFLICT DO NOTHING RETURNING s.stream_name)
    SELECT coalesce(array_agg(stream_name), '{}') INTO v_created FROM created;
    IF cardinality(v_created) = cardinality(v_streams) THEN
      v_old := '{}';
      v_current := array_fill(-1::bigint, ARRAY[cardinality(v_streams)]);
    ELSE
      v_old := ARRAY(SELECT u.n FROM unnest(v_streams) AS u(n) LEFT JOIN unnest(v_created) AS c(n) ON c.n = u.n WHERE c.n IS NULL);
      -- The existing ones are locked in name order, so two groups sharing streams cannot deadlock.
      PERFORM 1 FROM es_streams s WHERE s.stream_name = ANY(v_old) ORDER BY s.stream_name FOR UPDATE;
      -- Looked up one by one: a join lets the planner scan the whole table (its statistics lag
      -- behind a table that grows by thousands of streams a second).
      v_current := ARRAY(
        SELECT CASE WHEN c.n IS NULL THEN (SELECT s.last_revision FROM es_streams s WHERE s.stream_name = u.n) ELSE -1 END
          FROM unnest(v_streams) WITH ORDINALITY AS u(n, i) LEFT JOIN unnest(v_created) AS c(n) ON c.n = u.n
         ORDER BY u.i);
    END IF;
    SELECT v_streams[i] INTO v_refused FROM generate_subscripts(v_streams, 1) i
     WHERE NOT (v_expected[i] = 'any'
                OR (v_expected[i] = 'no_stream' AND v_current[i] < 0)
                OR (v_expected[i] = 'stream_exists' AND v_current[i] >= 0)
                OR (v_expected[i] ~ '^-?[0-9]+$' AND v_expected[i]::bigint = v_current[i]))
     LIMIT 1;
    IF v_refused IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = '${APPEND_REFUSED}', MESSAGE = 'wrong_revision', DETAIL = v_refused;
    END IF;
    -- (last_revision is the locked v_current; the streams are distinct here.)
    IF cardinality(v_old) > 0 THEN
      UPDATE es_streams s SET last_revision = s.last_revision + jsonb_array_length(v_events[array_position(v_streams, s.stream_name)])
       WHERE s.stream_name = ANY(v_old);
    END IF;
    PERFORM pg_notify('${NOTIFY_CHANNEL}', p_origin);
    RETURN QUERY
      WITH inserted AS (
        INSERT INTO es_events (event_id, stream_name, revision, type, data, metadata)
        SELECT (x.e->>'id')::uuid, u.n, u.cur + x.k, x.e->>'type', x.e->'data', x.e->'metadata'
          FROM unnest(v_streams, v_current, v_events) WITH ORDINALITY AS u(n, cur, ev, i),
               jsonb_array_elements(u.ev) WITH ORDINALITY AS x(e, k)
         ORDER BY u.i, x.k
        RETURNING es_events.stream_name, es_events.revision, es_events.transaction_id, es_events.global_position)
      SELECT u.i, ins.revision, ins.transaction_id::text, ins.global_position::text
        FROM unnest(v_streams, v_current, v_events) WITH ORDINALITY AS u(n, cur, ev, i)
        JOIN inserted ins ON ins.stream_name = u.n AND ins.revision = u.cur + jsonb_array_length(u.ev)
       ORDER BY u.i;
  END
  $fn$;

  -- Several whole streams in one round trip. Always by the (stream_name, revision) index: without
  -- statistics (a fresh database, or the first minute of a burst before autovacuum's ANALYZE) the
  -- planner guesses that 50 names match a quarter of the table and scans all of it, in parallel,
  -- for every call — 20–30 ms each under load instead of well under one (issue #9).
  CREATE OR REPLACE FUNCTION es_read_streams(p_streams text[])
  RETURNS SETOF es_events
  LANGUAGE sql STABLE SET enable_seqscan = off AS $fn$
    SELECT * FROM es_events e WHERE e.stream_name = ANY(p_streams) ORDER BY e.stream_name, e.revision
  $fn$;
`;

const EVENT_COLUMNS = `
  e.event_id::text AS id, e.stream_name, e.revision::text AS revision, e.type, e.data, e.metadata,
  e.created_at, e.transaction_id::text AS commit, e.global_position::text AS prepare`;

interface EventRow {
  id: string;
  stream_name: string;
  revision: string;
  type: string;
  data: unknown;
  metadata: Record<string, unknown> | null;
  created_at: Date;
  commit: string;
  prepare: string;
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.id,
    streamName: row.stream_name,
    type: row.type,
    data: row.data,
    metadata: row.metadata ?? {},
    revision: Number(row.revision),
    position: { commit: BigInt(row.commit), prepare: BigInt(row.prepare) },
    createdAt: row.created_at,
  };
}

/** An event as es_append takes it. */
const toStoredEvent = (e: NewEvent) => ({ id: e.id, type: e.type, data: e.data === undefined ? null : e.data, metadata: e.metadata ?? {} });

/** Position of the newest event of the shared tail (its start when it holds none). */
const tailEnd = (tail: { start: Position; events: readonly RecordedEvent[] }): Position => tail.events[tail.events.length - 1]?.position ?? tail.start;

const isStart = (p: Position): boolean => p.commit < 0n;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A page of `$all` plus whether committed events exist past it that are not visible yet. */
interface Page {
  readonly events: RecordedEvent[];
  readonly pendingInvisible: boolean;
}

/**
 * PostgreSQL event store. Global order is (transaction id, sequence): a reader only sees events of
 * transactions older than every transaction still running, so a transaction that commits late can
 * never land behind a checkpoint some reader already stored (the Marten/Emmett technique).
 */
export class PostgresEventStore implements EventStore {
  readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly pollIntervalMs: number;
  private readonly subscriptions = new Set<PostgresSubscription>();
  private listener: Promise<void> | undefined;
  private stopListener: (() => void) | undefined;
  private closed = false;
  /**
   * The newest events read, contiguous in global order after `start`: every subscription reads
   * every event, so once one has read the tail the others are served from memory, and after a
   * wake-up only what is newer than the tail is read (one query per commit, not one per subscriber).
   */
  private tail: { start: Position; events: RecordedEvent[]; complete: boolean; generation: number; at: number } | null = null;
  private tailRead: Promise<void> | null = null;
  /** Sent with this instance's appends' notifications, so it ignores its own. */
  private readonly instanceId = randomUUID();
  /** Bumped by every wake-up: the tail is complete only up to the wake-up it was read after. */
  private generation = 0;
  /** Group commit (see `concurrentAppends`). */
  private readonly appends: GroupCommit<AppendRequest, AppendResult | Error>;

  constructor(options: PostgresEventStoreOptions) {
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else if (options.connectionString) {
      this.pool = new Pool({ connectionString: options.connectionString });
      // An idle client dying (e.g. a PostgreSQL restart) must not crash the process; the pool replaces it.
      this.pool.on('error', () => undefined);
      // Checked-out clients too: a dropped connection must fail its query, not crash the process.
      this.pool.on('connect', (client) => client.on('error', () => undefined));
      this.ownsPool = true;
    } else {
      throw new Error('PostgresEventStore needs a pool or a connectionString');
    }
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    this.appends = new GroupCommit((requests) => this.writeMany(requests), { writers: Math.max(1, options.concurrentAppends ?? 2), maxBatch: GROUP_COMMIT_MAX });
  }

  /** Creates the tables; idempotent and safe to call from several processes at once. */
  async init(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // CREATE ... IF NOT EXISTS races on the catalog when run concurrently; the lock serialises it.
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
      await client.query(SCHEMA_SQL);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Issue #9, group commit: with a writer free, the append is written at once (one statement, its
   * own transaction); otherwise it waits, and the waiting appends are written together in one
   * statement as soon as a writer is free — one round trip and one commit for a burst of creates,
   * each caller still getting its own result or refusal.
   */
  async appendToStream(streamName: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    // writeMany answers a refusal as the request's own Error, never failing the others of its group.
    const result = await this.appends.submit({ streamName, events, expected });
    if (result instanceof Error) throw result;
    return result;
  }

  /** The requests in one statement, written now (not queued behind the group commit). */
  appendToStreams(requests: readonly AppendRequest[]): Promise<(AppendResult | Error)[]> {
    return this.writeMany(requests);
  }

  private async appendOne(request: AppendRequest): Promise<AppendResult> {
    // es_append is one statement, hence its own transaction: one round trip per append.
    const result = await this.append(this.pool, request.streamName, request.events, request.expected, this.instanceId);
    this.wakeSubscriptions();
    return result;
  }

  /**
   * All the requests in one statement (one transaction, one round trip). If any is refused, that
   * transaction rolls back and each request is appended on its own, so only the refused ones fail.
   */
  private async writeMany(requests: readonly AppendRequest[]): Promise<(AppendResult | Error)[]> {
    if (requests.length === 0) return [];
    // One after the other: in request order (two requests may share a stream), and one pool
    // connection at a time, so a failing batch cannot crowd out the caller's other queries.
    const oneByOne = async () => {
      const results: (AppendResult | Error)[] = [];
      for (const r of requests) {
        results.push(await this.appendOne(r).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))));
      }
      return results;
    };
    if (requests.length === 1 || requests.some((r) => !Array.isArray(r.events) || r.events.length === 0)) return oneByOne();
    try {
      // Inside the try: one malformed request must fail alone (one by one), not its whole group.
      const batch = requests.map((r) => ({ stream: r.streamName, expected: String(r.expected), events: r.events.map(toStoredEvent) }));
      const { rows } = await this.pool.query<{ ord: string; revision: string; commit_position: string; prepare_position: string }>(
        'SELECT * FROM es_append_many($1::jsonb, $2)',
        [JSON.stringify(batch), this.instanceId],
      );
      this.wakeSubscriptions();
      return rows.map((row) => ({
        nextExpectedRevision: Number(row.revision),
        position: { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) },
      }));
    } catch {
      // Someone was refused (or the batch failed as a whole): each on its own tells which.
      return oneByOne();
    }
  }

  /**
   * Appends inside a transaction the caller opened and will commit (e.g. with an outbox write).
   * Subscriptions of other instances learn of it through NOTIFY at commit; this instance's
   * subscriptions find it by notification or by polling.
   */
  appendWithin(client: Queryable, streamName: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    // Committed by the caller later: this instance learns of it by the notification like the others.
    return this.append(client, streamName, events, expected, '');
  }

  private async append(client: Queryable, streamName: string, events: readonly NewEvent[], expected: ExpectedRevision, origin: string): Promise<AppendResult> {
    if (events.length === 0) throw new Error(`Stream '${streamName}': nothing to append`);
    const ids = events.map((e) => e.id);
    const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (repeated.length > 0) throw new Error(`Stream '${streamName}': event ids repeated within one append: ${repeated.join(', ')}`);

    const payload = JSON.stringify(events.map(toStoredEvent));
    let row: { outcome: string; revision: string; commit_position: string; prepare_position: string };
    try {
      ({
        rows: [row],
      } = await client.query('SELECT * FROM es_append($1, $2, $3::jsonb, $4)', [streamName, String(expected), payload, origin]));
    } catch (error) {
      const { code, message, detail, constraint } = error as { code?: string; message?: string; detail?: string; constraint?: string };
      if (code === APPEND_REFUSED && message === 'duplicate') {
        throw new Error(`Stream '${streamName}': events already appended: ${detail}`);
      }
      if (code === APPEND_REFUSED && message === 'wrong_revision') {
        const current = Number(detail);
        throw new WrongExpectedRevisionError(streamName, expected, current >= 0 ? current : 'no_stream');
      }
      // The same id committed meanwhile to another stream (this stream's lock cannot stop that).
      if (code === '23505' && constraint === EVENT_ID_INDEX) {
        throw new Error(`Stream '${streamName}': an event id of this append already exists in another stream (${ids.join(', ')})`);
      }
      throw error;
    }
    // A retried append ('replayed') answers as the original did, without a revision check (KurrentDB semantics).
    return {
      nextExpectedRevision: Number(row.revision),
      position: { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) },
    };
  }

  async readStream(streamName: string, options?: { fromRevision?: number }): Promise<RecordedEvent[]> {
    const result = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM es_events e
        WHERE e.stream_name = $1 AND e.revision >= $2
        ORDER BY e.revision`,
      [streamName, options?.fromRevision ?? 0],
    );
    return result.rows.map(toRecordedEvent);
  }

  async readStreams(streamNames: readonly string[]): Promise<RecordedEvent[][]> {
    if (streamNames.length === 0) return [];
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM es_read_streams($1::text[]) e ORDER BY e.stream_name, e.revision`,
      [[...new Set(streamNames)]],
    );
    const byStream = new Map<string, RecordedEvent[]>();
    for (const row of rows) {
      const events = byStream.get(row.stream_name) ?? [];
      events.push(toRecordedEvent(row));
      byStream.set(row.stream_name, events);
    }
    return streamNames.map((name) => [...(byStream.get(name) ?? [])]);
  }

  async readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    return (await this.readPage(options?.after ?? START, options?.limit ?? DEFAULT_READ_LIMIT)).events;
  }

  /**
   * Up to `limit` events after `after` that every later reader will also see in this order: those
   * of transactions older than the oldest one still running (`xmin`). Whether a newer committed one
   * waits behind a running transaction is asked with one row, not by reading them all: while any
   * write is in flight (a projection's batch, a claim), every event committed since it began is
   * newer than `xmin`, and fetching them whole on each read of the log's head — to drop them, and
   * read them again on the next — was two of every three rows the subscriptions read (issue #9).
   */
  private async readPage(after: Position, limit: number): Promise<Page> {
    const params: unknown[] = [limit];
    let beyond = 'true';
    // Where the probe for a waiting event starts: after `after`, and at xmin or later. Given to the
    // index as one row bound (two separate bounds make it walk every visible entry from `after` on,
    // which a subscription catching up on a long log would pay on every page).
    let probeFrom = 'e.transaction_id >= (SELECT xmin FROM s)';
    let probeStart = '';
    if (!isStart(after)) {
      params.push(after.commit.toString(), after.prepare.toString());
      beyond = '(e.transaction_id, e.global_position) > ($2::text::xid8, $3::bigint)';
      probeStart = `, CASE WHEN xmin > $2::text::xid8 THEN xmin ELSE $2::text::xid8 END AS probe_commit,
                      CASE WHEN xmin > $2::text::xid8 THEN -1 ELSE $3::bigint END AS probe_prepare`;
      probeFrom = `(e.transaction_id, e.global_position) > ((SELECT probe_commit FROM s), (SELECT probe_prepare FROM s))`;
    }
    // Visible events sort before every invisible one (ordered by transaction first).
    const result = await this.pool.query<EventRow & { visible: boolean }>(
      `WITH s AS (SELECT xmin${probeStart} FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) x)
       SELECT * FROM (
         (SELECT ${EVENT_COLUMNS}, true AS visible, e.transaction_id AS tx, e.global_position AS gp
            FROM es_events e WHERE ${beyond} AND e.transaction_id < (SELECT xmin FROM s)
           ORDER BY e.transaction_id, e.global_position LIMIT $1)
         UNION ALL
         (SELECT ${EVENT_COLUMNS}, false, e.transaction_id, e.global_position
            FROM es_events e WHERE ${probeFrom}
           ORDER BY e.transaction_id, e.global_position LIMIT 1)
       ) page ORDER BY tx, gp`,
      params,
    );
    const visible = result.rows.filter((r) => r.visible);
    return { events: visible.map(toRecordedEvent), pendingInvisible: visible.length < limit && visible.length < result.rows.length };
  }

  async headPosition(): Promise<Position> {
    const result = await this.pool.query<{ commit: string; prepare: string }>(
      `SELECT transaction_id::text AS commit, global_position::text AS prepare
         FROM es_events
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY transaction_id DESC, global_position DESC
        LIMIT 1`,
    );
    const row = result.rows[0];
    return row ? { commit: BigInt(row.commit), prepare: BigInt(row.prepare) } : START;
  }

  subscribeToAll(options: SubscribeOptions): Subscription {
    if (this.closed) throw new Error('PostgresEventStore is closed');
    const subscription = new PostgresSubscription(options, {
      readPage: (after, limit, since) => this.sharedPage(after, limit, since),
      generation: () => this.generation,
      pollIntervalMs: this.pollIntervalMs,
      onClosed: (s) => this.subscriptions.delete(s),
    });
    this.subscriptions.add(subscription);
    this.listener ??= this.runListener();
    subscription.start();
    return subscription;
  }

  async ping(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.stopListener?.();
    await this.listener;
    if (this.ownsPool) await this.pool.end();
  }

  /**
   * A subscription's page: from the shared tail when it reaches that far, else from the database.
   * The tail serves a subscriber only if it was read after the subscriber's last wake-up (`since`):
   * whatever was committed before that is in it, and a later commit wakes the subscriber again.
   */
  private async sharedPage(after: Position, limit: number, since: number): Promise<Page> {
    for (let tries = 0; tries < 3; tries++) {
      const tail = this.tail;
      // No tail yet, or a subscriber behind it (catching up): the database, and the tail stays.
      if (!tail || comparePositions(after, tail.start) < 0) break;
      const beyond = comparePositions(after, tailEnd(tail)) > 0;
      // Polling without wake-ups (a lost LISTEN connection) must still reach the database.
      const recent = Date.now() - tail.at < this.pollIntervalMs / 2;
      if (!beyond && tail.generation >= since && recent && (tail.complete || tries > 0)) {
        // Subscribers are nearly always near the end of the tail: look from there.
        let from = tail.events.length;
        while (from > 0 && comparePositions(tail.events[from - 1].position, after) > 0) from--;
        const events = tail.events.slice(from, from + limit);
        // Not complete: committed events wait on an older transaction, so the subscriber comes back soon.
        return { events, pendingInvisible: !tail.complete && events.length < limit };
      }
      // One reader extends the tail with what is newer; the others wait for that read.
      this.tailRead ??= this.extendTail(tail).finally(() => {
        this.tailRead = null;
      });
      await this.tailRead;
    }
    const generation = this.generation;
    const page = await this.readPage(after, limit);
    // The first subscriber to read at the head starts the tail.
    if (!this.tail && page.events.length < limit) {
      this.tail = { start: after, events: page.events, complete: !page.pendingInvisible, generation, at: Date.now() };
    }
    return page;
  }

  private async extendTail(tail: NonNullable<PostgresEventStore['tail']>): Promise<void> {
    // Taken before the query: everything committed before this wake-up count is in what it reads.
    const generation = this.generation;
    const page = await this.readPage(tailEnd(tail), DEFAULT_READ_LIMIT);
    if (this.tail !== tail) return;
    const events = tail.events.concat(page.events);
    // Keep the newest few thousand: subscriptions that far behind read the database.
    const drop = Math.max(0, events.length - TAIL_CAPACITY);
    this.tail = {
      start: drop > 0 ? events[drop - 1].position : tail.start,
      events: drop > 0 ? events.slice(drop) : events,
      complete: !page.pendingInvisible && page.events.length < DEFAULT_READ_LIMIT,
      generation,
      at: Date.now(),
    };
  }

  private wakeSubscriptions(): void {
    this.generation++;
    for (const s of this.subscriptions) s.wake();
  }

  private reportToSubscriptions(error: unknown): void {
    for (const s of this.subscriptions) s.reportError(error);
  }

  private listenClientConfig(): ClientConfig {
    // Its own connection, not a pool slot: it is held for the store's lifetime.
    const { connectionString, host, port, user, password, database, ssl } = this.pool.options;
    return { connectionString, host, port, user, password, database, ssl, application_name: LISTEN_APPLICATION_NAME };
  }

  /** Keeps one LISTEN connection open until close(), reconnecting with backoff when it drops. */
  private async runListener(): Promise<void> {
    const stopped = new Promise<void>((resolve) => (this.stopListener = resolve));
    let delay = 100;
    while (!this.closed) {
      const client = new Client(this.listenClientConfig());
      const dropped = new Promise<unknown>((resolve) => {
        client.on('error', resolve);
        client.on('end', () => resolve(new Error('LISTEN connection ended')));
      });
      try {
        await client.connect();
        // Appends of this instance woke its subscriptions already (a second wake would re-read).
        client.on('notification', (message) => message.payload !== this.instanceId && this.wakeSubscriptions());
        await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
        delay = 100;
        // Notifications sent while disconnected are lost: look once now.
        this.wakeSubscriptions();
        const reason = await Promise.race([dropped, stopped.then(() => undefined)]);
        if (reason !== undefined && !this.closed) this.reportToSubscriptions(reason);
      } catch (error) {
        if (!this.closed) this.reportToSubscriptions(error);
      } finally {
        await client.end().catch(() => undefined);
      }
      if (this.closed) break;
      await Promise.race([sleep(delay), stopped]);
      delay = Math.min(delay * 2, 5000);
    }
  }
}


interface SubscriptionDeps {
  /** `since`: the wake-up count when the subscriber last reset its woken flag (see `sharedPage`). */
  readPage(after: Position, limit: number, since: number): Promise<Page>;
  readonly generation: () => number;
  readonly pollIntervalMs: number;
  onClosed(subscription: PostgresSubscription): void;
}

/** Catch-up then live: reads pages after its checkpoint, sleeping until woken or the poll interval. */
class PostgresSubscription implements Subscription {
  private checkpoint: Position;
  private readonly batches: ReturnType<typeof subscriberBatches>;
  private closed = false;
  private woken = false;
  private interrupt: (() => void) | undefined;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: SubscribeOptions,
    private readonly deps: SubscriptionDeps,
  ) {
    this.checkpoint = options.after;
    this.batches = subscriberBatches(options);
  }

  start(): void {
    this.loop = this.run();
  }

  wake(): void {
    this.woken = true;
    this.interrupt?.();
  }

  reportError(error: unknown): void {
    try {
      this.options.onError?.(error);
    } catch {
      // A failing error callback must not stop the subscription.
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.interrupt?.();
    await this.loop;
    this.deps.onClosed(this);
  }

  private async run(): Promise<void> {
    // Short re-checks while committed events wait on an older transaction: it usually ends soon
    // and, if it appended nothing, sends no notification.
    let pendingDelay = 10;
    while (!this.closed) {
      this.woken = false;
      const since = this.deps.generation();
      let page: Page;
      try {
        page = await this.deps.readPage(this.checkpoint, DEFAULT_READ_LIMIT, since);
      } catch (error) {
        this.reportError(error);
        await this.pause(this.deps.pollIntervalMs, false);
        continue;
      }
      const { maxBatch, handle } = this.batches;
      for (let i = 0; i < page.events.length; i += maxBatch) {
        const batch = page.events.slice(i, i + maxBatch);
        if (!(await this.deliver(handle, batch))) return;
        this.checkpoint = batch[batch.length - 1].position;
      }
      if (page.events.length === DEFAULT_READ_LIMIT) continue;
      if (page.pendingInvisible) {
        await this.pause(Math.min(pendingDelay, this.deps.pollIntervalMs), true);
        pendingDelay = Math.min(pendingDelay * 2, this.deps.pollIntervalMs);
      } else {
        pendingDelay = 10;
        await this.pause(this.deps.pollIntervalMs, true);
      }
    }
  }

  /** Calls the handler until it succeeds; false when closed before that. */
  private async deliver(handle: (events: readonly RecordedEvent[]) => Promise<void>, batch: readonly RecordedEvent[]): Promise<boolean> {
    while (!this.closed) {
      try {
        await handle(batch);
        return true;
      } catch (error) {
        this.reportError(error);
        await this.pause(HANDLER_RETRY_DELAY_MS, false);
      }
    }
    return false;
  }

  /** Sleeps up to `ms`; close() always cuts it short, a wake-up only when `wakeable`. */
  private pause(ms: number, wakeable: boolean): Promise<void> {
    if (this.closed || (wakeable && this.woken)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.interrupt = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.interrupt = wakeable ? done : () => (this.closed ? done() : undefined);
    });
  }
}
