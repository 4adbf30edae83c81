import type { ScheduleView } from '@schedstack/contracts';
import { EVENT_CATALOG, parseStreamName } from '@schedstack/contracts';
import type { RecordedEvent } from '@schedstack/event-store';
import type { Migration, ProjectionDefinition } from '@schedstack/platform';
import type { PoolClient } from 'pg';

export const SCHEDULES_MIGRATIONS: readonly Migration[] = [
  {
    id: '001_schedules_read_model',
    sql: `CREATE TABLE sch_schedules (
            project_id text NOT NULL,
            environment text NOT NULL,
            id text NOT NULL,
            view jsonb NOT NULL,
            state text NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (project_id, environment, id));
          CREATE INDEX sch_schedules_list ON sch_schedules (project_id, environment, created_at DESC, id DESC);`,
  },
];

const TYPES = Object.entries(EVENT_CATALOG)
  .filter(([, entry]) => entry.aggregate === 'schedule')
  .map(([type]) => type);

/** The schedules read model: one row per schedule holding its API view. */
export const schedulesProjection: ProjectionDefinition = {
  name: 'schedules.read-model',
  types: TYPES,
  async apply(client: PoolClient, event: RecordedEvent) {
    const parsed = parseStreamName(event.streamName);
    if (!parsed) return;
    const { projectId, environment } = parsed.scope;
    switch (event.type) {
      case 'schedule.created': {
        const data = event.data as import('@schedstack/contracts').EventDataMap['schedule.created'];
        const view: ScheduleView = {
          id: data.schedule_id,
          object: 'schedule',
          mode: environment,
          endpoint: data.request.endpoint,
          method: data.request.method,
          headers: data.request.headers,
          body: data.request.body,
          delay: data.trigger.kind === 'once' ? data.trigger.delay ?? null : null,
          run_at: data.trigger.kind === 'once' ? data.trigger.run_at : null,
          cron: data.trigger.kind === 'cron' ? data.trigger.cron : null,
          timezone: data.trigger.kind === 'cron' ? data.trigger.timezone : null,
          state: 'active',
          next_fire_at: data.next_fire_at,
          created_at: data.created_at,
        };
        await client.query(
          `INSERT INTO sch_schedules (project_id, environment, id, view, state, created_at) VALUES ($1, $2, $3, $4, 'active', $5)
           ON CONFLICT DO NOTHING`,
          [projectId, environment, data.schedule_id, view, data.created_at],
        );
        return;
      }
      case 'schedule.fire_planned': {
        const data = event.data as import('@schedstack/contracts').EventDataMap['schedule.fire_planned'];
        await client.query(
          `UPDATE sch_schedules SET view = jsonb_set(view, '{next_fire_at}', to_jsonb($4::text))
           WHERE project_id = $1 AND environment = $2 AND id = $3 AND state = 'active'`,
          [projectId, environment, parsed.id, data.fire_at],
        );
        return;
      }
      case 'schedule.canceled':
      case 'schedule.completed': {
        const state = event.type === 'schedule.canceled' ? 'canceled' : 'completed';
        await client.query(
          `UPDATE sch_schedules SET state = $4, view = view || jsonb_build_object('state', $4::text, 'next_fire_at', null)
           WHERE project_id = $1 AND environment = $2 AND id = $3`,
          [projectId, environment, parsed.id, state],
        );
        return;
      }
    }
  },
};
