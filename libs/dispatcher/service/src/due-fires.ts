import type { DeliveryPolicy, Environment, FireKind, HttpRequestSpec } from '@schedstack/contracts';
import { reserveSlot } from '@schedstack/dispatcher-domain';
import { inTransaction } from '@schedstack/platform';
import type { Pool } from 'pg';

/** A due fire this dispatcher holds a lease on, with the environment's signing secrets (sealed). */
export interface ClaimedFire {
  readonly id: string;
  readonly delivery_id: string;
  readonly attempt: number;
  /** Attempt number within the current round (a replay starts a new round): what the retry policy counts. */
  readonly round_attempt: number;
  readonly project_id: string;
  readonly environment: Environment;
  readonly schedule_id: string;
  readonly fire_at: Date;
  readonly scheduled_for: Date;
  readonly fire_kind: FireKind;
  readonly deferred_kind: FireKind | null;
  readonly request: HttpRequestSpec;
  readonly policy: DeliveryPolicy | null;
  /** > 1 when an earlier holder's lease expired before it finished: SPEC §4 `reclaim`. */
  readonly claims: number;
  /** What was left of the lease when the claim committed, by the database's clock (which may differ from ours). */
  readonly lease_ms_left: number;
  readonly signing_secret: string | null;
  readonly previous_secret: string | null;
  readonly previous_expires_at: Date | null;
  /** Platform-webhook fires (SPEC §6): the endpoint, and its sealed secret, which signs instead of the environment's. */
  readonly webhook_endpoint_id: string | null;
  readonly own_secret: string | null;
  /** W3C trace carrier of the request that planned the fire (SPEC §7), when it had one. */
  readonly trace: Record<string, string> | null;
}

/** A fire whose attempt is recorded; `retried` when the attempt's outcome plans another. */
export interface FinishedFire {
  readonly id: string;
  readonly retried: boolean;
}

export interface Deferral {
  readonly id: string;
  readonly at: Date;
  readonly kind: Extract<FireKind, 'rate_limited' | 'breaker_deferred'>;
}

/** Mocked fires are never sent, so no limit applies to them (SPEC §5 vendor mocking). */
export function isMocked(fire: Pick<ClaimedFire, 'environment' | 'policy'>): boolean {
  return fire.policy?.vendor === true && fire.environment !== 'live';
}

/** Rate limits and breakers are per origin, within one environment of one project. */
export function originKey(fire: Pick<ClaimedFire, 'project_id' | 'environment' | 'request'>): string {
  let origin: string;
  try {
    origin = new URL(fire.request.endpoint).origin;
  } catch {
    origin = fire.request.endpoint;
  }
  return `${fire.project_id}|${fire.environment}|${origin}`;
}

/**
 * `state = 'pending'` for statements that find fires by key (id, or delivery and attempt), written
 * so the planner cannot use the partial pending index for it: the key's unique index finds the
 * rows. Given the choice, the planner, on statistics from a quieter moment, also read the whole
 * pending index to intersect it with the keys — 18,000 entries and 15 ms per statement in a burst,
 * where the keys alone take well under one (issue #9). `state` is never null, so this is the same test.
 */
export const pendingByKey = (alias?: string): string => `(${alias ? `${alias}.` : ''}state || '') = 'pending'`;

/**
 * An array of the ids of the pending fires `from … where` selects (alias `f`), locked in id order
 * (or, with `skipLocked`, those not locked by another transaction; with `anyState`, finished ones
 * too). The statements that change several due fires by key — finish (recorder and projection),
 * renew, release, defer — take their locks through this, in one order: locking in plan order, the
 * projection and the recorder deadlocked once their plans differed (issue #9). One order per
 * statement is not enough across the projection's batch transaction, which may finish fires in
 * several statements, so the recorder's finish skips locked fires instead of waiting: whoever holds
 * them is finishing or withdrawing them, and the projection's finish is the one that must not miss.
 */
export const lockedPending = (from: string, where: string, options: { skipLocked?: boolean; anyState?: boolean } = {}): string =>
  `ARRAY(SELECT f.id FROM ${from} WHERE ${where}${options.anyState ? '' : ` AND ${pendingByKey('f')}`} ORDER BY f.id FOR UPDATE OF f${options.skipLocked ? ' SKIP LOCKED' : ''})`;

