import type { AttemptRecord, DeliveryState } from '@schedstack/contracts';
import { DomainError } from '@schedstack/contracts';
import { deliveryDecider as d, type DeliveryEvent } from './delivery.decider';

const now = new Date('2026-03-01T12:00:00Z');
const attempt = (n: number): AttemptRecord => ({
  n,
  fire_kind: n === 1 ? 'first' : 'retry',
  scheduled_for: now.toISOString(),
  fired_at: now.toISOString(),
  status_code: 500,
  duration_ms: 3,
  response_body: '',
  error: null,
  mocked: false,
});
const attempted = (n: number, state: DeliveryState): DeliveryEvent => ({
  type: 'delivery.attempted',
  data: { delivery_id: 'dlv_1', schedule_id: 'sch_1', attempt: attempt(n), state, next_attempt_at: null },
});
const given = (events: DeliveryEvent[]) => events.reduce(d.evolve, d.initialState());
const replay = { type: 'replay', data: { deliveryId: 'dlv_1' } } as const;

describe('delivery decider: replay', () => {
  it('replays a dead-lettered delivery as the next attempt', () => {
    const state = given([attempted(1, 'retrying'), attempted(2, 'dead_lettered')]);
    expect(d.decide(replay, state, now)).toEqual([
      {
        type: 'delivery.replay_requested',
        data: { delivery_id: 'dlv_1', schedule_id: 'sch_1', attempt: 3, replay_at: now.toISOString(), requested_at: now.toISOString() },
      },
    ]);
  });

  it('replays a succeeded delivery too', () => {
    expect(d.decide(replay, given([attempted(1, 'succeeded')]), now)).toHaveLength(1);
  });

  it.each([
    ['has not been attempted', [] as DeliveryEvent[]],
    ['is still retrying', [attempted(1, 'retrying')]],
  ])('refuses a delivery that %s', (_why, events) => {
    expect(() => d.decide(replay, given(events), now)).toThrow(DomainError);
  });

  it('refuses a second replay while the first is pending', () => {
    const state = given([attempted(1, 'dead_lettered')]);
    const next = d.decide(replay, state, now).reduce(d.evolve, state);
    expect(() => d.decide(replay, next, now)).toThrow(/already scheduled/);
  });
});
