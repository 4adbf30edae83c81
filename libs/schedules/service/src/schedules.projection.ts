import { EVENT_CATALOG, type EventDataMap, parseStreamName, type ScheduleView } from '@schedstack/contracts';
import type { RecordedEvent } from '@schedstack/event-store';
import type { Migration, ProjectionDefinition } from '@schedstack/platform';
import { PLANNING_HORIZON_MS } from '@schedstack/schedules-domain';
import type { PoolClient } from 'pg';
import { createdView } from './schedule.view';

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
  {
    // When the planner should next look at an active schedule (see SchedulePlanner). Schedules
    // created before the planner existed are looked at once, right away.
    id: '002_schedules_plan_at',
    sql: `ALTER TABLE sch_schedules ADD COLUMN plan_at timestamptz;
          UPDATE sch_schedules SET plan_at = now() WHERE state = 'active';
          CREATE INDEX sch_schedules_plan ON sch_schedules (plan_at) WHERE state = 'active';`,
  },
];

const TYPES = Object.entries(EVENT_CATALOG)
  .filter(([, entry]) => entry.aggregate === 'schedule')
  .map(([type]) => type);

/**
 * The schedules read model: one row per schedule holding its API view, plus `plan_at`, when the
 * planner should next look at it: when the last planned fire is due, or when the next fire enters
 * the planning horizon, whichever is first (the decider's planning rule).
 */
export const schedulesProjection: ProjectionDefinition = {
  name: 'schedules.read-model',
  types: TYPES,
  /**
   * Issue #9: a created schedule's two events (`schedule.created`, then its first
   * `schedule.fire_planned`) become one row, and consecutive such pairs one multi-row insert — the
   * row `apply` would leave after both; anything else goes through `apply`.
   */
  async applyBatch(client: PoolClient, events: readonly RecordedEvent[]) {
    // One run at a time, so the rows change in the order of the events.
    let created: RecordedEvent[][] = [];
    let finished: FinishedSchedule[] = [];
    const flush = async () => {
      if (created.length > 0) await insertCreatedSchedules(client, created);
      if (finished.length > 0) await finishSchedules(client, finished);
      [created, finished] = [[], []];
    };
    for (let i = 0; i < events.length; i++) {
      const [event, next] = [events[i], events[i + 1]];
      if (event.type === 'schedule.created' && next?.type === 'schedule.fire_planned' && next.streamName === event.streamName && parseStreamName(event.streamName)) {
        if (finished.length > 0) await flush();
        created.push([event, next]);
        i++;
        continue;
      }
      // Issue #9: a burst of one-off schedules completes together, at their fire time.
      const done = finishedSchedule(event);
      if (done) {
        // (A schedule finishes once; were it to appear twice, the second must win, as in `apply`.)
        if (created.length > 0 || finished.some((f) => f.id === done.id && f.project_id === done.project_id && f.environment === done.environment)) await flush();
        finished.push(done);
        continue;
      }
      await flush();
      await schedulesProjection.apply(client, event);
    }
    await flush();
  },
  async apply(client: PoolClient, event: RecordedEvent) {
    const parsed = parseStreamName(event.streamName);
    if (!parsed) return;
    const key = [parsed.scope.projectId, parsed.scope.environment, parsed.id];
    switch (event.type) {
      case 'schedule.created': {
        const data = event.data as EventDataMap['schedule.created'];
        await client.query(
          `INSERT INTO sch_schedules (project_id, environment, id, view, state, created_at) VALUES ($1, $2, $3, $4, 'active', $5)
           ON CONFLICT DO NOTHING`,
          [...key, createdView(data, parsed.scope.environment), data.created_at],
        );
        return;
      }
      case 'schedule.fire_planned': {
        const data = event.data as EventDataMap['schedule.fire_planned'];
        await client.query(
          `UPDATE sch_schedules
              SET view = view || jsonb_build_object('next_fire_at', $4::text, 'fire_count', COALESCE((view->>'fire_count')::int, 0) + 1),
                  plan_at = LEAST($4::timestamptz, $5::timestamptz - make_interval(secs => $6::float8 / 1000))
            WHERE project_id = $1 AND environment = $2 AND id = $3`,
          [...key, data.fire_at, data.next_fire_at, PLANNING_HORIZON_MS],
        );
        return;
      }
      case 'schedule.paused': {
        const data = event.data as EventDataMap['schedule.paused'];
        await client.query(
          `UPDATE sch_schedules
              SET state = 'paused', plan_at = NULL,
                  view = view || jsonb_build_object('state', 'paused', 'next_fire_at', null, 'fire_count', COALESCE((view->>'fire_count')::int, 0) - $4::int)
            WHERE project_id = $1 AND environment = $2 AND id = $3`,
          [...key, data.withdrawn_fires ?? 0],
        );
        return;
      }
      case 'schedule.resumed': {
        const data = event.data as EventDataMap['schedule.resumed'];
        await client.query(
          `UPDATE sch_schedules SET state = 'active', view = view || jsonb_build_object('state', 'active', 'next_fire_at', $4::text)
            WHERE project_id = $1 AND environment = $2 AND id = $3`,
          [...key, data.next_fire_at],
        );
        return;
      }
      case 'schedule.canceled':
      case 'schedule.completed':
        await finishSchedules(client, [finishedSchedule(event) as FinishedSchedule]);
        return;
    }
  },
};

