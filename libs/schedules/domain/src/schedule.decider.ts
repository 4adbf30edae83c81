import {
  type CatchUpPolicy,
  type DeliveryPolicy,
  DomainError,
  type DomainEvent,
  type EventDataMap,
  type HttpRequestSpec,
  type ScheduleMetadata,
  type ScheduleTrigger,
  type UpcomingFire,
} from '@schedstack/contracts';
import { nextCronOccurrence, parseDuration } from '@schedstack/time';

/** STYLE §1: the schedule aggregate as pure decide/evolve functions (SPEC §3). */

/** How far ahead the planner keeps fires planned, so a cron every second still fires every second. */
export const PLANNING_HORIZON_MS = 5_000;
/** Fires planned by one command at most; a longer backlog continues on the planner's next pass. */
export const MAX_FIRES_PER_PLAN = 100;
/** SPEC §3 catch-up defaults of recurring schedules. */
export const DEFAULT_CATCH_UP: CatchUpPolicy = 'coalesce';
export const DEFAULT_CATCH_UP_WINDOW = '1h';

/** Recurrence settings; all null for a one-off schedule. */
export interface ScheduleSettings {
  readonly catchUp: CatchUpPolicy | null;
  readonly catchUpWindow: string | null;
  readonly endsAt: string | null;
  readonly maxFires: number | null;
}

export type ScheduleCommand =
  | {
      readonly type: 'create';
      readonly data: {
        scheduleId: string;
        request: HttpRequestSpec;
        trigger: ScheduleTrigger;
        firstDeliveryId: string;
        settings?: ScheduleSettings;
        process?: string | null;
        /** The process's delivery policy, resolved by the application before deciding. */
        policy?: DeliveryPolicy | null;
        metadata?: ScheduleMetadata | null;
      };
    }
  /** The planner's command: plan the fires now due for planning, catch up, or complete. */
  | { readonly type: 'plan'; readonly data: { newDeliveryId: () => string; horizonMs?: number } }
  | { readonly type: 'pause'; readonly data: { scheduleId: string } }
  | { readonly type: 'resume'; readonly data: { scheduleId: string; newDeliveryId: () => string } }
  | { readonly type: 'cancel'; readonly data: { scheduleId: string } };

export type ScheduleEvent = DomainEvent<
  'schedule.created' | 'schedule.fire_planned' | 'schedule.paused' | 'schedule.resumed' | 'schedule.canceled' | 'schedule.completed'
>;

type PlannedKind = EventDataMap['schedule.fire_planned']['fire_kind'];

export interface LiveSchedule {
  readonly status: 'active' | 'paused' | 'canceled' | 'completed';
  readonly scheduleId: string;
  readonly request: HttpRequestSpec;
  readonly trigger: ScheduleTrigger;
  readonly settings: ScheduleSettings;
  /** The instant of the most recently planned fire; the series continues after it. */
  readonly lastPlannedAt: string | null;
  /** Fires planned so far, minus those a pause withdrew; what `max_fires` counts. */
  readonly fireCount: number;
  /** Every planned fire carries it, so the dispatcher applies the process's settings. */
  readonly policy: DeliveryPolicy | null;
}

export type ScheduleState = { readonly status: 'none' } | LiveSchedule;

export const initialState = (): ScheduleState => ({ status: 'none' });

const NO_SETTINGS: ScheduleSettings = { catchUp: null, catchUpWindow: null, endsAt: null, maxFires: null };

interface Fire {
  readonly at: Date;
  readonly dstShifted: boolean;
}

type Series = Pick<LiveSchedule, 'trigger' | 'settings'>;

