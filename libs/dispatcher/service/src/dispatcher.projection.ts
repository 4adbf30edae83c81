import {
  type DeliveryView,
  type EventDataMap,
  parseStreamName,
} from '@schedstack/contracts';
import type { RecordedEvent } from '@schedstack/event-store';
import type { Migration, ProjectionDefinition } from '@schedstack/platform';
import type { PoolClient } from 'pg';

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
];

/**
 * The dispatcher's own state, projected from events: the due fires it must send (fires planned by
 * the schedules service, retries from `delivery.attempted`) and the deliveries read model.
 * Pausing or canceling a schedule withdraws its pending fires.
 */
export const dispatcherProjection: ProjectionDefinition = {
  name: 'dispatcher.due-fires',
  types: ['schedule.fire_planned', 'schedule.paused', 'schedule.canceled', 'delivery.attempted'],
  async apply(client: PoolClient, event: RecordedEvent) {
    const parsed = parseStreamName(event.streamName);
    if (!parsed) return;
    const { projectId, environment } = parsed.scope;
    switch (event.type) {
      case 'schedule.fire_planned': {
        const data = event.data as EventDataMap['schedule.fire_planned'];
        const deliveryId = data.delivery_id;
        const view: DeliveryView = {
          id: deliveryId,
          object: 'delivery',
          mode: environment,
          schedule: data.schedule_id,
          state: 'scheduled',
          fire_kind: data.fire_kind,
          scheduled_for: data.fire_at,
          attempts: [],
          created_at: event.createdAt.toISOString(),
        };
        await client.query(
          `INSERT INTO dsp_deliveries (project_id, environment, id, schedule_id, state, request, view, created_at)
           VALUES ($1, $2, $3, $4, 'scheduled', $5, $6, $7) ON CONFLICT DO NOTHING`,
          [projectId, environment, deliveryId, data.schedule_id, data.request, view, view.created_at],
        );
        await client.query(
          `INSERT INTO dsp_due_fires (delivery_id, attempt, project_id, environment, schedule_id, fire_at, fire_kind, request)
           VALUES ($1, 1, $2, $3, $4, $5, $6, $7) ON CONFLICT (delivery_id, attempt) DO NOTHING`,
          [deliveryId, projectId, environment, data.schedule_id, data.fire_at, data.fire_kind, data.request],
        );
        return;
      }
      case 'schedule.paused':
      case 'schedule.canceled': {
        const data = event.data as EventDataMap['schedule.canceled'];
        // Pending fires are withdrawn; the engine re-checks the state before it sends a claimed one.
        await client.query(
          `UPDATE dsp_due_fires SET state = 'canceled' WHERE project_id = $1 AND environment = $2 AND schedule_id = $3 AND state = 'pending'`,
          [projectId, environment, data.schedule_id],
        );
        await client.query(
          `UPDATE dsp_deliveries SET state = 'canceled', view = view || '{"state":"canceled"}'
           WHERE project_id = $1 AND environment = $2 AND schedule_id = $3 AND state IN ('scheduled', 'retrying')`,
          [projectId, environment, data.schedule_id],
        );
        return;
      }
      case 'delivery.attempted': {
        const data = event.data as EventDataMap['delivery.attempted'];
        const { rows } = await client.query<{ request: unknown }>(
          `UPDATE dsp_deliveries
              SET state = $4,
                  view = jsonb_set(view || jsonb_build_object('state', $4::text), '{attempts}', (view->'attempts') || $5::jsonb)
            WHERE project_id = $1 AND environment = $2 AND id = $3
            RETURNING request`,
          [projectId, environment, data.delivery_id, data.state, JSON.stringify([data.attempt])],
        );
        if (data.state === 'retrying' && data.next_attempt_at && rows[0]) {
          await client.query(
            `INSERT INTO dsp_due_fires (delivery_id, attempt, project_id, environment, schedule_id, fire_at, fire_kind, request)
             VALUES ($1, $2, $3, $4, $5, $6, 'retry', $7) ON CONFLICT (delivery_id, attempt) DO NOTHING`,
            [data.delivery_id, data.attempt.n + 1, projectId, environment, data.schedule_id, data.next_attempt_at, rows[0].request],
          );
        }
        return;
      }
    }
  },
};
