import { type DeliveryView, type Environment, type EventDataMap, parseStreamName } from '@schedstack/contracts';
import type { RecordedEvent } from '@schedstack/event-store';
import { type Migration, type ProjectionDefinition, TRACE_CONTEXT_FIELD } from '@schedstack/platform';
import type { PoolClient } from 'pg';
import { lockedPending } from './due-fires';

export const DISPATCHER_MIGRATIONS: readonly Migration[] = [
  {
    id: '001_due_fires_and_deliveries',
    sql: `CREATE TABLE dsp_due_fires (
            id bigserial PRIMARY KEY,
            delivery_id text NOT NULL,
            attempt integer NOT NULL,
            project_id text NOT NULL,
            environment text NOT NULL,
            schedule_id text NOT NULL,
            fire_at timestamptz NOT NULL,
            fire_kind text NOT NULL,
            request jsonb NOT NULL,
            state text NOT NULL DEFAULT 'pending',
            lease_owner text,
            lease_until timestamptz,
            claims integer NOT NULL DEFAULT 0,
            UNIQUE (delivery_id, attempt));
          CREATE INDEX dsp_due_fires_pending ON dsp_due_fires (fire_at) WHERE state = 'pending';
          CREATE TABLE dsp_deliveries (
            project_id text NOT NULL,
            environment text NOT NULL,
            id text NOT NULL,
            schedule_id text NOT NULL,
            state text NOT NULL,
            request jsonb NOT NULL,
            view jsonb NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (project_id, environment, id));
          CREATE INDEX dsp_deliveries_list ON dsp_deliveries (project_id, environment, created_at DESC, id DESC);`,
  },
  {
    // scheduled_for: a deferral moves fire_at but the attempt still reports when it was due.
    // round_attempt: the attempt number within the current round, which a replay restarts at 1.
    id: '002_policies_deferrals_replays_signing',
    sql: `ALTER TABLE dsp_due_fires
            ADD COLUMN scheduled_for timestamptz,
            ADD COLUMN round_attempt integer NOT NULL DEFAULT 1,
            ADD COLUMN deferred_kind text,
            ADD COLUMN policy jsonb;
          UPDATE dsp_due_fires SET scheduled_for = fire_at;
          ALTER TABLE dsp_due_fires ALTER COLUMN scheduled_for SET NOT NULL;
          CREATE INDEX dsp_due_fires_by_schedule ON dsp_due_fires (project_id, environment, schedule_id) WHERE state = 'pending';
          ALTER TABLE dsp_deliveries ADD COLUMN policy jsonb;
          CREATE INDEX dsp_deliveries_by_state ON dsp_deliveries (project_id, environment, state, created_at DESC, id DESC);
          CREATE TABLE dsp_signing_secrets (
            project_id text NOT NULL,
            environment text NOT NULL,
            secret text NOT NULL,
            previous_secret text,
            previous_expires_at timestamptz,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (project_id, environment));
          CREATE TABLE dsp_rate_buckets (key text PRIMARY KEY, tat_ms double precision);`,
  },
  {
    // Platform webhooks (SPEC §6): a fire may carry its own sealed secret (its endpoint's); for
    // those rows schedule_id holds the endpoint id. dsp_attempts: one row per attempt, for the SLO.
    id: '003_webhook_fires_and_attempts',
    sql: `ALTER TABLE dsp_due_fires ADD COLUMN webhook_endpoint_id text, ADD COLUMN signing_secret text;
          ALTER TABLE dsp_deliveries ADD COLUMN webhook_endpoint_id text, ADD COLUMN signing_secret text;
          CREATE INDEX dsp_due_fires_by_endpoint ON dsp_due_fires (webhook_endpoint_id) WHERE state = 'pending' AND webhook_endpoint_id IS NOT NULL;
          CREATE INDEX dsp_deliveries_by_endpoint ON dsp_deliveries (project_id, environment, webhook_endpoint_id, created_at DESC, id DESC);
          CREATE TABLE dsp_attempts (
            project_id text NOT NULL,
            environment text NOT NULL,
            delivery_id text NOT NULL,
            n integer NOT NULL,
            fire_kind text NOT NULL,
            fired_at timestamptz NOT NULL,
            lag_ms double precision NOT NULL,
            PRIMARY KEY (project_id, environment, delivery_id, n));
          CREATE INDEX dsp_attempts_window ON dsp_attempts (project_id, environment, fired_at);
          INSERT INTO dsp_attempts (project_id, environment, delivery_id, n, fire_kind, fired_at, lag_ms)
          SELECT d.project_id, d.environment, d.id, (a->>'n')::int, a->>'fire_kind', (a->>'fired_at')::timestamptz,
                 greatest(0, extract(epoch FROM (a->>'fired_at')::timestamptz - (a->>'scheduled_for')::timestamptz) * 1000)
            FROM dsp_deliveries d, jsonb_array_elements(d.view->'attempts') a
          ON CONFLICT DO NOTHING;`,
  },
  {
    // SPEC §7: the trace of the request that planned a fire, so its dispatch span joins that trace.
    id: '004_due_fire_trace',
    sql: `ALTER TABLE dsp_due_fires ADD COLUMN trace jsonb`,
  },
  {
    // Issue #9: room on each page for the new version a claim writes (lease columns, in no index),
    // so the claim is a heap-only update: no entry in the table's five indexes, a fraction of the
    // WAL. Packed full, every claimed fire moved to a new page and was indexed again.
    id: '005_due_fire_room_for_leases',
    sql: `ALTER TABLE dsp_due_fires SET (fillfactor = 50)`,
  },
];