/** The first fire of the series strictly after `after`, with `ends_at` and `max_fires` applied. */
export function fireAfter(series: Series, after: Date, firesSoFar: number): Fire | null {
  const { trigger, settings } = series;
  if (settings.maxFires !== null && firesSoFar >= settings.maxFires) return null;
  let fire: Fire | null;
  switch (trigger.kind) {
    case 'once': {
      const at = new Date(trigger.run_at);
      fire = at > after ? { at, dstShifted: false } : null;
      break;
    }
    case 'cron':
      fire = nextCronOccurrence(trigger.cron, trigger.timezone, after);
      break;
    default: {
      const unreachable: never = trigger;
      throw new Error(`unknown trigger ${JSON.stringify(unreachable)}`);
    }
  }
  if (fire && settings.endsAt !== null && fire.at.getTime() > Date.parse(settings.endsAt)) return null;
  return fire;
}

/**
 * Fires planned but not yet due at `now`: they lie in (now, lastPlannedAt], because the planner
 * only plans ahead along the series (catch-up and coalesced fires are never in the future).
 */
function pendingFires(state: LiveSchedule, now: Date): number {
  if (state.lastPlannedAt === null || Date.parse(state.lastPlannedAt) <= now.getTime()) return 0;
  const last = Date.parse(state.lastPlannedAt);
  let pending = 0;
  for (let fire = fireAfter(state, now, 0); fire && fire.at.getTime() <= last; fire = fireAfter(state, fire.at, 0)) pending++;
  return pending;
}

/** SPEC §3 `upcoming`: the next `count` fires after `now` (planned ones included), and whether more follow. */
export function upcomingFires(state: ScheduleState, now: Date, count: number): { fires: UpcomingFire[]; hasMore: boolean } {
  if (state.status !== 'active') return { fires: [], hasMore: false };
  const fires: UpcomingFire[] = [];
  let firesSoFar = state.fireCount - pendingFires(state, now);
  let fire = fireAfter(state, now, firesSoFar);
  while (fire && fires.length < count) {
    fires.push({ fire_at: fire.at.toISOString(), fire_kind: fire.dstShifted ? 'dst_shifted' : 'first' });
    firesSoFar++;
    fire = fireAfter(state, fire.at, firesSoFar);
  }
  return { fires, hasMore: fire !== null };
}

function requireSchedule(state: ScheduleState, scheduleId: string): LiveSchedule {
  if (state.status === 'none') throw new DomainError('not_found', 'resource_missing', `No such schedule: '${scheduleId}'`, 'id');
  return state;
}

function refuseWhenFinished(state: LiveSchedule, action: string): void {
  if (state.status === 'canceled' || state.status === 'completed') {
    throw new DomainError('conflict', `schedule_${state.status}`, `A ${state.status} schedule cannot be ${action}`);
  }
}

/** What a command changes, as events (none when it changes nothing); throws DomainError when it is refused. */
export function decide(command: ScheduleCommand, state: ScheduleState, now: Date): ScheduleEvent[] {
  switch (command.type) {
    case 'create':
      return create(command.data, state, now);
    case 'plan':
      return state.status === 'active' ? plan(state, now, command.data.newDeliveryId, command.data.horizonMs ?? PLANNING_HORIZON_MS) : [];
    case 'pause': {
      const schedule = requireSchedule(state, command.data.scheduleId);
      if (schedule.status === 'paused') return [];
      refuseWhenFinished(schedule, 'paused');
      // The dispatcher withdraws the pending fires on this event.
      return [
        {
          type: 'schedule.paused',
          data: { schedule_id: schedule.scheduleId, paused_at: now.toISOString(), withdrawn_fires: pendingFires(schedule, now) },
        },
      ];
    }
    case 'resume': {
      const schedule = requireSchedule(state, command.data.scheduleId);
      if (schedule.status === 'active') return [];
      refuseWhenFinished(schedule, 'resumed');
      // Fires missed while paused are not made up: the series restarts from now (docs/decisions.md).
      const next = fireAfter(schedule, now, schedule.fireCount);
      const resumed: ScheduleEvent = {
        type: 'schedule.resumed',
        data: { schedule_id: schedule.scheduleId, resumed_at: now.toISOString(), next_fire_at: next ? next.at.toISOString() : null },
      };
      if (!next) return [resumed, completed(schedule, now)];
      return [resumed, firePlanned(schedule, next.at, next.dstShifted ? 'dst_shifted' : 'first', command.data.newDeliveryId(), schedule.fireCount)];
    }
    case 'cancel': {
      const schedule = requireSchedule(state, command.data.scheduleId);
      if (schedule.status === 'canceled') return [];
      refuseWhenFinished(schedule, 'canceled');
      return [{ type: 'schedule.canceled', data: { schedule_id: schedule.scheduleId, canceled_at: now.toISOString() } }];
    }
    default: {
      const unreachable: never = command;
      throw new Error(`unknown command ${JSON.stringify(unreachable)}`);
    }
  }
}

