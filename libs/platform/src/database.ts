import { Logger } from '@nestjs/common';
import { Pool, type PoolClient } from 'pg';

export const PG_POOL = Symbol('PG_POOL');

/** pg's `idleTimeoutMillis` that never closes an idle connection. */
const KEEP_IDLE_CONNECTIONS = 0;

/**
 * A pool whose idle connections may die (database restart, shutdown) without taking the process
 * down: pg emits 'error' on the pool for those, and an unhandled 'error' event would crash Node.
 *
 * It keeps the connections it opened; pg would close idle ones after 10 s. A burst after a quiet
 * spell (a cron's top of the hour) then opened them again just as its fires were due, and each new
 * PostgreSQL backend spends tens of milliseconds of CPU warming its caches: in the steady benchmark,
 * the first second's lag (docs/decisions.md). A process holds at most `max`, as many as its busiest
 * moment needed.
 */
export function createPool(url: string, max = 20): Pool {
  // TCP keep-alive probes on the idle connections: a NAT or load balancer that forgets a quiet
  // connection would otherwise leave the next burst's first query hanging on a dead socket.
  const pool = new Pool({ connectionString: url, max, idleTimeoutMillis: KEEP_IDLE_CONNECTIONS, keepAlive: true, keepAliveInitialDelayMillis: 30_000 });
  const logger = new Logger('database');
  pool.on('error', (error) => logger.warn(`idle database connection lost: ${error.message}`));
  // A checked-out client has no pool listener: without one, a connection dying mid-use (database
  // restart or shutdown) would crash the process instead of failing the query in flight.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** Runs `work` in one transaction; rolls back and rethrows on error. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Each service owns its tables and creates them at start. Migrations are named and applied once,
 * under an advisory lock so replicas starting together do not race.
 */
export interface Migration {
  readonly id: string;
  readonly sql: string;
}

export async function migrate(pool: Pool, owner: string, migrations: readonly Migration[]): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('schedstack_migrations'))`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (owner text NOT NULL, id text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (owner, id))`,
    );
    const { rows } = await client.query<{ id: string }>(`SELECT id FROM schema_migrations WHERE owner = $1`, [owner]);
    const applied = new Set(rows.map((r) => r.id));
    for (const migration of migrations) {
      if (applied.has(migration.id)) continue;
      await client.query(migration.sql);
      await client.query(`INSERT INTO schema_migrations (owner, id) VALUES ($1, $2)`, [owner, migration.id]);
    }
  });
}
