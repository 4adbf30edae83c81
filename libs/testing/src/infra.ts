import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * Test infrastructure shared by every suite: a fresh PostgreSQL database per suite (on
 * DATABASE_URL, or the embedded server the jest global setup started) and NATS detection.
 */
export function adminDatabaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests through `npm test` (jest global setup starts PostgreSQL)');
  return url;
}

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** Creates an empty database with a unique name, so suites can run in parallel. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const name = `schedstack_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: adminDatabaseUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminDatabaseUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new Client({ connectionString: adminDatabaseUrl() });
      await c.connect();
      try {
        // Connections a closing app is still ending get a moment: FORCE would kill them, and a pg
        // client killed without an error listener fails the suite that has already passed.
        for (let i = 0; i < 30; i++) {
          const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          if (rows[0].n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export const natsUrl = (): string => process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export const natsAvailable = (): boolean => process.env.SCHEDSTACK_NATS_AVAILABLE === '1';

/**
 * `describe` for suites that need real NATS. The global setup probes NATS once: without it these
 * suites are skipped (reason: no NATS server; `npm test` prints their names), and with CI=true the
 * global setup fails the run instead, so CI never passes without running them.
 */
export const describeWithNats: jest.Describe = natsAvailable()
  ? describe
  : // Skipped only when no NATS server is reachable outside CI; see the comment above.
    describe.skip;
