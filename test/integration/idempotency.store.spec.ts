import type { Scope } from '@schedstack/contracts';
import { IdempotencyStore } from '@schedstack/gateway-api';
import { createPool } from '@schedstack/platform';
import { createTestDatabase, eventually, type TestDatabase } from '@schedstack/testing';
import { Pool } from 'pg';

/** The gateway's idempotency records against a real PostgreSQL: claims, replays, expiry. */
describe('IdempotencyStore', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: IdempotencyStore;
  const test: Scope = { projectId: 'prj_a', environment: 'test' };
  const live: Scope = { projectId: 'prj_a', environment: 'live' };
  const otherProject: Scope = { projectId: 'prj_b', environment: 'test' };
  const age = (key: string, column: 'created_at' | 'claimed_at', interval: string) =>
    pool.query(`UPDATE gw_idempotency SET ${column} = now() - $2::interval WHERE key = $1`, [key, interval]);

  beforeAll(async () => {
    db = await createTestDatabase('idempotency');
    pool = createPool(db.url, 4);
    store = new IdempotencyStore(pool);
    await store.onModuleInit();
  });

  afterEach(() => jest.restoreAllMocks());

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const statementsLike = (spy: jest.SpyInstance, fragment: string) => spy.mock.calls.filter(([text]) => String(text).includes(fragment)).length;

  it('writes claims and completions arriving together in fewer statements than requests, each answered its own', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `together-${i}`);
    const queries = jest.spyOn(pool, 'query');
    const claims = await Promise.all(keys.map((key) => store.claim(test, key, `fp-${key}`)));
    expect(claims.every((c) => c.kind === 'claimed')).toBe(true);
    expect(statementsLike(queries, 'INSERT INTO gw_idempotency')).toBeLessThan(keys.length);

    await Promise.all(keys.map((key) => store.complete(test, key, { status: 201, body: { id: `sch_${key}` } })));
    expect(statementsLike(queries, 'UPDATE gw_idempotency')).toBeLessThan(keys.length);

    const replays = await Promise.all(keys.map((key) => store.claim(test, key, `fp-${key}`)));
    expect(replays).toEqual(keys.map((key) => ({ kind: 'replay', response: { status: 201, body: { id: `sch_${key}` } } })));
  });

  it('settles completions and duplicate claims of the same keys racing in opposite orders, each with the right answer', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `crossing-${i}`);
    await Promise.all(keys.map((key) => store.claim(test, key, 'fp')));
    const reversed = [...keys].reverse();
    const [completed, duplicates] = await Promise.all([
      Promise.all(keys.map((key) => store.complete(test, key, { status: 201, body: key }))),
      Promise.all(reversed.map((key) => store.claim(test, key, 'fp'))),
    ]);
    expect(completed).toHaveLength(keys.length);
    // Each duplicate saw its key either still held or answered with its own response, nothing else.
    const answered = (key: string) => JSON.stringify({ kind: 'replay', response: { status: 201, body: key } });
    expect(duplicates.filter((d, i) => d.kind !== 'in_progress' && JSON.stringify(d) !== answered(reversed[i]))).toEqual([]);
    expect(await Promise.all(keys.map((key) => store.claim(test, key, 'fp')))).toEqual(keys.map((key) => ({ kind: 'replay', response: { status: 201, body: key } })));
  });

  it('lets one of two gateways racing for a key win, the other wait for it', async () => {
    const other = new IdempotencyStore(pool);
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? other : store).claim(test, 'two-gateways', 'fp')));
    expect(outcomes.filter((o) => o.kind === 'claimed')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'in_progress')).toHaveLength(9);
  });

  it('takes the rows of a group in key order, so a completion and a claim sharing keys in opposite orders never deadlock', async () => {
    const [x1, x2] = ['order-x1', 'order-x2'];
    await Promise.all([store.claim(test, x1, 'fp'), store.claim(test, x2, 'fp')]);
    const deadlocks = async () => Number((await pool.query(`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`)).rows[0].deadlocks);
    const before = await deadlocks();
    // A transaction holds both rows, so both groups queue on them and start at the same moment.
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM gw_idempotency WHERE key = ANY($1) FOR UPDATE`, [[x1, x2]]);
      // Called directly: one statement each, in the orders given (through submit, a group's order is arrival order).
      const completing = store['completeAll']([
        { scope: test, key: x1, response: { status: 201, body: x1 } },
        { scope: test, key: x2, response: { status: 201, body: x2 } },
      ]);
      const claiming = store['claimAll']([
        { scope: test, key: x2, fingerprint: 'fp' },
        { scope: test, key: x1, fingerprint: 'fp' },
      ]);
      await eventually(async () => (await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).rows[0].n >= 2, 10_000, 20);
      await holder.query('COMMIT');
      const [, claims] = await Promise.all([completing, claiming]);
      // One group went first with both rows: the claims found both held, or both answered.
      const kinds = claims.map((c) => c.kind);
      expect([['in_progress', 'in_progress'], ['replay', 'replay']]).toContainEqual(kinds);
    } finally {
      holder.release();
    }
    expect(await deadlocks()).toBe(before);
  });

  it('answers the keys a group took as taken when reading the others fails, so no request finds its own claim held', async () => {
    await store.claim(test, 'read-fails-held', 'fp-other');
    const queries = jest.spyOn(pool, 'query');
    const original = queries.getMockImplementation();
    queries.mockImplementation(((text: unknown, ...rest: unknown[]) =>
      String(text).includes('SELECT project_id, environment, key, fingerprint')
        ? Promise.reject(new Error('connection reset'))
        : (original ?? Pool.prototype.query).apply(pool, [text, ...rest] as never)) as never);
    const outcomes = await store['claimAll']([
      { scope: test, key: 'read-fails-new', fingerprint: 'fp' },
      { scope: test, key: 'read-fails-held', fingerprint: 'fp' },
    ]);
    expect(outcomes.map((o) => o.kind)).toEqual(['claimed', 'in_progress']);
  });

  it('finds a key that PostgreSQL stores differently from how it was sent (a lone surrogate) as the same key', async () => {
    const key = 'lone\ud800surrogate';
    expect((await store.claim(test, key, 'fp')).kind).toBe('claimed');
    expect((await store.claim(test, key, 'fp')).kind).toBe('in_progress');
  });

  it('sweeps expired records in batches and keeps the live ones', async () => {
    await pool.query(
      `INSERT INTO gw_idempotency (project_id, environment, key, fingerprint, status, response, created_at)
       SELECT 'prj_sweep', 'test', 'expired-' || i, 'fp', 201, '{}', now() - interval '25 hours' FROM generate_series(1, 1200) i`,
    );
    const live: Scope = { projectId: 'prj_sweep', environment: 'test' };
    // A new store sweeps on its first claim.
    expect((await new IdempotencyStore(pool).claim(live, 'fresh', 'fp')).kind).toBe('claimed');
    await eventually(async () => (await pool.query(`SELECT count(*)::int AS n FROM gw_idempotency WHERE project_id = 'prj_sweep' AND key LIKE 'expired-%'`)).rows[0].n === 0);
    expect((await pool.query(`SELECT key FROM gw_idempotency WHERE project_id = 'prj_sweep'`)).rows).toEqual([{ key: 'fresh' }]);
  });

  it('answers concurrent claims of one key as one after the other: the same request waits, another is refused', async () => {
    const outcomes = await Promise.all([store.claim(test, 'one-key', 'fp-a'), store.claim(test, 'one-key', 'fp-a'), store.claim(test, 'one-key', 'fp-b')]);
    expect(outcomes.map((o) => o.kind)).toEqual(['claimed', 'in_progress', 'mismatch']);
  });

  it('keeps the records of one key in two environments apart when they are written together', async () => {
    const [inTest, inLive] = await Promise.all([store.claim(test, 'both', 'fp-test'), store.claim(live, 'both', 'fp-live')]);
    expect([inTest.kind, inLive.kind]).toEqual(['claimed', 'claimed']);
    await Promise.all([store.complete(test, 'both', { status: 201, body: 'test' }), store.complete(live, 'both', { status: 201, body: 'live' })]);
    expect(await Promise.all([store.claim(test, 'both', 'fp-test'), store.claim(live, 'both', 'fp-live')])).toEqual([
      { kind: 'replay', response: { status: 201, body: 'test' } },
      { kind: 'replay', response: { status: 201, body: 'live' } },
    ]);
  });

  it('lets exactly one of many concurrent claims win', async () => {
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => store.claim(test, 'race', 'fp')));
    expect(outcomes.filter((o) => o.kind === 'claimed')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'in_progress')).toHaveLength(19);
  });

  it('replays a completed request, and tells a different request apart', async () => {
    expect(await store.claim(test, 'done', 'fp')).toMatchObject({ kind: 'claimed' });
    await store.complete(test, 'done', { status: 201, body: { id: 'sch_1', object: 'schedule' } });
    expect(await store.claim(test, 'done', 'fp')).toEqual({ kind: 'replay', response: { status: 201, body: { id: 'sch_1', object: 'schedule' } } });
    expect(await store.claim(test, 'done', 'other')).toEqual({ kind: 'mismatch' });
  });

  it('scopes keys by project and environment', async () => {
    expect(await store.claim(test, 'shared', 'fp-test')).toMatchObject({ kind: 'claimed' });
    expect(await store.claim(live, 'shared', 'fp-live')).toMatchObject({ kind: 'claimed' });
    expect(await store.claim(otherProject, 'shared', 'fp-other')).toMatchObject({ kind: 'claimed' });
  });

  it('keeps a record for 24 hours, then lets the key start afresh', async () => {
    await store.claim(test, 'old', 'fp');
    await store.complete(test, 'old', { status: 201, body: { id: 'sch_old' } });
    await age('old', 'created_at', '23 hours 59 minutes');
    expect((await store.claim(test, 'old', 'new request')).kind).toBe('mismatch');
    await age('old', 'created_at', '24 hours 1 minute');
    expect(await store.claim(test, 'old', 'new request')).toMatchObject({ kind: 'claimed' });
  });

  it('hands a key released after a failure to the next request, in the same generation', async () => {
    const first = await store.claim(test, 'failed', 'fp');
    await store.release(test, 'failed');
    const retry = await store.claim(test, 'failed', 'a corrected request');
    expect(retry).toMatchObject({ kind: 'claimed' });
    expect(retry).toEqual(first);
    // Held again by the retry: not claimable until it completes or is released.
    expect((await store.claim(test, 'failed', 'a corrected request')).kind).toBe('in_progress');
  });

  it('starts a new generation only when the record has expired', async () => {
    const first = await store.claim(test, 'generations', 'fp');
    await store.complete(test, 'generations', { status: 201, body: { id: 'sch_gen' } });
    await age('generations', 'created_at', '24 hours 1 minute');
    const afresh = await store.claim(test, 'generations', 'fp');
    expect(afresh).toMatchObject({ kind: 'claimed' });
    expect(afresh).not.toEqual(first);
  });

  it('takes over the claim of a gateway that died mid-request, but only for the same request', async () => {
    const first = await store.claim(test, 'orphan', 'fp');
    await age('orphan', 'claimed_at', '2 minutes');
    expect(await store.claim(test, 'orphan', 'another request')).toEqual({ kind: 'mismatch' });
    // The same generation: the dead request may have committed what the retry would create.
    expect(await store.claim(test, 'orphan', 'fp')).toEqual(first);
  });
});