function create(data: Extract<ScheduleCommand, { type: 'create' }>['data'], state: ScheduleState, now: Date): ScheduleEvent[] {
  if (state.status !== 'none') {
    throw new DomainError('conflict', 'schedule_exists', `Schedule ${data.scheduleId} already exists`);
  }
  const settings = data.settings ?? NO_SETTINGS;
  const series: Series = { trigger: data.trigger, settings };
  const first: Fire | null =
    data.trigger.kind === 'once' ? { at: new Date(data.trigger.run_at), dstShifted: false } : fireAfter(series, now, 0);
  if (!first) {
    const param = settings.endsAt !== null ? 'ends_at' : 'cron';
    throw new DomainError(
      'invalid',
      'parameter_invalid',
      param === 'ends_at' ? 'The cron expression names no time before ends_at' : 'The cron expression names no date that exists',
      param,
    );
  }
  const created: ScheduleEvent = {
    type: 'schedule.created',
    data: {
      schedule_id: data.scheduleId,
      request: data.request,
      trigger: data.trigger,
      next_fire_at: first.at.toISOString(),
      created_at: now.toISOString(),
      ...(data.trigger.kind === 'cron'
        ? {
            catch_up: settings.catchUp ?? DEFAULT_CATCH_UP,
            catch_up_window: settings.catchUpWindow ?? DEFAULT_CATCH_UP_WINDOW,
            ends_at: settings.endsAt,
            max_fires: settings.maxFires,
          }
        : {}),
      process: data.process ?? null,
      ...(data.policy ? { policy: data.policy } : {}),
      metadata: data.metadata ?? null,
    },
  };
  // The first fire is planned with the schedule, so a short delay never waits for the planner.
  return [created, firePlanned({ scheduleId: data.scheduleId, request: data.request, policy: data.policy ?? null, ...series }, first.at, first.dstShifted ? 'dst_shifted' : 'first', data.firstDeliveryId, 0)];
}

/**
 * The planner's pass over one active schedule (SPEC §3):
 * 1. catch-up — fires of the series that are already past were missed (the planner keeps fires
 *    planned ahead, so a past one means the system was down): within `catch_up_window` they are
 *    coalesced into one fire now, skipped, or each fired (`catch_up`); older ones are skipped;
 * 2. planning — the next fire is planned once the previous planned fire is due, and every fire
 *    within the horizon is planned ahead;
 * 3. completion — when the series has no further fire and the last planned one is due.
 * Deciding from state only makes the pass idempotent: a second planner replica that loses the
 * append race decides again on the new state and finds nothing left to do.
 */
