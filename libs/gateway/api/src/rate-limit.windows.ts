import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { type Migration, migrate, PG_POOL } from '@schedstack/platform';
import type { Pool } from 'pg';

export const RATE_LIMIT_MIGRATIONS: readonly Migration[] = [
  {
    id: 'rate_limit_001_windows',
    // Unlogged: counters of the current second are worth nothing after a database crash.
    sql: `CREATE UNLOGGED TABLE gw_rate_windows (
            bucket text NOT NULL,
            window_start bigint NOT NULL,
            hits integer NOT NULL,
            PRIMARY KEY (bucket, window_start));`,
  },
];

const SWEEP_EVERY_MS = 10_000;

/** One request counted in its one-second window. */
export interface WindowHit {
  /** Requests in this window so far, this one included. */
  readonly hits: number;
  /** Milliseconds until the window ends. */
  readonly resetMs: number;
}

/**
 * SPEC §5 "limits hold across several gateway replicas": one counter per caller per one-second
 * window, in PostgreSQL, bumped by a single atomic upsert. The window is read from the database's
 * clock, so replicas on different machines agree on where a second starts.
 */
@Injectable()
export class RateLimitWindows implements OnModuleInit {
  private readonly logger = new Logger('rate-limit');
  private lastSweep = 0;

  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  onModuleInit(): Promise<void> {
    return migrate(this.pool, 'gateway', RATE_LIMIT_MIGRATIONS);
  }

  async hit(bucket: string): Promise<WindowHit> {
    this.sweep();
    const { rows } = await this.pool.query<{ hits: number; window_start: string; now_ms: string }>(
      `WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms)
       INSERT INTO gw_rate_windows AS w (bucket, window_start, hits)
       SELECT $1, now_ms - now_ms % 1000, 1 FROM clock
       ON CONFLICT (bucket, window_start) DO UPDATE SET hits = w.hits + 1
       RETURNING w.hits, w.window_start, (SELECT now_ms FROM clock) AS now_ms`,
      [bucket],
    );
    const row = rows[0];
    return { hits: row.hits, resetMs: Number(row.window_start) + 1_000 - Number(row.now_ms) };
  }

  /** Past windows are deleted lazily, at most every 10 s, piggybacking on a request. */
  private sweep(): void {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = Date.now();
    this.pool
      .query(`DELETE FROM gw_rate_windows WHERE window_start < (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 10000`)
      .catch((error) => this.logger.warn(`sweeping rate-limit windows failed: ${(error as Error).message}`));
  }
}
