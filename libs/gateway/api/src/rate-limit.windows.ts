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

/** Requests of one bucket waiting to be counted together, each with its place in the line. */
interface Queued {
  readonly resolve: (hit: WindowHit) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * SPEC §5 "limits hold across several gateway replicas": one counter per caller per one-second
 * window, in PostgreSQL, bumped by a single atomic upsert. The window is read from the database's
 * clock, so replicas on different machines agree on where a second starts. Requests of a bucket
 * arriving while its upsert is under way are counted together by the next one (`hits + n`), each
 * getting its own count in arrival order — the counts a sequence of single upserts would give.
 */
@Injectable()
export class RateLimitWindows implements OnModuleInit {
  private readonly logger = new Logger('rate-limit');
  private lastSweep = 0;
  /** Buckets with an upsert under way, and the requests waiting for the next one. */
  private readonly waiting = new Map<string, Queued[]>();

  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  onModuleInit(): Promise<void> {
    return migrate(this.pool, 'gateway', RATE_LIMIT_MIGRATIONS);
  }

  hit(bucket: string): Promise<WindowHit> {
    this.sweep();
    return new Promise<WindowHit>((resolve, reject) => {
      const queue = this.waiting.get(bucket);
      if (queue) queue.push({ resolve, reject });
      else {
        this.waiting.set(bucket, []);
        void this.count(bucket, [{ resolve, reject }]);
      }
    });
  }

  /** Counts `batch` in one upsert, then the requests that queued up meanwhile, until none are left. */
  private async count(bucket: string, batch: readonly Queued[]): Promise<void> {
    try {
      const { rows } = await this.pool.query<{ hits: number; window_start: string; now_ms: string }>(
        `WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms)
         INSERT INTO gw_rate_windows AS w (bucket, window_start, hits)
         SELECT $1, now_ms - now_ms % 1000, $2 FROM clock
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = w.hits + EXCLUDED.hits
         RETURNING w.hits, w.window_start, (SELECT now_ms FROM clock) AS now_ms`,
        [bucket, batch.length],
      );
      const row = rows[0];
      const resetMs = Number(row.window_start) + 1_000 - Number(row.now_ms);
      const before = row.hits - batch.length;
      batch.forEach((request, i) => request.resolve({ hits: before + i + 1, resetMs }));
    } catch (error) {
      for (const request of batch) request.reject(error);
    }
    const next = this.waiting.get(bucket) ?? [];
    if (next.length === 0) {
      this.waiting.delete(bucket);
      return;
    }
    this.waiting.set(bucket, []);
    void this.count(bucket, next);
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