function plan(state: LiveSchedule, now: Date, newDeliveryId: () => string, horizonMs: number): ScheduleEvent[] {
  const events: ScheduleEvent[] = [];
  let cursor = state.lastPlannedAt ? new Date(state.lastPlannedAt) : now;
  let lastPlanned = cursor;
  let firesSoFar = state.fireCount;
  const add = (at: Date, kind: PlannedKind) => {
    events.push(firePlanned(state, at, kind, newDeliveryId(), firesSoFar));
    firesSoFar++;
    lastPlanned = at;
  };

  const missed = fireAfter(state, cursor, firesSoFar);
  if (missed && missed.at < now) {
    const windowStart = new Date(now.getTime() - parseDuration(state.settings.catchUpWindow ?? DEFAULT_CATCH_UP_WINDOW));
    // Missed fires older than the window are skipped under every policy.
    if (cursor < windowStart) cursor = new Date(windowStart.getTime() - 1);
    const policy = state.settings.catchUp ?? DEFAULT_CATCH_UP;
    const inWindow = fireAfter(state, cursor, firesSoFar);
    const anyInWindow = inWindow !== null && inWindow.at < now;
    if (policy === 'coalesce' && anyInWindow) {
      add(now, 'coalesced');
      cursor = now;
    } else if (policy === 'all' && anyInWindow) {
      for (let fire: Fire | null = inWindow; fire && fire.at < now; fire = fireAfter(state, cursor, firesSoFar)) {
        if (events.length === MAX_FIRES_PER_PLAN) return events;
        add(fire.at, 'catch_up');
        cursor = fire.at;
      }
    }
    // Nothing caught up (skip, or nothing within the window): continue from now. A fire exactly at
    // `now` is not missed; it is planned as a regular fire below.
    if (events.length === 0) cursor = new Date(now.getTime() - 1);
  }

  while (events.length < MAX_FIRES_PER_PLAN) {
    const next = fireAfter(state, cursor, firesSoFar);
    if (!next) break;
    if (lastPlanned > now && next.at.getTime() > now.getTime() + horizonMs) break;
    add(next.at, next.dstShifted ? 'dst_shifted' : 'first');
    cursor = next.at;
  }

  if (events.length < MAX_FIRES_PER_PLAN && lastPlanned <= now && !fireAfter(state, cursor, firesSoFar)) {
    events.push(completed(state, now));
  }
  return events;
}

function firePlanned(
  schedule: Pick<LiveSchedule, 'scheduleId' | 'request' | 'policy'> & Series,
  at: Date,
  kind: PlannedKind,
  deliveryId: string,
  firesBefore: number,
): ScheduleEvent {
  const following = fireAfter(schedule, at, firesBefore + 1);
  return {
    type: 'schedule.fire_planned',
    data: {
      schedule_id: schedule.scheduleId,
      delivery_id: deliveryId,
      fire_at: at.toISOString(),
      fire_kind: kind,
      request: schedule.request,
      next_fire_at: following ? following.at.toISOString() : null,
      ...(schedule.policy ? { policy: schedule.policy } : {}),
    },
  };
}

function completed(schedule: LiveSchedule, now: Date): ScheduleEvent {
  return { type: 'schedule.completed', data: { schedule_id: schedule.scheduleId, completed_at: now.toISOString() } };
}

/** The state after one event. */
export function evolve(state: ScheduleState, event: ScheduleEvent): ScheduleState {
  switch (event.type) {
    case 'schedule.created':
      return {
        status: 'active',
        scheduleId: event.data.schedule_id,
        request: event.data.request,
        trigger: event.data.trigger,
        settings: {
          catchUp: event.data.catch_up ?? (event.data.trigger.kind === 'cron' ? DEFAULT_CATCH_UP : null),
          catchUpWindow: event.data.catch_up_window ?? (event.data.trigger.kind === 'cron' ? DEFAULT_CATCH_UP_WINDOW : null),
          endsAt: event.data.ends_at ?? null,
          maxFires: event.data.max_fires ?? null,
        },
        lastPlannedAt: null,
        fireCount: 0,
        policy: event.data.policy ?? null,
      };
    case 'schedule.fire_planned':
      return state.status === 'none'
        ? state
        : { ...state, lastPlannedAt: event.data.fire_at, fireCount: state.fireCount + 1 };
    case 'schedule.paused':
      return state.status === 'none'
        ? state
        : { ...state, status: 'paused', fireCount: state.fireCount - (event.data.withdrawn_fires ?? 0) };
    case 'schedule.resumed':
      return state.status === 'none' ? state : { ...state, status: 'active' };
    case 'schedule.canceled':
      return state.status === 'none' ? state : { ...state, status: 'canceled' };
    case 'schedule.completed':
      return state.status === 'none' ? state : { ...state, status: 'completed' };
    default: {
      const unreachable: never = event;
      throw new Error(`unknown event ${JSON.stringify(unreachable)}`);
    }
  }
}

export const scheduleDecider = { initialState, decide, evolve };