/**
 * The due-fires table as the engine uses it (SPEC §4 leases), every statement in one place.
 * A lease runs until `leaseMs` after the fire is due (or after the claim, for a late fire), so a
 * long look-ahead never eats into it; a holder renews the leases it still needs (DispatchEngine's lease keeper).
 */
export class DueFires {
  constructor(
    private readonly pool: Pool,
    private readonly workerId: string,
    private readonly leaseMs: number,
  ) {}

  /** Claims pending fires due within `lookAheadMs` whose lease is free or expired (FOR UPDATE SKIP LOCKED). */
  async claim(lookAheadMs: number, limit: number): Promise<ClaimedFire[]> {
    const { rows } = await this.pool.query<ClaimedFire>(
      `WITH claimed AS (
         UPDATE dsp_due_fires f
            SET lease_owner = $1, lease_until = greatest(now(), f.fire_at) + make_interval(secs => $2::float8 / 1000), claims = f.claims + 1
          WHERE f.id IN (
            SELECT id FROM dsp_due_fires
             WHERE state = 'pending' AND fire_at <= now() + make_interval(secs => $3::float8 / 1000)
               AND (lease_until IS NULL OR lease_until < now())
             ORDER BY fire_at
             LIMIT $4
             FOR UPDATE SKIP LOCKED)
          RETURNING f.*)
       SELECT c.id, c.delivery_id, c.attempt, c.round_attempt, c.project_id, c.environment, c.schedule_id, c.fire_at, c.scheduled_for,
              c.fire_kind, c.deferred_kind, c.request, c.policy, c.claims, (extract(epoch FROM c.lease_until - now()) * 1000)::float8 AS lease_ms_left,
              c.webhook_endpoint_id, c.signing_secret AS own_secret, c.trace,
              s.secret AS signing_secret, s.previous_secret, s.previous_expires_at
         FROM claimed c
         LEFT JOIN dsp_signing_secrets s ON s.project_id = c.project_id AND s.environment = c.environment
        ORDER BY c.fire_at`,
      [this.workerId, this.leaseMs, lookAheadMs, limit],
    );
    return rows;
  }