interface FinishedSchedule {
  readonly project_id: string;
  readonly environment: string;
  readonly id: string;
  readonly state: 'canceled' | 'completed';
}

function finishedSchedule(event: RecordedEvent): FinishedSchedule | null {
  if (event.type !== 'schedule.canceled' && event.type !== 'schedule.completed') return null;
  const parsed = parseStreamName(event.streamName);
  if (!parsed) return null;
  return { project_id: parsed.scope.projectId, environment: parsed.scope.environment, id: parsed.id, state: event.type === 'schedule.canceled' ? 'canceled' : 'completed' };
}

/** Canceled or completed schedules: no more planning, no next fire; any number in one statement. */
async function finishSchedules(client: PoolClient, schedules: readonly FinishedSchedule[]): Promise<void> {
  await client.query(
    `UPDATE sch_schedules s
        SET state = x.state, plan_at = NULL, view = s.view || jsonb_build_object('state', x.state, 'next_fire_at', null)
       FROM jsonb_to_recordset($1::jsonb) AS x(project_id text, environment text, id text, state text)
      WHERE s.project_id = x.project_id AND s.environment = x.environment AND s.id = x.id`,
    [JSON.stringify(schedules)],
  );
}

/** Created-and-planned pairs as the rows `apply` leaves after both events, in one statement. */
async function insertCreatedSchedules(client: PoolClient, pairs: readonly RecordedEvent[][]): Promise<void> {
  const rows = pairs.map(([created, planned], ord) => {
    const { scope, id } = parseStreamName(created.streamName) as NonNullable<ReturnType<typeof parseStreamName>>;
    const data = created.data as EventDataMap['schedule.created'];
    const fire = planned.data as EventDataMap['schedule.fire_planned'];
    const view: ScheduleView = { ...createdView(data, scope.environment), next_fire_at: fire.fire_at, fire_count: 1 };
    return { ord, project_id: scope.projectId, environment: scope.environment, id, view, created_at: data.created_at, fire_at: fire.fire_at, next_fire_at: fire.next_fire_at };
  });
  await client.query(
    `INSERT INTO sch_schedules (project_id, environment, id, view, state, created_at, plan_at)
     SELECT project_id, environment, id, view, 'active', created_at, LEAST(fire_at, next_fire_at - make_interval(secs => $2::float8 / 1000))
       FROM jsonb_to_recordset($1::jsonb) AS x(ord int, project_id text, environment text, id text, view jsonb, created_at timestamptz, fire_at timestamptz, next_fire_at timestamptz)
      ORDER BY ord
     ON CONFLICT DO NOTHING`,
    [JSON.stringify(rows), PLANNING_HORIZON_MS],
  );
}
