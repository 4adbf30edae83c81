import type { Scope } from '@schedstack/contracts';
import { IdempotencyStore } from '@schedstack/gateway-api';
import { createPool } from '@schedstack/platform';
import { createTestDatabase, type TestDatabase } from '@schedstack/testing';
import type { Pool } from 'pg';

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

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('lets exactly one of many concurrent claims win', async () => {
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => store.claim(test, 'race', 'fp')));
    expect(outcomes.filter((o) => o.kind === 'claimed')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'in_progress')).toHaveLength(19);
  });

  it('replays a completed request, and tells a different request apart', async () => {
    expect(await store.claim(test, 'done', 'fp')).toEqual({ kind: 'claimed' });
    await store.complete(test, 'done', { status: 201, body: { id: 'sch_1', object: 'schedule' } });
    expect(await store.claim(test, 'done', 'fp')).toEqual({ kind: 'replay', response: { status: 201, body: { id: 'sch_1', object: 'schedule' } } });
    expect(await store.claim(test, 'done', 'other')).toEqual({ kind: 'mismatch' });
  });

  it('scopes keys by project and environment', async () => {
    expect(await store.claim(test, 'shared', 'fp-test')).toEqual({ kind: 'claimed' });
    expect(await store.claim(live, 'shared', 'fp-live')).toEqual({ kind: 'claimed' });
    expect(await store.claim(otherProject, 'shared', 'fp-other')).toEqual({ kind: 'claimed' });
  });

  it('keeps a record for 24 hours, then lets the key start afresh', async () => {
    await store.claim(test, 'old', 'fp');
    await store.complete(test, 'old', { status: 201, body: { id: 'sch_old' } });
    await age('old', 'created_at', '23 hours 59 minutes');
    expect((await store.claim(test, 'old', 'new request')).kind).toBe('mismatch');
    await age('old', 'created_at', '24 hours 1 minute');
    expect(await store.claim(test, 'old', 'new request')).toEqual({ kind: 'claimed' });
  });

  it('hands a key released after a failure to the next request', async () => {
    await store.claim(test, 'failed', 'fp');
    await store.release(test, 'failed');
    expect(await store.claim(test, 'failed', 'a corrected request')).toEqual({ kind: 'claimed' });
  });

  it('takes over the claim of a gateway that died mid-request, but only for the same request', async () => {
    await store.claim(test, 'orphan', 'fp');
    await age('orphan', 'claimed_at', '2 minutes');
    expect(await store.claim(test, 'orphan', 'another request')).toEqual({ kind: 'mismatch' });
    expect(await store.claim(test, 'orphan', 'fp')).toEqual({ kind: 'claimed' });
  });
});