  /**
   * SPEC §4 per-origin rate limit, shared by every replica: each claimed fire whose process has a
   * limit reserves its slot in the origin's bucket (one row, locked for the reservation). Fires
   * whose slot is later than their due time are deferred to it (`rate_limited`); the lease is kept
   * on those that will still be armed within the look-ahead window. Returns the new send times.
   */
  async reserveRateSlots(fires: readonly ClaimedFire[], lookAheadMs: number, nowMs: number): Promise<Map<string, Date>> {
    const limited = fires.filter((f) => f.policy?.rate_limit && f.deferred_kind !== 'rate_limited' && !isMocked(f));
    if (limited.length === 0) return new Map();
    return inTransaction(this.pool, async (client) => {
      const keys = [...new Set(limited.map(originKey))].sort();
      await client.query(`INSERT INTO dsp_rate_buckets (key) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, [keys]);
      const { rows } = await client.query<{ key: string; tat_ms: number | null }>(
        `SELECT key, tat_ms FROM dsp_rate_buckets WHERE key = ANY($1) ORDER BY key FOR UPDATE`,
        [keys],
      );
      const buckets = new Map(rows.map((r) => [r.key, r.tat_ms]));
      const deferred = new Map<string, Date>();
      for (const fire of limited) {
        const key = originKey(fire);
        const limit = fire.policy?.rate_limit as NonNullable<DeliveryPolicy['rate_limit']>;
        const slot = reserveSlot(buckets.get(key) ?? null, { requests: limit.requests, perMs: limit.per_ms }, fire.fire_at.getTime());
        buckets.set(key, slot.tatMs);
        if (slot.sendAtMs > fire.fire_at.getTime()) deferred.set(fire.id, new Date(slot.sendAtMs));
      }
      await client.query(
        `UPDATE dsp_rate_buckets b SET tat_ms = v.tat FROM unnest($1::text[], $2::float8[]) AS v(key, tat) WHERE b.key = v.key`,
        [[...buckets.keys()], [...buckets.values()]],
      );
      if (deferred.size > 0) {
        const ids = [...deferred.keys()];
        const at = ids.map((id) => deferred.get(id) as Date);
        const keep = at.map((d) => d.getTime() <= nowMs + lookAheadMs);
        await client.query(
          `UPDATE dsp_due_fires f
              SET fire_at = v.at, deferred_kind = 'rate_limited',
                  lease_owner = CASE WHEN v.keep THEN f.lease_owner END,
                  lease_until = CASE WHEN v.keep THEN greatest(now(), v.at) + make_interval(secs => $4::float8 / 1000) END,
                  claims = CASE WHEN v.keep THEN f.claims ELSE 0 END
             FROM unnest($1::bigint[], $2::timestamptz[], $3::bool[]) AS v(id, at, keep)
            WHERE f.id = v.id AND f.lease_owner = $5`,
          [ids, at, keep, this.leaseMs, this.workerId],
        );
      }
      return deferred;
    });
  }

  /**
   * Finishes fires whose attempt is recorded (batched by the recorder). A fire that will not be
   * retried is deleted: the table holds what is still to be sent (the deliveries view keeps the
   * history), and a delete writes no new row version or index entry. One that will be retried is
   * marked done and kept until the projection has copied its retry from it. Never waits: a fire
   * locked elsewhere is left to the projection, which finishes every recorded attempt's fire anyway.
   */
  async finish(fires: readonly FinishedFire[]): Promise<void> {
    const locked = lockedPending('dsp_due_fires f', 'f.id = ANY($1::bigint[])', { skipLocked: true });
    const gone = fires.filter((f) => !f.retried).map((f) => f.id);
    const retried = fires.filter((f) => f.retried).map((f) => f.id);
    if (gone.length > 0) await this.pool.query(`DELETE FROM dsp_due_fires WHERE id = ANY(${locked})`, [gone]);
    if (retried.length > 0) await this.pool.query(`UPDATE dsp_due_fires SET state = 'done' WHERE id = ANY(${locked})`, [retried]);
  }

  /** Moves held-back fires to their new time and gives up their lease: deferred, never dropped. */
  async defer(deferrals: readonly Deferral[]): Promise<void> {
    if (deferrals.length === 0) return;
    await this.pool.query(
      `UPDATE dsp_due_fires f
          SET fire_at = v.at, deferred_kind = v.kind, lease_owner = NULL, lease_until = NULL, claims = 0
         FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS v(id, at, kind)
        WHERE f.id = v.id AND f.id = ANY(${lockedPending('dsp_due_fires f', 'f.id = ANY($1::bigint[]) AND f.lease_owner = $4')})`,
      [deferrals.map((d) => d.id), deferrals.map((d) => d.at), deferrals.map((d) => d.kind), this.workerId],
    );
  }

  /** Hands armed fires back on a clean shutdown, so another replica need not wait for the lease. */
  async release(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.pool.query(
      `UPDATE dsp_due_fires SET lease_owner = NULL, lease_until = NULL, claims = greatest(claims - 1, 0)
        WHERE id = ANY(${lockedPending('dsp_due_fires f', 'f.id = ANY($1::bigint[]) AND f.lease_owner = $2')})`,
      [ids, this.workerId],
    );
  }

  /** Extends the leases of `ids` to `leaseMs` from now; returns those it extended (the rest are no longer this dispatcher's). */
  async renew(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const { rows } = await this.pool.query<{ id: string }>(
      `UPDATE dsp_due_fires SET lease_until = greatest(lease_until, now() + make_interval(secs => $3::float8 / 1000))
        WHERE id = ANY(${lockedPending('dsp_due_fires f', 'f.id = ANY($1::bigint[]) AND f.lease_owner = $2')}) RETURNING id`,
      [ids, this.workerId, this.leaseMs],
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Of `ids`, those no longer pending under this dispatcher's lease (withdrawn, finished or taken
   * over). Answers with the few lost, not the many held: the check runs several times a second.
   */
  async lost(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<{ id: string }>(
      // A set difference, not an anti-join: with the table's statistics behind its churn, the planner
      // ran that as a scan of the table per id (30 ms for 800 ids).
      `SELECT id::text AS id FROM (
         SELECT x.id FROM unnest($1::bigint[]) AS x(id)
         EXCEPT
         SELECT f.id FROM dsp_due_fires f WHERE f.id = ANY($1::bigint[]) AND ${pendingByKey('f')} AND f.lease_owner = $2
       ) lost`,
      [ids, this.workerId],
    );
    return rows.map((r) => r.id);
  }
}
