import { DomainError, type EventDataMap, type ScheduleTrigger } from '@schedstack/contracts';
import {
  decide,
  evolve,
  initialState,
  MAX_FIRES_PER_PLAN,
  type ScheduleCommand,
  type ScheduleEvent,
  type ScheduleSettings,
  type ScheduleState,
  upcomingFires,
} from './schedule.decider';

const request = { endpoint: 'https://example.com/hook', method: 'POST', headers: {}, body: '{}' };
const at = (iso: string) => new Date(iso);
const given = (events: ScheduleEvent[]): ScheduleState => events.reduce(evolve, initialState());

let deliveries = 0;
const newDeliveryId = () => `dlv_${++deliveries}`;
beforeEach(() => {
  deliveries = 0;
});

const cron = (expression: string, timezone = 'UTC'): ScheduleTrigger => ({ kind: 'cron', cron: expression, timezone });
const recurring = (overrides: Partial<ScheduleSettings> = {}): ScheduleSettings => ({
  catchUp: 'coalesce',
  catchUpWindow: '1h',
  endsAt: null,
  maxFires: null,
  ...overrides,
});
const createCommand = (trigger: ScheduleTrigger, settings?: ScheduleSettings): ScheduleCommand => ({
  type: 'create',
  data: { scheduleId: 'sch_1', request, trigger, firstDeliveryId: 'dlv_first', settings },
});
/** Given a schedule created at `createdAt`, then the other events. */
const history = (trigger: ScheduleTrigger, createdAt: string, settings?: ScheduleSettings): ScheduleEvent[] =>
  decide(createCommand(trigger, settings), initialState(), at(createdAt));
const plan: ScheduleCommand = { type: 'plan', data: { newDeliveryId } };

/** The planned fires among `events`, as `<fire_at> <fire_kind>`. */
const planned = (events: ScheduleEvent[]) =>
  events
    .filter((e): e is { type: 'schedule.fire_planned'; data: EventDataMap['schedule.fire_planned'] } => e.type === 'schedule.fire_planned')
    .map((e) => `${e.data.fire_at} ${e.data.fire_kind}`);
const types = (events: ScheduleEvent[]) => events.map((e) => e.type);

describe('schedule decider: create', () => {
  it('creates a one-off schedule whose first fire is planned with it', () => {
    const now = at('2026-03-01T12:00:00Z');
    const events = decide(createCommand({ kind: 'once', run_at: '2026-03-01T12:00:30.000Z', delay: '30s' }), given([]), now);
    expect(events).toEqual([
      expect.objectContaining({ type: 'schedule.created', data: expect.objectContaining({ next_fire_at: '2026-03-01T12:00:30.000Z', created_at: now.toISOString() }) }),
      {
        type: 'schedule.fire_planned',
        data: { schedule_id: 'sch_1', delivery_id: 'dlv_first', fire_at: '2026-03-01T12:00:30.000Z', fire_kind: 'first', request, next_fire_at: null },
      },
    ]);
  });

  it('computes the first cron fire in the schedule time zone', () => {
    const [created] = decide(createCommand(cron('0 9 * * 1-5', 'Europe/Berlin'), recurring()), given([]), at('2026-03-01T12:00:00Z')); // a Sunday
    expect(created.type === 'schedule.created' && created.data.next_fire_at).toBe('2026-03-02T08:00:00.000Z');
  });

  it('marks a first fire that falls into a DST gap as dst_shifted', () => {
    const events = history(cron('30 2 * * *', 'Europe/Berlin'), '2026-03-28T12:00:00Z', recurring());
    expect(planned(events)).toEqual(['2026-03-29T01:00:00.000Z dst_shifted']);
  });

  it('stores the recurrence settings, process and metadata', () => {
    const [created] = decide(
      { type: 'create', data: { scheduleId: 'sch_1', request, trigger: cron('* * * * *'), firstDeliveryId: 'd', settings: recurring({ catchUp: 'all', maxFires: 3 }), process: 'billing', metadata: { order: 'ord_1' } } },
      given([]),
      at('2026-03-01T12:00:00Z'),
    );
    expect(created.data).toMatchObject({ catch_up: 'all', catch_up_window: '1h', max_fires: 3, ends_at: null, process: 'billing', metadata: { order: 'ord_1' } });
  });

  it('refuses to create a schedule twice', () => {
    const created = history({ kind: 'once', run_at: '2026-03-01T12:00:00Z' }, '2026-03-01T12:00:00Z');
    expect(() => decide(createCommand({ kind: 'once', run_at: '2026-03-01T12:00:00Z' }), given(created), at('2026-03-01T12:00:00Z'))).toThrow(DomainError);
  });

  it('refuses a cron schedule that would never fire before ends_at, naming ends_at', () => {
    const attempt = () => history(cron('0 9 * * *'), '2026-03-01T12:00:00Z', recurring({ endsAt: '2026-03-01T13:00:00.000Z' }));
    expect(attempt).toThrow(expect.objectContaining({ kind: 'invalid', param: 'ends_at' }));
  });

  it('refuses a cron expression that names no existing date, naming cron', () => {
    expect(() => history(cron('0 0 30 2 *'), '2026-03-01T12:00:00Z', recurring())).toThrow(expect.objectContaining({ param: 'cron' }));
  });
});

