import type { AttemptRecord, EventDataMap } from '@schedstack/contracts';
import { subscribes, toWebhookEvent } from './platform-events';

const attempt: AttemptRecord = {
  n: 1, fire_kind: 'first', scheduled_for: '2026-05-01T09:00:00.000Z', fired_at: '2026-05-01T09:00:00.004Z',
  status_code: 200, duration_ms: 5, response_body: 'ok', error: null, mocked: false,
};
const attempted = (data: Partial<EventDataMap['delivery.attempted']>) => ({
  id: '7b0c2b8e-0000-4000-8000-000000000001',
  type: 'delivery.attempted',
  createdAt: new Date('2026-05-01T09:00:00.010Z'),
  data: { delivery_id: 'dlv_1', schedule_id: 'sch_1', attempt, state: 'succeeded', next_attempt_at: null, ...data },
});

describe('platform events → webhook events', () => {
  it.each([
    ['succeeded', 'delivery.succeeded'],
    ['retrying', 'delivery.failed'],
    ['dead_lettered', 'delivery.dead_lettered'],
  ] as const)('maps an attempt leaving the delivery %s to %s', (state, type) => {
    expect(toWebhookEvent(attempted({ state }), 'live')).toMatchObject({ type, mode: 'live', data: { delivery: 'dlv_1', schedule: 'sch_1', state } });
  });

  it('ignores attempts of webhook deliveries, so a webhook never triggers another', () => {
    expect(toWebhookEvent(attempted({ webhook_endpoint_id: 'we_1' }), 'live')).toBeNull();
  });

  it('derives the same evt_ id from the same stored event (redelivery plans nothing new)', () => {
    const a = toWebhookEvent(attempted({}), 'test');
    const b = toWebhookEvent(attempted({}), 'test');
    expect(a?.id).toMatch(/^evt_[0-9A-Za-z]{22}$/);
    expect(a?.id).toBe(b?.id);
  });

  it('matches subscriptions by type or *', () => {
    expect(subscribes(['*'], 'schedule.completed')).toBe(true);
    expect(subscribes(['delivery.failed'], 'delivery.failed')).toBe(true);
    expect(subscribes(['delivery.failed'], 'delivery.succeeded')).toBe(false);
  });
});
