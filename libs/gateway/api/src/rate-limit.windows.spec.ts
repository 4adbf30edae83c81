import type { Pool } from 'pg';
import { RateLimitWindows } from './rate-limit.windows';

/**
 * A stand-in for PostgreSQL's `gw_rate_windows` upsert (the statement itself runs in
 * test/e2e/environments.limits.e2e.ts): one window, answered a tick later, as a database would.
 */
function windowsTable() {
  const hits = new Map<string, number>();
  const upserts: number[] = [];
  let failNext = false;
  const pool = {
    query: (text: string, values: [string, number]) =>
      new Promise((resolve, reject) =>
        setImmediate(() => {
          if (!text.includes('INSERT INTO gw_rate_windows')) return resolve({ rows: [] });
          if (failNext) {
            failNext = false;
            return reject(new Error('database down'));
          }
          const [bucket, n] = values;
          upserts.push(n);
          hits.set(bucket, (hits.get(bucket) ?? 0) + n);
          resolve({ rows: [{ hits: hits.get(bucket), window_start: '5000', now_ms: '5400' }] });
        }),
      ),
  };
  return { pool: pool as unknown as Pool, upserts, failOnce: () => (failNext = true) };
}

describe('RateLimitWindows (SPEC §5 rate limits)', () => {
  it('gives concurrent requests of one caller the counts one after the other would get, in arrival order', async () => {
    const table = windowsTable();
    const windows = new RateLimitWindows(table.pool);
    const hits = await Promise.all(Array.from({ length: 60 }, () => windows.hit('key:a')));
    expect(hits).toEqual(Array.from({ length: 60 }, (_, i) => ({ hits: i + 1, resetMs: 600 })));
    // Those that arrived while an upsert was under way were counted together by the next one.
    expect(table.upserts.length).toBeLessThan(60);
    expect(table.upserts.reduce((a, b) => a + b, 0)).toBe(60);
  });

  it('counts each caller on its own', async () => {
    const windows = new RateLimitWindows(windowsTable().pool);
    const [a, b] = await Promise.all([
      Promise.all(Array.from({ length: 5 }, () => windows.hit('key:a'))),
      Promise.all(Array.from({ length: 3 }, () => windows.hit('session:b:live'))),
    ]);
    expect(a.map((h) => h.hits)).toEqual([1, 2, 3, 4, 5]);
    expect(b.map((h) => h.hits)).toEqual([1, 2, 3]);
  });

  it('fails the requests whose count failed, and counts those waiting behind them', async () => {
    const table = windowsTable();
    const windows = new RateLimitWindows(table.pool);
    table.failOnce();
    const [first, second, third] = await Promise.allSettled([windows.hit('key:a'), windows.hit('key:a'), windows.hit('key:a')]);
    expect(first).toMatchObject({ status: 'rejected', reason: new Error('database down') });
    expect([second, third]).toEqual([
      { status: 'fulfilled', value: { hits: 1, resetMs: 600 } },
      { status: 'fulfilled', value: { hits: 2, resetMs: 600 } },
    ]);
    expect((await windows.hit('key:a')).hits).toBe(3);
  });
});