describe('schedule decider: planning', () => {
  it('plans nothing while the planned fire is not yet due', () => {
    const state = given(history(cron('0 * * * *'), '2026-03-01T12:10:00Z', recurring()));
    expect(decide(plan, state, at('2026-03-01T12:30:00Z'))).toEqual([]);
  });

  it('plans the next fire once the planned one is due', () => {
    const state = given(history(cron('0 * * * *'), '2026-03-01T12:10:00Z', recurring()));
    const events = decide(plan, state, at('2026-03-01T13:00:00.200Z'));
    expect(planned(events)).toEqual(['2026-03-01T14:00:00.000Z first']);
    expect(events[0].data).toMatchObject({ delivery_id: 'dlv_1', next_fire_at: '2026-03-01T15:00:00.000Z' });
  });

  it('keeps every fire within the horizon planned, so a cron every second fires every second', () => {
    const state = given(history(cron('*/1 * * * * *'), '2026-03-01T12:00:00.300Z', recurring()));
    const events = decide(plan, state, at('2026-03-01T12:00:00.500Z'));
    expect(planned(events)).toEqual([2, 3, 4, 5].map((s) => `2026-03-01T12:00:0${s}.000Z first`));
  });

  it('is idempotent: deciding the same pass again on the new state plans nothing more', () => {
    const now = at('2026-03-01T13:00:00.200Z');
    const first = history(cron('0 * * * *'), '2026-03-01T12:10:00Z', recurring());
    const pass = decide(plan, given(first), now);
    expect(decide(plan, given([...first, ...pass]), now)).toEqual([]);
  });

  it('plans a DST-shifted fire as dst_shifted', () => {
    const created = history(cron('30 2 * * *', 'America/New_York'), '2026-03-06T12:00:00Z', recurring());
    const events = decide(plan, given(created), at('2026-03-07T07:30:00Z'));
    expect(planned(events)).toEqual(['2026-03-08T07:00:00.000Z dst_shifted']);
  });

  it('completes a one-off schedule once its fire is due, not before', () => {
    const created = history({ kind: 'once', run_at: '2026-03-01T12:00:30.000Z' }, '2026-03-01T12:00:00Z');
    expect(decide(plan, given(created), at('2026-03-01T12:00:10Z'))).toEqual([]);
    expect(types(decide(plan, given(created), at('2026-03-01T12:00:30Z')))).toEqual(['schedule.completed']);
  });

  it('stops at max_fires and completes when the last fire is due', () => {
    let events = history(cron('0 * * * *'), '2026-03-01T12:10:00Z', recurring({ maxFires: 2 }));
    events = [...events, ...decide(plan, given(events), at('2026-03-01T13:00:00Z'))];
    expect(planned(events)).toEqual(['2026-03-01T13:00:00.000Z first', '2026-03-01T14:00:00.000Z first']);
    expect(decide(plan, given(events), at('2026-03-01T13:30:00Z'))).toEqual([]);
    expect(types(decide(plan, given(events), at('2026-03-01T14:00:00Z')))).toEqual(['schedule.completed']);
  });

  it('plans no fire after ends_at and completes after the last one', () => {
    let events = history(cron('0 * * * *'), '2026-03-01T12:10:00Z', recurring({ endsAt: '2026-03-01T13:30:00.000Z' }));
    events = [...events, ...decide(plan, given(events), at('2026-03-01T13:00:00Z'))];
    expect(planned(events)).toEqual(['2026-03-01T13:00:00.000Z first']);
    expect(types(events)).toEqual(['schedule.created', 'schedule.fire_planned', 'schedule.completed']);
  });
});

