import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { type ApiErrorBody, GroupCommit, type Scope } from '@schedstack/contracts';
import { type Migration, migrate, PG_POOL } from '@schedstack/platform';
import type { Pool } from 'pg';

/** SPEC §3: idempotency records are kept at least this long. */
export const IDEMPOTENCY_RETENTION_HOURS = 24;
/** A claim whose request has not finished after this long is presumed dead (its gateway crashed). */
export const STALE_CLAIM_SECONDS = 60;
const SWEEP_EVERY_MS = 10 * 60_000;
const SWEEP_BATCH = 500;

export const IDEMPOTENCY_MIGRATIONS: readonly Migration[] = [
  {
    id: '001_gw_idempotency',
    // `response` is text, not jsonb, so a replay returns the original bytes in the original key order.
    sql: `CREATE TABLE gw_idempotency (
            project_id text NOT NULL,
            environment text NOT NULL,
            key text NOT NULL,
            fingerprint text NOT NULL,
            status integer,
            response text,
            created_at timestamptz NOT NULL DEFAULT now(),
            claimed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (project_id, environment, key));
          CREATE INDEX gw_idempotency_created ON gw_idempotency (created_at);`,
  },
  {
    // A released key is kept, not deleted, so its retry continues the same generation (see claim).
    id: '002_gw_idempotency_released',
    sql: `ALTER TABLE gw_idempotency ADD COLUMN released boolean NOT NULL DEFAULT false`,
  },
];

/** Concurrent claims (or completions) written together in one statement (issue #9), and how many such statements at once. */
const GROUP_MAX = 100;
const GROUP_WRITERS = 2;

interface KeyRef {
  readonly scope: Scope;
  readonly key: string;
}
const rowKey = (projectId: string, environment: string, key: string) => `${projectId}\u0000${environment}\u0000${key}`;
/** Text as PostgreSQL gives it back (UTF-8 turns a lone surrogate into U+FFFD), so rows map back to their requests. */
const asStored = (text: string) => Buffer.from(text, 'utf8').toString('utf8');
const refKey = ({ scope, key }: KeyRef) => rowKey(scope.projectId, scope.environment, asStored(key));
/** The (project, environment, key) columns of a group as three arrays, for `unnest`. */
const keyColumns = (refs: readonly KeyRef[]) => [refs.map((r) => r.scope.projectId), refs.map((r) => r.scope.environment), refs.map((r) => r.key)];

/** What a stored request ended with: a success body, or an error to render again. */
export type StoredResponse = { readonly status: number; readonly body: unknown } | { readonly status: number; readonly error: ApiErrorBody };

export type ClaimOutcome =
  /**
   * `generation` names this use of the key: the same while the record lives (a retry after a
   * release or a dead claim continues it), new once the record has expired and the key starts afresh.
   */
  | { readonly kind: 'claimed'; readonly generation: string }
  | { readonly kind: 'replay'; readonly response: StoredResponse }
  | { readonly kind: 'mismatch' }
  | { readonly kind: 'in_progress' };

/**
 * The gateway's idempotency records (SPEC §3), scoped by (project, environment, key). The first
 * request claims the key with an INSERT that only one concurrent request can win; the others
 * find the claim and either replay its stored response or wait for it. Claims and completions
 * arriving together are written together (group commit: on a busy gateway these two statements
 * cost PostgreSQL more than the create itself); requests for one key still go one after the other.
 */
@Injectable()
export class IdempotencyStore implements OnModuleInit {
  private readonly logger = new Logger('idempotency');
  private lastSweep = 0;
  private readonly claims = new GroupCommit<KeyRef & { readonly fingerprint: string }, ClaimOutcome>((group) => this.claimAll(group), {
    writers: GROUP_WRITERS,
    maxBatch: GROUP_MAX,
    keyOf: refKey,
  });
  private readonly completions = new GroupCommit<KeyRef & { readonly response: StoredResponse }, void>((group) => this.completeAll(group), {
    writers: GROUP_WRITERS,
    maxBatch: GROUP_MAX,
    keyOf: refKey,
  });

  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  onModuleInit(): Promise<void> {
    return migrate(this.pool, 'gateway', IDEMPOTENCY_MIGRATIONS);
  }

  claim(scope: Scope, key: string, fingerprint: string): Promise<ClaimOutcome> {
    this.sweepExpired();
    return this.claims.submit({ scope, key, fingerprint });
  }

  complete(scope: Scope, key: string, response: StoredResponse): Promise<void> {
    return this.completions.submit({ scope, key, response });
  }

