import type { Environment, EventDataMap, ScheduleView } from '@schedstack/contracts';
import { DEFAULT_CATCH_UP, DEFAULT_CATCH_UP_WINDOW, type ScheduleEvent } from '@schedstack/schedules-domain';

/**
 * The view of a schedule just created, from the events its creation appended, exactly as the
 * schedules projection stores it (`schedule.created`'s view, then each `schedule.fire_planned`
 * moving `next_fire_at` and counting the fire), so the create can answer without reading it back.
 * schedule.view.spec.ts holds the two to the same bytes.
 */
export function createdScheduleView(environment: Environment, events: readonly ScheduleEvent[]): ScheduleView {
  const [created, ...planned] = events;
  if (created?.type !== 'schedule.created') throw new Error('a schedule is created by schedule.created');
  return planned.reduce<ScheduleView>((view, event) => {
    if (event.type !== 'schedule.fire_planned') throw new Error(`a schedule's creation does not append ${event.type}`);
    return { ...view, next_fire_at: event.data.fire_at, fire_count: view.fire_count + 1 };
  }, createdView(created.data, environment));
}

/** The API view of a newly created schedule (the row the projection inserts for schedule.created). */
export function createdView(data: EventDataMap['schedule.created'], environment: Environment): ScheduleView {
  const { trigger } = data;
  return {
    id: data.schedule_id,
    object: 'schedule',
    mode: environment,
    endpoint: data.request.endpoint,
    method: data.request.method,
    headers: data.request.headers,
    body: data.request.body,
    delay: trigger.kind === 'once' ? trigger.delay ?? null : null,
    run_at: trigger.kind === 'once' ? trigger.run_at : null,
    cron: trigger.kind === 'cron' ? trigger.cron : null,
    timezone: trigger.kind === 'cron' ? trigger.timezone : null,
    catch_up: trigger.kind === 'cron' ? data.catch_up ?? DEFAULT_CATCH_UP : null,
    catch_up_window: trigger.kind === 'cron' ? data.catch_up_window ?? DEFAULT_CATCH_UP_WINDOW : null,
    ends_at: data.ends_at ?? null,
    max_fires: data.max_fires ?? null,
    fire_count: 0,
    process: data.process ?? null,
    metadata: data.metadata ?? {},
    state: 'active',
    next_fire_at: data.next_fire_at,
    created_at: data.created_at,
  };
}