describe('schedule decider: catch-up after downtime', () => {
  // Every 15 minutes; the 12:00 fire was the last one planned, and the planner next runs at 15:05.
  const downtime = (settings: ScheduleSettings) => given(history(cron('*/15 * * * *'), '2026-03-01T11:50:00Z', settings));
  const afterDowntime = at('2026-03-01T15:05:00Z');

  it('coalesces the missed fires within the window into one fire now (the default)', () => {
    const events = decide(plan, downtime(recurring()), afterDowntime);
    expect(planned(events)).toEqual(['2026-03-01T15:05:00.000Z coalesced', '2026-03-01T15:15:00.000Z first']);
  });

  it('skips them all under catch_up skip and plans only the next future fire', () => {
    const events = decide(plan, downtime(recurring({ catchUp: 'skip' })), afterDowntime);
    expect(planned(events)).toEqual(['2026-03-01T15:15:00.000Z first']);
  });

  it('fires each missed fire within the window under catch_up all, and skips older ones', () => {
    const events = decide(plan, downtime(recurring({ catchUp: 'all' })), afterDowntime);
    expect(planned(events)).toEqual([
      '2026-03-01T14:15:00.000Z catch_up',
      '2026-03-01T14:30:00.000Z catch_up',
      '2026-03-01T14:45:00.000Z catch_up',
      '2026-03-01T15:00:00.000Z catch_up',
      '2026-03-01T15:15:00.000Z first',
    ]);
  });

  it('honours catch_up_window', () => {
    const events = decide(plan, downtime(recurring({ catchUp: 'all', catchUpWindow: '15m' })), afterDowntime);
    expect(planned(events)).toEqual(['2026-03-01T15:00:00.000Z catch_up', '2026-03-01T15:15:00.000Z first']);
  });

  it('fires nothing for misses that are all older than the window', () => {
    const state = given(history(cron('0 9 * * *'), '2026-03-01T08:00:00Z', recurring()));
    const events = decide(plan, state, at('2026-03-01T12:00:00Z'));
    expect(planned(events)).toEqual(['2026-03-02T09:00:00.000Z first']);
  });

  it('plans a long catch-up backlog over several passes, never more than the cap at once', () => {
    // Created at 11:59:59.5 with its 12:00:00 fire planned; the planner next runs at 12:10.
    const created = history(cron('*/1 * * * * *'), '2026-03-01T11:59:59.500Z', recurring({ catchUp: 'all' }));
    const now = at('2026-03-01T12:10:00Z');
    const first = decide(plan, given(created), now);
    expect(first).toHaveLength(MAX_FIRES_PER_PLAN);
    expect(planned(first)[0]).toBe('2026-03-01T12:00:01.000Z catch_up');
    const second = decide(plan, given([...created, ...first]), now);
    expect(planned(second)[0]).toBe('2026-03-01T12:01:41.000Z catch_up');
  });
});