  private async claimAll(group: readonly (KeyRef & { readonly fingerprint: string })[]): Promise<ClaimOutcome[]> {
    // Takes a key when it is new, expired, released, or held by a dead claim for the same request.
    // Only expiry starts a new generation (created_at); a release or a dead claim continues it.
    const claimed = await this.pool.query<{ project_id: string; environment: string; key: string; generation: string }>(
      `INSERT INTO gw_idempotency (project_id, environment, key, fingerprint)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS v(project_id, environment, key, fingerprint)
        ORDER BY project_id, environment, key
       ON CONFLICT (project_id, environment, key) DO UPDATE
          SET fingerprint = EXCLUDED.fingerprint, status = NULL, response = NULL, released = false, claimed_at = now(),
              created_at = CASE WHEN gw_idempotency.created_at < now() - make_interval(hours => $5) THEN now() ELSE gw_idempotency.created_at END
        WHERE gw_idempotency.created_at < now() - make_interval(hours => $5)
           OR gw_idempotency.released
           OR (gw_idempotency.status IS NULL AND gw_idempotency.fingerprint = EXCLUDED.fingerprint
               AND gw_idempotency.claimed_at < now() - make_interval(secs => $6))
       RETURNING project_id, environment, key, (extract(epoch FROM created_at) * 1000000)::bigint::text AS generation`,
      [...keyColumns(group), group.map((g) => g.fingerprint), IDEMPOTENCY_RETENTION_HOURS, STALE_CLAIM_SECONDS],
    );
    const generations = new Map(claimed.rows.map((r) => [rowKey(r.project_id, r.environment, r.key), r.generation]));
    const held = group.filter((g) => !generations.has(refKey(g)));
    // The claims above are committed: should this read fail, the keys it was for count as still in
    // progress (their callers ask again), and the keys taken are answered as taken — a failure
    // here must not fail the whole group, whose keys would then be found held by itself.
    const rows = held.length
      ? await this.pool
          .query<{ project_id: string; environment: string; key: string; fingerprint: string; status: number | null; response: string | null }>(
            `SELECT project_id, environment, key, fingerprint, status, response FROM gw_idempotency
              WHERE (project_id, environment, key) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))`,
            keyColumns(held),
          )
          .then(
            (result) => result.rows,
            (error: unknown) => {
              this.logger.warn(`reading ${held.length} held idempotency keys failed; their requests ask again: ${(error as Error).message}`);
              return [];
            },
          )
      : [];
    const records = new Map(rows.map((r) => [rowKey(r.project_id, r.environment, r.key), r]));
    return group.map((g): ClaimOutcome => {
      const generation = generations.get(refKey(g));
      if (generation !== undefined) return { kind: 'claimed', generation };
      const row = records.get(refKey(g));
      // Released between the two statements (or not read): the caller simply tries again.
      if (!row) return { kind: 'in_progress' };
      if (row.fingerprint !== g.fingerprint) return { kind: 'mismatch' };
      if (row.status === null || row.response === null) return { kind: 'in_progress' };
      return { kind: 'replay', response: JSON.parse(row.response) as StoredResponse };
    });
  }

  private async completeAll(group: readonly (KeyRef & { readonly response: StoredResponse })[]): Promise<void[]> {
    // Rows are locked in key order, as the claims take them: two groups sharing keys (a completion
    // and a duplicate's claim of the same key) wait for each other instead of deadlocking.
    await this.pool.query(
      `WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[]) AS v(project_id, environment, key, status, response)),
            locked AS MATERIALIZED (
              SELECT g.project_id, g.environment, g.key FROM gw_idempotency g JOIN v USING (project_id, environment, key)
               ORDER BY g.project_id, g.environment, g.key FOR UPDATE OF g)
       UPDATE gw_idempotency AS g SET status = v.status, response = v.response
         FROM v JOIN locked USING (project_id, environment, key)
        WHERE g.project_id = v.project_id AND g.environment = v.environment AND g.key = v.key`,
      [...keyColumns(group), group.map((g) => g.response.status), group.map((g) => JSON.stringify(g.response))],
    );
    return group.map(() => undefined);
  }

  /**
   * Gives the key back when the request wrote nothing worth replaying (or its outcome is unknown),
   * so a retry runs again — in the same generation, so a create finds what it may have committed.
   */
  async release(scope: Scope, key: string): Promise<void> {
    await this.pool.query(`UPDATE gw_idempotency SET released = true WHERE project_id = $1 AND environment = $2 AND key = $3 AND status IS NULL`, [
      scope.projectId,
      scope.environment,
      key,
    ]);
  }

  /**
   * Expired records are removed lazily: at most every 10 minutes, piggybacking on a request, in
   * small batches that skip rows a claim holds — one long DELETE would hold up every claim that
   * waits on one of its rows, and with them the claims grouped behind (issue #9).
   */
  private sweepExpired(): void {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = Date.now();
    void this.sweepBatches().catch((error) => this.logger.warn(`sweeping expired idempotency keys failed: ${(error as Error).message}`));
  }

  private async sweepBatches(): Promise<void> {
    for (;;) {
      const { rowCount } = await this.pool.query(
        `DELETE FROM gw_idempotency WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM gw_idempotency WHERE created_at < now() - make_interval(hours => $1) LIMIT $2 FOR UPDATE SKIP LOCKED))`,
        [IDEMPOTENCY_RETENTION_HOURS, SWEEP_BATCH],
      );
      if ((rowCount ?? 0) < SWEEP_BATCH) return;
    }
  }
}
