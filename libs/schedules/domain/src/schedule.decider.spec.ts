import { DomainError } from '@schedstack/contracts';
import { decide, evolve, initialState, type ScheduleEvent, type ScheduleState } from './schedule.decider';

const request = { endpoint: 'https://example.com/hook', method: 'POST', headers: {}, body: '{}' };
const now = new Date('2026-03-01T12:00:00Z');
const given = (events: ScheduleEvent[]): ScheduleState => events.reduce(evolve, initialState());

describe('schedule decider', () => {
  it('creates a one-off schedule whose next fire is its run_at', () => {
    const events = decide(
      { type: 'create', data: { scheduleId: 'sch_1', request, firstDeliveryId: 'dlv_1', trigger: { kind: 'once', run_at: '2026-03-01T12:00:30.000Z', delay: '30s' } } },
      given([]),
      now,
    );
    expect(events).toEqual([
      expect.objectContaining({ type: 'schedule.created', data: expect.objectContaining({ next_fire_at: '2026-03-01T12:00:30.000Z', created_at: now.toISOString() }) }),
      {
        type: 'schedule.fire_planned',
        data: { schedule_id: 'sch_1', delivery_id: 'dlv_1', fire_at: '2026-03-01T12:00:30.000Z', fire_kind: 'first', request, next_fire_at: null },
      },
    ]);
  });

  it('computes the first cron fire in the schedule time zone', () => {
    const [created] = decide(
      { type: 'create', data: { scheduleId: 'sch_1', request, firstDeliveryId: 'dlv_1', trigger: { kind: 'cron', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' } } },
      given([]),
      now, // a Sunday
    );
    expect(created.type === 'schedule.created' && created.data.next_fire_at).toBe('2026-03-02T08:00:00.000Z');
  });

  it('refuses to create a schedule twice', () => {
    const created = decide(
      { type: 'create', data: { scheduleId: 'sch_1', request, firstDeliveryId: 'dlv_1', trigger: { kind: 'once', run_at: now.toISOString() } } },
      given([]),
      now,
    );
    expect(() =>
      decide({ type: 'create', data: { scheduleId: 'sch_1', request, firstDeliveryId: 'dlv_1', trigger: { kind: 'once', run_at: now.toISOString() } } }, given(created), now),
    ).toThrow(DomainError);
  });

  it('cancels an active schedule once, and a second cancel changes nothing', () => {
    const created = decide(
      { type: 'create', data: { scheduleId: 'sch_1', request, firstDeliveryId: 'dlv_1', trigger: { kind: 'once', run_at: now.toISOString() } } },
      given([]),
      now,
    );
    const canceled = decide({ type: 'cancel', data: { scheduleId: 'sch_1' } }, given(created), now);
    expect(canceled.map((e) => e.type)).toEqual(['schedule.canceled']);
    expect(decide({ type: 'cancel', data: { scheduleId: 'sch_1' } }, given([...created, ...canceled]), now)).toEqual([]);
  });
});