describe('schedule decider: pause, resume, cancel', () => {
  const hourly = () => history(cron('0 * * * *'), '2026-03-01T12:10:00Z', recurring());

  it('pauses an active schedule, withdrawing its planned fire; a second pause changes nothing', () => {
    const paused = decide({ type: 'pause', data: { scheduleId: 'sch_1' } }, given(hourly()), at('2026-03-01T12:20:00Z'));
    expect(paused).toEqual([{ type: 'schedule.paused', data: { schedule_id: 'sch_1', paused_at: '2026-03-01T12:20:00.000Z', withdrawn_fires: 1 } }]);
    const state = given([...hourly(), ...paused]);
    expect(state).toMatchObject({ status: 'paused', fireCount: 0 });
    expect(decide({ type: 'pause', data: { scheduleId: 'sch_1' } }, state, at('2026-03-01T12:21:00Z'))).toEqual([]);
    expect(decide(plan, state, at('2026-03-01T14:00:00Z'))).toEqual([]);
  });

  it('resumes from now: fires missed while paused are not made up', () => {
    const paused = [...hourly(), ...decide({ type: 'pause', data: { scheduleId: 'sch_1' } }, given(hourly()), at('2026-03-01T12:20:00Z'))];
    const resumed = decide({ type: 'resume', data: { scheduleId: 'sch_1', newDeliveryId } }, given(paused), at('2026-03-01T15:30:00Z'));
    expect(types(resumed)).toEqual(['schedule.resumed', 'schedule.fire_planned']);
    expect(planned(resumed)).toEqual(['2026-03-01T16:00:00.000Z first']);
    expect(decide({ type: 'resume', data: { scheduleId: 'sch_1', newDeliveryId } }, given([...paused, ...resumed]), at('2026-03-01T15:31:00Z'))).toEqual([]);
  });

  it('completes a one-off schedule resumed after its time had passed', () => {
    const created = history({ kind: 'once', run_at: '2026-03-01T12:05:00.000Z' }, '2026-03-01T12:00:00Z');
    const paused = [...created, ...decide({ type: 'pause', data: { scheduleId: 'sch_1' } }, given(created), at('2026-03-01T12:01:00Z'))];
    const resumed = decide({ type: 'resume', data: { scheduleId: 'sch_1', newDeliveryId } }, given(paused), at('2026-03-01T12:10:00Z'));
    expect(types(resumed)).toEqual(['schedule.resumed', 'schedule.completed']);
  });

  it('cancels an active or paused schedule once; a second cancel changes nothing', () => {
    const canceled = decide({ type: 'cancel', data: { scheduleId: 'sch_1' } }, given(hourly()), at('2026-03-01T12:20:00Z'));
    expect(types(canceled)).toEqual(['schedule.canceled']);
    expect(decide({ type: 'cancel', data: { scheduleId: 'sch_1' } }, given([...hourly(), ...canceled]), at('2026-03-01T12:21:00Z'))).toEqual([]);
    expect(decide(plan, given([...hourly(), ...canceled]), at('2026-03-01T14:00:00Z'))).toEqual([]);
  });

  it('refuses to pause, resume or cancel a finished schedule with a conflict', () => {
    const created = history({ kind: 'once', run_at: '2026-03-01T12:00:00.000Z' }, '2026-03-01T12:00:00Z');
    const done = given([...created, ...decide(plan, given(created), at('2026-03-01T12:00:01Z'))]);
    for (const type of ['pause', 'cancel'] as const) {
      expect(() => decide({ type, data: { scheduleId: 'sch_1' } }, done, at('2026-03-01T12:01:00Z'))).toThrow(
        expect.objectContaining({ kind: 'conflict', code: 'schedule_completed' }),
      );
    }
    const canceled = given([...created, { type: 'schedule.canceled', data: { schedule_id: 'sch_1', canceled_at: '2026-03-01T12:00:00Z' } }]);
    expect(() => decide({ type: 'resume', data: { scheduleId: 'sch_1', newDeliveryId } }, canceled, at('2026-03-01T12:01:00Z'))).toThrow(
      expect.objectContaining({ code: 'schedule_canceled' }),
    );
  });

  it('answers not found for a schedule that does not exist', () => {
    expect(() => decide({ type: 'pause', data: { scheduleId: 'sch_x' } }, given([]), at('2026-03-01T12:00:00Z'))).toThrow(
      expect.objectContaining({ kind: 'not_found', code: 'resource_missing', param: 'id' }),
    );
  });
});

describe('schedule decider: upcoming fires', () => {
  it('lists the next fires across a DST transition with their kinds', () => {
    const state = given(history(cron('30 2 * * *', 'Europe/Berlin'), '2026-03-27T12:00:00Z', recurring()));
    expect(upcomingFires(state, at('2026-03-27T12:00:00Z'), 3)).toEqual({
      fires: [
        { fire_at: '2026-03-28T01:30:00.000Z', fire_kind: 'first' },
        { fire_at: '2026-03-29T01:00:00.000Z', fire_kind: 'dst_shifted' },
        { fire_at: '2026-03-30T00:30:00.000Z', fire_kind: 'first' },
      ],
      hasMore: true,
    });
  });

  it('counts planned fires towards max_fires only once', () => {
    const state = given(history(cron('0 * * * *'), '2026-03-01T12:10:00Z', recurring({ maxFires: 2 })));
    expect(upcomingFires(state, at('2026-03-01T12:20:00Z'), 10)).toEqual({
      fires: [
        { fire_at: '2026-03-01T13:00:00.000Z', fire_kind: 'first' },
        { fire_at: '2026-03-01T14:00:00.000Z', fire_kind: 'first' },
      ],
      hasMore: false,
    });
  });

  it('lists nothing for a paused schedule', () => {
    const created = history(cron('0 * * * *'), '2026-03-01T12:10:00Z', recurring());
    const paused = given([...created, ...decide({ type: 'pause', data: { scheduleId: 'sch_1' } }, given(created), at('2026-03-01T12:20:00Z'))]);
    expect(upcomingFires(paused, at('2026-03-01T12:20:00Z'), 5)).toEqual({ fires: [], hasMore: false });
  });
});