export interface DispatcherProjectionHooks {
  /**
   * Due fires a pause or cancel just withdrew. The engine drops any it has armed at once; a fire
   * armed by another replica is dropped by that replica's next lease check.
   */
  readonly onWithdrawn?: (fireIds: readonly string[]) => void;
}

/**
 * The dispatcher's own state, projected from events: the due fires it must send (fires planned by
 * the schedules service, retries from `delivery.attempted`, replays) and the deliveries read model.
 * Pausing or canceling a schedule withdraws its pending fires, claimed ones included.
 */
export function createDispatcherProjection(hooks: DispatcherProjectionHooks = {}): ProjectionDefinition {
  const projection: ProjectionDefinition = {
    name: 'dispatcher.due-fires',
    types: [
      'schedule.fire_planned',
      'schedule.paused',
      'schedule.canceled',
      'delivery.attempted',
      'delivery.replay_requested',
      'webhook.delivery_planned',
      'webhook_endpoint.secret_rotated',
      'webhook_endpoint.deleted',
    ],
    async apply(client: PoolClient, event: RecordedEvent) {
      const parsed = parseStreamName(event.streamName);
      if (!parsed) return;
      const { projectId, environment } = parsed.scope;
      switch (event.type) {
        case 'schedule.fire_planned': {
          const data = event.data as EventDataMap['schedule.fire_planned'];
          const view = plannedDeliveryView(event, environment);
          await client.query(
            `INSERT INTO dsp_deliveries (project_id, environment, id, schedule_id, state, request, policy, view, created_at)
             VALUES ($1, $2, $3, $4, 'scheduled', $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
            [projectId, environment, data.delivery_id, data.schedule_id, data.request, data.policy ?? null, view, view.created_at],
          );
          await client.query(
            `INSERT INTO dsp_due_fires (delivery_id, attempt, project_id, environment, schedule_id, fire_at, scheduled_for, fire_kind, request, policy, trace)
             VALUES ($1, 1, $2, $3, $4, $5, $5, $6, $7, $8, $9) ON CONFLICT (delivery_id, attempt) DO NOTHING`,
            [data.delivery_id, projectId, environment, data.schedule_id, data.fire_at, data.fire_kind, data.request, data.policy ?? null, event.metadata[TRACE_CONTEXT_FIELD] ?? null],
          );
          return;
        }
        case 'webhook.delivery_planned': {
          const data = event.data as EventDataMap['webhook.delivery_planned'];
          const view: DeliveryView = {
            id: data.delivery_id,
            object: 'delivery',
            mode: environment,
            schedule: null,
            state: 'scheduled',
            fire_kind: 'first',
            scheduled_for: data.fire_at,
            next_attempt_at: data.fire_at,
            attempts: [],
            created_at: event.createdAt.toISOString(),
            webhook_endpoint: data.endpoint_id,
          };
          await client.query(
            `INSERT INTO dsp_deliveries (project_id, environment, id, schedule_id, state, request, view, created_at, webhook_endpoint_id, signing_secret)
             VALUES ($1, $2, $3, $4, 'scheduled', $5, $6, $7, $4, $8) ON CONFLICT DO NOTHING`,
            [projectId, environment, data.delivery_id, data.endpoint_id, data.request, view, view.created_at, data.secret],
          );
          await client.query(
            `INSERT INTO dsp_due_fires (delivery_id, attempt, project_id, environment, schedule_id, fire_at, scheduled_for, fire_kind, request, webhook_endpoint_id, signing_secret)
             VALUES ($1, 1, $2, $3, $4, $5, $5, 'first', $6, $4, $7) ON CONFLICT (delivery_id, attempt) DO NOTHING`,
            [data.delivery_id, projectId, environment, data.endpoint_id, data.fire_at, data.request, data.secret],
          );
          return;
        }
        case 'webhook_endpoint.secret_rotated': {
          // Every later attempt, retries and replays included, signs with the endpoint's new secret.
          const data = event.data as EventDataMap['webhook_endpoint.secret_rotated'];
          for (const table of ['dsp_due_fires', 'dsp_deliveries']) {
            await client.query(`UPDATE ${table} SET signing_secret = $4 WHERE project_id = $1 AND environment = $2 AND webhook_endpoint_id = $3`, [
              projectId,
              environment,
              data.endpoint_id,
              data.secret,
            ]);
          }
          return;
        }
        case 'webhook_endpoint.deleted':
        case 'schedule.paused':
        case 'schedule.canceled': {
          // A deleted endpoint's pending webhook deliveries stop, like a canceled schedule's fires.
          const ownerId = event.type === 'webhook_endpoint.deleted' ? (event.data as EventDataMap['webhook_endpoint.deleted']).endpoint_id : (event.data as EventDataMap['schedule.canceled']).schedule_id;
          const data = { schedule_id: ownerId };
          const { rows } = await client.query<{ id: string }>(
            `UPDATE dsp_due_fires SET state = 'canceled'
              WHERE project_id = $1 AND environment = $2 AND schedule_id = $3 AND state = 'pending' RETURNING id`,
            [projectId, environment, data.schedule_id],
          );
          await client.query(
            `UPDATE dsp_deliveries SET state = 'canceled', view = view || '{"state":"canceled","next_attempt_at":null}'
              WHERE project_id = $1 AND environment = $2 AND schedule_id = $3 AND state IN ('scheduled', 'retrying')`,
            [projectId, environment, data.schedule_id],
          );
          if (rows.length > 0) hooks.onWithdrawn?.(rows.map((r) => r.id));
          return;
        }
        case 'delivery.attempted': {
          const data = event.data as EventDataMap['delivery.attempted'];
          // An attempt that was in flight when its schedule was paused does not bring retries back.
          const { rows } = await client.query<{ state: string }>(
            `UPDATE dsp_deliveries d
                SET state = s.state,
                    view = jsonb_set(d.view || jsonb_build_object('state', s.state, 'next_attempt_at', CASE WHEN s.state = 'retrying' THEN $6 END),
                                     '{attempts}', (d.view->'attempts') || $5::jsonb)
               FROM (SELECT CASE WHEN state = 'canceled' AND $4 = 'retrying' THEN 'canceled' ELSE $4 END AS state
                       FROM dsp_deliveries WHERE project_id = $1 AND environment = $2 AND id = $3) s
              WHERE d.project_id = $1 AND d.environment = $2 AND d.id = $3
              RETURNING d.state`,
            [projectId, environment, data.delivery_id, data.state, JSON.stringify([data.attempt]), data.next_attempt_at],
          );
          const lagMs = Math.max(0, new Date(data.attempt.fired_at).getTime() - new Date(data.attempt.scheduled_for).getTime());
          await client.query(
            `INSERT INTO dsp_attempts (project_id, environment, delivery_id, n, fire_kind, fired_at, lag_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
            [projectId, environment, data.delivery_id, data.attempt.n, data.attempt.fire_kind, data.attempt.fired_at, lagMs],
          );
          if (rows[0]?.state === 'retrying' && data.next_attempt_at) {
            await client.query(
              `INSERT INTO dsp_due_fires (delivery_id, attempt, round_attempt, project_id, environment, schedule_id, fire_at, scheduled_for, fire_kind, request, policy,
                                          webhook_endpoint_id, signing_secret)
               SELECT delivery_id, $2::int + 1, round_attempt + 1, project_id, environment, schedule_id, $3, $3, 'retry', request, policy,
                      webhook_endpoint_id, signing_secret
                 FROM dsp_due_fires WHERE delivery_id = $1 AND attempt = $2
               ON CONFLICT (delivery_id, attempt) DO NOTHING`,
              [data.delivery_id, data.attempt.n, data.next_attempt_at],
            );
          }
          // The engine finishes it too (batched); this makes it certain even if that write was lost.
          await client.query(`DELETE FROM dsp_due_fires WHERE id = ANY(${lockedPending('dsp_due_fires f', 'f.delivery_id = $1 AND f.attempt = $2', { anyState: true })})`, [
            data.delivery_id,
            data.attempt.n,
          ]);
          return;
        }
        case 'delivery.replay_requested': {
          const data = event.data as EventDataMap['delivery.replay_requested'];
          const { rows } = await client.query<{ request: unknown; policy: unknown; webhook_endpoint_id: string | null; signing_secret: string | null }>(
            `UPDATE dsp_deliveries SET state = 'scheduled', view = view || jsonb_build_object('state', 'scheduled', 'next_attempt_at', $4::text)
              WHERE project_id = $1 AND environment = $2 AND id = $3 RETURNING request, policy, webhook_endpoint_id, signing_secret`,
            [projectId, environment, data.delivery_id, data.replay_at],
          );
          if (!rows[0]) return;
          await client.query(
            `INSERT INTO dsp_due_fires (delivery_id, attempt, round_attempt, project_id, environment, schedule_id, fire_at, scheduled_for, fire_kind, request, policy,
                                        webhook_endpoint_id, signing_secret)
             VALUES ($1, $2, 1, $3, $4, $5, $6, $6, 'replay', $7, $8, $9, $10) ON CONFLICT (delivery_id, attempt) DO NOTHING`,
            [data.delivery_id, data.attempt, projectId, environment, data.schedule_id, data.replay_at, rows[0].request, rows[0].policy, rows[0].webhook_endpoint_id, rows[0].signing_secret],
          );
          return;
        }
      }
    },
    /**
     * A burst (issue #9): consecutive planned fires become two multi-row inserts and consecutive
     * attempts four statements, whatever their number; anything else goes through `apply`.
     */
    async applyBatch(client: PoolClient, events: readonly RecordedEvent[]) {
      let run: RecordedEvent[] = [];
      const deliveries = new Set<string>();
      const flush = async () => {
        if (run.length === 0) return;
        if (run[0].type === 'schedule.fire_planned') await insertPlannedFires(client, run);
        else await recordAttempts(client, run);
        run = [];
        deliveries.clear();
      };
      for (const event of events) {
        const batchable = (event.type === 'schedule.fire_planned' || event.type === 'delivery.attempted') && parseStreamName(event.streamName) !== null;
        const deliveryId = batchable ? (event.data as { delivery_id: string }).delivery_id : '';
        // A run holds one type and each delivery once, so one statement per table keeps the per-event result.
        if (!batchable || (run.length > 0 && run[0].type !== event.type) || deliveries.has(deliveryId)) await flush();
        if (!batchable) {
          await projection.apply(client, event);
          continue;
        }
        run.push(event);
        deliveries.add(deliveryId);
      }
      await flush();
    },
  };
  return projection;
}

/** The delivery a `schedule.fire_planned` creates, as the API shows it until its first attempt. */
function plannedDeliveryView(event: RecordedEvent, environment: Environment): DeliveryView {
  const data = event.data as EventDataMap['schedule.fire_planned'];
  return {
    id: data.delivery_id,
    object: 'delivery',
    mode: environment,
    schedule: data.schedule_id,
    state: 'scheduled',
    fire_kind: data.fire_kind,
    scheduled_for: data.fire_at,
    next_attempt_at: data.fire_at,
    attempts: [],
    created_at: event.createdAt.toISOString(),
  };
}

/** `schedule.fire_planned` events as rows: the delivery (scheduled) and its first due fire. */
async function insertPlannedFires(client: PoolClient, events: readonly RecordedEvent[]): Promise<void> {
  const rows = events.map((event, ord) => {
    const { projectId, environment } = (parseStreamName(event.streamName) as NonNullable<ReturnType<typeof parseStreamName>>).scope;
    const data = event.data as EventDataMap['schedule.fire_planned'];
    const view = plannedDeliveryView(event, environment);
    return {
      ord,
      project_id: projectId,
      environment,
      delivery_id: data.delivery_id,
      schedule_id: data.schedule_id,
      fire_at: data.fire_at,
      fire_kind: data.fire_kind,
      request: data.request,
      policy: data.policy ?? null,
      view,
      created_at: view.created_at,
      trace: event.metadata[TRACE_CONTEXT_FIELD] ?? null,
    };
  });
  const recordset = `jsonb_to_recordset($1::jsonb) AS x(ord int, project_id text, environment text, delivery_id text, schedule_id text, fire_at timestamptz,
                     fire_kind text, request jsonb, policy jsonb, view jsonb, created_at timestamptz, trace jsonb)`;
  const payload = [JSON.stringify(rows)];
  await client.query(
    `INSERT INTO dsp_deliveries (project_id, environment, id, schedule_id, state, request, policy, view, created_at)
     SELECT project_id, environment, delivery_id, schedule_id, 'scheduled', request, policy, view, created_at FROM ${recordset} ORDER BY ord
     ON CONFLICT DO NOTHING`,
    payload,
  );
  await client.query(
    `INSERT INTO dsp_due_fires (delivery_id, attempt, project_id, environment, schedule_id, fire_at, scheduled_for, fire_kind, request, policy, trace)
     SELECT delivery_id, 1, project_id, environment, schedule_id, fire_at, fire_at, fire_kind, request, policy, trace FROM ${recordset} ORDER BY ord
     ON CONFLICT (delivery_id, attempt) DO NOTHING`,
    payload,
  );
}

/** `delivery.attempted` events of distinct deliveries, as `apply` records each one, in four statements. */
async function recordAttempts(client: PoolClient, events: readonly RecordedEvent[]): Promise<void> {
  const rows = events.map((event) => {
    const { projectId, environment } = (parseStreamName(event.streamName) as NonNullable<ReturnType<typeof parseStreamName>>).scope;
    const data = event.data as EventDataMap['delivery.attempted'];
    return {
      project_id: projectId,
      environment,
      delivery_id: data.delivery_id,
      n: data.attempt.n,
      state: data.state,
      attempt: data.attempt,
      next_attempt_at: data.next_attempt_at,
      fire_kind: data.attempt.fire_kind,
      fired_at: data.attempt.fired_at,
      lag_ms: Math.max(0, new Date(data.attempt.fired_at).getTime() - new Date(data.attempt.scheduled_for).getTime()),
    };
  });
  const recordset = `jsonb_to_recordset($1::jsonb) AS x(project_id text, environment text, delivery_id text, n int, state text, attempt jsonb,
                     next_attempt_at text, fire_kind text, fired_at timestamptz, lag_ms double precision)`;
  const payload = [JSON.stringify(rows)];
  // An attempt that was in flight when its schedule was paused does not bring retries back. `d.state`
  // is the row's state before this update (each delivery is once in a run), read without a second join.
  const newState = `CASE WHEN d.state = 'canceled' AND x.state = 'retrying' THEN 'canceled' ELSE x.state END`;
  const { rows: states } = await client.query<{ id: string; state: string }>(
    `UPDATE dsp_deliveries d
        SET state = ${newState},
            view = jsonb_set(d.view || jsonb_build_object('state', ${newState}, 'next_attempt_at', CASE WHEN ${newState} = 'retrying' THEN x.next_attempt_at END),
                             '{attempts}', (d.view->'attempts') || jsonb_build_array(x.attempt))
       FROM ${recordset}
      WHERE d.project_id = x.project_id AND d.environment = x.environment AND d.id = x.delivery_id
      RETURNING d.id, d.state`,
    payload,
  );
  await client.query(
    `INSERT INTO dsp_attempts (project_id, environment, delivery_id, n, fire_kind, fired_at, lag_ms)
     SELECT project_id, environment, delivery_id, n, fire_kind, fired_at, lag_ms FROM ${recordset} ON CONFLICT DO NOTHING`,
    payload,
  );
  const retrying = new Set(states.filter((r) => r.state === 'retrying').map((r) => r.id));
  const retries = rows.filter((r) => retrying.has(r.delivery_id) && r.next_attempt_at);
  if (retries.length > 0) {
    await client.query(
      `INSERT INTO dsp_due_fires (delivery_id, attempt, round_attempt, project_id, environment, schedule_id, fire_at, scheduled_for, fire_kind, request, policy,
                                  webhook_endpoint_id, signing_secret)
       SELECT f.delivery_id, x.n + 1, f.round_attempt + 1, f.project_id, f.environment, f.schedule_id, x.next_attempt_at::timestamptz, x.next_attempt_at::timestamptz,
              'retry', f.request, f.policy, f.webhook_endpoint_id, f.signing_secret
         FROM ${recordset} JOIN dsp_due_fires f ON f.delivery_id = x.delivery_id AND f.attempt = x.n
       ON CONFLICT (delivery_id, attempt) DO NOTHING`,
      [JSON.stringify(retries)],
    );
  }
  // The engine finishes them too (batched); this makes it certain even if that write was lost.
  await client.query(
    `DELETE FROM dsp_due_fires
      WHERE id = ANY(${lockedPending(`dsp_due_fires f JOIN ${recordset} ON f.delivery_id = x.delivery_id AND f.attempt = x.n`, 'true', { anyState: true })})`,
    payload,
  );
}

/** The signing secrets the engine signs with, joined to each fire it claims (sealed, as stored). */
export const signingSecretsProjection: ProjectionDefinition = {
  name: 'dispatcher.signing-secrets',
  types: ['signing_secret.created', 'signing_secret.rotated'],
  async apply(client: PoolClient, event: RecordedEvent) {
    const parsed = parseStreamName(event.streamName);
    if (!parsed) return;
    const { projectId, environment } = parsed.scope;
    let row: [string, string | null, string | null, string];
    if (event.type === 'signing_secret.created') {
      const data = event.data as EventDataMap['signing_secret.created'];
      row = [data.secret, null, null, data.created_at];
    } else {
      const data = event.data as EventDataMap['signing_secret.rotated'];
      row = [data.secret, data.previous_secret, data.previous_expires_at, data.rotated_at];
    }
    await client.query(
      `INSERT INTO dsp_signing_secrets (project_id, environment, secret, previous_secret, previous_expires_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (project_id, environment) DO UPDATE
         SET secret = $3, previous_secret = $4, previous_expires_at = $5, created_at = $6`,
      [projectId, environment, ...row],
    );
  },
};
