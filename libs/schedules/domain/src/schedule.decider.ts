import { DomainError, type DomainEvent, type HttpRequestSpec, type ScheduleTrigger } from '@schedstack/contracts';
import { nextCronFire } from '@schedstack/time';

/** STYLE §1: the schedule aggregate as pure decide/evolve functions (SPEC §3). */

export type ScheduleCommand =
  | {
      readonly type: 'create';
      readonly data: { scheduleId: string; request: HttpRequestSpec; trigger: ScheduleTrigger; firstDeliveryId: string };
    }
  | { readonly type: 'cancel'; readonly data: { scheduleId: string } };

export type ScheduleEvent = DomainEvent<'schedule.created' | 'schedule.fire_planned' | 'schedule.canceled' | 'schedule.completed'>;

export type ScheduleState =
  | { readonly status: 'none' }
  | {
      readonly status: 'active' | 'canceled' | 'completed';
      readonly scheduleId: string;
      readonly trigger: ScheduleTrigger;
      readonly nextFireAt: string | null;
    };

export const initialState = (): ScheduleState => ({ status: 'none' });

/** The first fire instant of a trigger, seen from `now`. */
export function firstFireAt(trigger: ScheduleTrigger, now: Date): Date | null {
  switch (trigger.kind) {
    case 'once':
      return new Date(trigger.run_at);
    case 'cron':
      return nextCronFire(trigger.cron, trigger.timezone, now);
    default: {
      const unreachable: never = trigger;
      throw new Error(`unknown trigger ${JSON.stringify(unreachable)}`);
    }
  }
}

export function decide(command: ScheduleCommand, state: ScheduleState, now: Date): ScheduleEvent[] {
  switch (command.type) {
    case 'create': {
      if (state.status !== 'none') {
        throw new DomainError('conflict', 'schedule_exists', `Schedule ${command.data.scheduleId} already exists`);
      }
      const next = firstFireAt(command.data.trigger, now);
      const created: ScheduleEvent = {
        type: 'schedule.created',
        data: {
          schedule_id: command.data.scheduleId,
          request: command.data.request,
          trigger: command.data.trigger,
          next_fire_at: next ? next.toISOString() : null,
          created_at: now.toISOString(),
        },
      };
      if (!next) return [created];
      // The first fire is planned with the schedule, so a short delay never waits for a planner.
      const following = command.data.trigger.kind === 'cron' ? nextCronFire(command.data.trigger.cron, command.data.trigger.timezone, next) : null;
      return [
        created,
        {
          type: 'schedule.fire_planned',
          data: {
            schedule_id: command.data.scheduleId,
            delivery_id: command.data.firstDeliveryId,
            fire_at: next.toISOString(),
            fire_kind: 'first',
            request: command.data.request,
            next_fire_at: following ? following.toISOString() : null,
          },
        },
      ];
    }
    case 'cancel': {
      if (state.status === 'none') throw new DomainError('not_found', 'resource_missing', `No such schedule: '${command.data.scheduleId}'`, 'id');
      if (state.status === 'canceled') return [];
      if (state.status === 'completed') {
        throw new DomainError('conflict', 'schedule_completed', 'A completed schedule cannot be canceled');
      }
      return [{ type: 'schedule.canceled', data: { schedule_id: state.scheduleId, canceled_at: now.toISOString() } }];
    }
    default: {
      const unreachable: never = command;
      throw new Error(`unknown command ${JSON.stringify(unreachable)}`);
    }
  }
}

export function evolve(state: ScheduleState, event: ScheduleEvent): ScheduleState {
  switch (event.type) {
    case 'schedule.created':
      return {
        status: 'active',
        scheduleId: event.data.schedule_id,
        trigger: event.data.trigger,
        nextFireAt: event.data.next_fire_at,
      };
    case 'schedule.fire_planned':
      return state.status === 'none' ? state : { ...state, nextFireAt: event.data.next_fire_at };
    case 'schedule.canceled':
      return state.status === 'none' ? state : { ...state, status: 'canceled', nextFireAt: null };
    case 'schedule.completed':
      return state.status === 'none' ? state : { ...state, status: 'completed', nextFireAt: null };
    default: {
      const unreachable: never = event;
      throw new Error(`unknown event ${JSON.stringify(unreachable)}`);
    }
  }
}

export const scheduleDecider = { initialState, decide, evolve };
