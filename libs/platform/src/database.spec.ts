import { createTestDatabase, type TestDatabase } from '@schedstack/testing';
import type { Pool } from 'pg';
import { createPool } from './database';

describe('createPool', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('database_pool');
  });

  afterEach(async () => {
    jest.useRealTimers();
    await pool?.end();
  });

  afterAll(async () => {
    await db.drop();
  });

  /** Checks out `n` connections at once and returns their PostgreSQL backends' pids. */
  async function backendsOfBurst(n: number): Promise<number[]> {
    const clients = await Promise.all(Array.from({ length: n }, () => pool.connect()));
    const pids = await Promise.all(clients.map(async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid));
    for (const client of clients) client.release();
    return pids.sort((a, b) => a - b);
  }

  it('keeps the connections of a burst open through a quiet spell, so the next burst reuses them', async () => {
    pool = createPool(db.url, 6);
    const first = await backendsOfBurst(5);
    // pg arms its idle timers when a connection is released: fake them from before the release.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const second = await backendsOfBurst(5);
    expect(second).toEqual(first);
    jest.advanceTimersByTime(60 * 60_000); // an hour without a query
    jest.useRealTimers();
    expect(pool.totalCount).toBe(5);
    expect(await backendsOfBurst(5)).toEqual(first);
  });

  it('still replaces a connection that died while idle', async () => {
    pool = createPool(db.url, 2);
    const [pid] = await backendsOfBurst(1);
    // The pool hears the terminated connection's error and drops it; the next query gets a new one.
    const dropped = new Promise((resolve) => pool.once('error', resolve));
    const admin = createPool(db.url, 1);
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    } finally {
      await admin.end();
    }
    await dropped;
    const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    expect(rows[0].pid).not.toBe(pid);
  });
});
