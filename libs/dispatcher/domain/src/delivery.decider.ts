import { type DeliveryState as DeliveryStatus, DomainError, type DomainEvent } from '@schedstack/contracts';

/**
 * STYLE §1: the delivery aggregate, as far as a user command can change it (SPEC §4 replay). Its
 * stream holds one `delivery.attempted` per attempt, written by the dispatch engine.
 */
export type DeliveryCommand = { readonly type: 'replay'; readonly data: { readonly deliveryId: string } };

export type DeliveryEvent = DomainEvent<'delivery.attempted' | 'delivery.replay_requested'>;

export type DeliveryAggregateState =
  | { readonly status: 'unattempted' }
  | { readonly status: DeliveryStatus; readonly scheduleId: string; readonly lastAttempt: number };

export const initialState = (): DeliveryAggregateState => ({ status: 'unattempted' });

/** A replay sends the request again: for deliveries that finished, well or badly. */
const REPLAYABLE: readonly DeliveryStatus[] = ['succeeded', 'dead_lettered'];

export function decide(command: DeliveryCommand, state: DeliveryAggregateState, now: Date): DeliveryEvent[] {
  switch (command.type) {
    case 'replay': {
      if (state.status === 'unattempted') {
        throw new DomainError('conflict', 'delivery_not_replayable', `Delivery ${command.data.deliveryId} has not been attempted yet; it goes out when due.`);
      }
      if (!REPLAYABLE.includes(state.status)) {
        const why = state.status === 'scheduled' ? 'a replay is already scheduled' : `it is ${state.status}`;
        throw new DomainError('conflict', 'delivery_not_replayable', `Delivery ${command.data.deliveryId} cannot be replayed now: ${why}.`);
      }
      return [
        {
          type: 'delivery.replay_requested',
          data: {
            delivery_id: command.data.deliveryId,
            schedule_id: state.scheduleId,
            attempt: state.lastAttempt + 1,
            replay_at: now.toISOString(),
            requested_at: now.toISOString(),
          },
        },
      ];
    }
    default: {
      const unreachable: never = command.type;
      throw new Error(`unknown command ${JSON.stringify(unreachable)}`);
    }
  }
}

export function evolve(state: DeliveryAggregateState, event: DeliveryEvent): DeliveryAggregateState {
  const last = state.status === 'unattempted' ? 0 : state.lastAttempt;
  switch (event.type) {
    case 'delivery.attempted':
      return { status: event.data.state, scheduleId: event.data.schedule_id, lastAttempt: Math.max(last, event.data.attempt.n) };
    case 'delivery.replay_requested':
      return { status: 'scheduled', scheduleId: event.data.schedule_id, lastAttempt: Math.max(last, event.data.attempt - 1) };
    default: {
      const unreachable: never = event;
      throw new Error(`unknown event ${JSON.stringify(unreachable)}`);
    }
  }
}

export const deliveryDecider = { initialState, decide, evolve };
