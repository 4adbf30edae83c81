import { randomUUID } from 'node:crypto';
import { type AttemptRecord, type Environment, type EventDataMap, type FireKind, newId, streamName } from '@schedstack/contracts';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import { type ApiStack, startApiStack } from '../support/api-stack';
import { eventually } from '../support';

/** One recorded attempt, as the dispatch engine writes it. */
function attempted(fireKind: FireKind, lagMs: number, firedAt: Date, n = 1): EventDataMap['delivery.attempted'] {
  const attempt: AttemptRecord = {
    n,
    fire_kind: fireKind,
    scheduled_for: new Date(firedAt.getTime() - lagMs).toISOString(),
    fired_at: firedAt.toISOString(),
    status_code: 200,
    duration_ms: 3,
    response_body: 'ok',
    error: null,
    mocked: false,
  };
  return { delivery_id: newId('dlv'), schedule_id: newId('sch'), attempt, state: 'succeeded', next_attempt_at: null };
}

describe('GET /v1/slo (SPEC §7) — arithmetic over a known set of recorded attempts', () => {
  let stack: ApiStack;
  const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);

  beforeAll(async () => {
    stack = await startApiStack('slo');
    const store = stack.app.get<typeof EVENT_STORE, EventStore>(EVENT_STORE, { strict: false });
    const append = (environment: Environment, data: EventDataMap['delivery.attempted'][]) =>
      store.appendToStream(
        streamName({ projectId: stack.projectId, environment }, 'delivery', newId('dlv')),
        data.map((d) => ({ id: randomUUID(), type: 'delivery.attempted', data: d })),
        'any',
      );
    // Live first attempts: lags 1…198 ms plus two slow ones (400 and 500 ms) → 200 eligible, 2 slow.
    const eligible = Array.from({ length: 198 }, (_, i) => attempted('first', i + 1, new Date(tenMinutesAgo.getTime() + i)));
    eligible.push(attempted('first', 400, tenMinutesAgo), attempted('first', 500, tenMinutesAgo));
    // Excluded in live, each very late, so a wrong filter would show in the percentiles.
    const excluded = (['retry', 'retry', 'retry', 'reclaim', 'rate_limited', 'breaker_deferred', 'coalesced', 'dst_shifted', 'catch_up', 'replay', 'replay'] as FireKind[]).map(
      (kind, i) => attempted(kind, 5_000, tenMinutesAgo, i + 2),
    );
    // Two hours ago: outside 1h, inside 24h.
    const old = [attempted('first', 50, new Date(Date.now() - 2 * 3_600_000))];
    await append('live', [...eligible, ...excluded, ...old]);
    await append('test', [attempted('first', 20, tenMinutesAgo), attempted('first', 900, tenMinutesAgo), attempted('retry', 10, tenMinutesAgo, 2)]);
    await eventually(async () => (await stack.api('/v1/slo?window=24h', { key: stack.keys.live })).body?.eligible_count === 201);
  });

  afterAll(() => stack?.close());

  it('reports nearest-rank percentiles, the eligible count, exclusions by kind, budget and burn rate for live', async () => {
    const res = await stack.api('/v1/slo?window=1h', { key: stack.keys.live });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      object: 'slo',
      mode: 'live',
      window: '1h',
      objective: { percentile: 99, threshold_ms: 300, target: 0.99 },
      eligible_count: 200,
      slow_count: 2,
      lag_ms: { p50: 100, p90: 180, p99: 198 },
      excluded: { retry: 3, reclaim: 1, rate_limited: 1, breaker_deferred: 1, coalesced: 1, dst_shifted: 1, catch_up: 1, replay: 2, non_live: 0 },
      // 1% of 200 = 2 slow fires allowed; 2 were slow: the budget is spent exactly, burning at 1×.
      error_budget: { allowed: 2, consumed: 1, remaining: 0 },
      burn_rate: 1,
    });
    expect(Date.parse(res.body.to) - Date.parse(res.body.from)).toBe(3_600_000);
  });

  it('charts p99 per 5-minute step over the hour', async () => {
    const res = await stack.api('/v1/slo', { key: stack.keys.live });
    expect(res.body.window).toBe('1h');
    const series = res.body.series as { at: string; p99_ms: number | null; count: number }[];
    expect(series).toHaveLength(12);
    expect(series.reduce((sum, p) => sum + p.count, 0)).toBe(200);
    const busy = series.filter((p) => p.count > 0);
    expect(busy).toHaveLength(1);
    expect(busy[0].p99_ms).toBe(198);
    expect(series.filter((p) => p.count === 0).every((p) => p.p99_ms === null)).toBe(true);
  });

  it('widens with the window: 24h includes the older attempt, with the budget now partly left', async () => {
    const res = await stack.api('/v1/slo?window=24h', { key: stack.keys.live });
    expect(res.body).toMatchObject({ eligible_count: 201, slow_count: 2, error_budget: { allowed: 2.01 } });
    expect(res.body.error_budget.remaining).toBeCloseTo(1 - 2 / 2.01, 4);
    expect(res.body.series).toHaveLength(24);
  });

  it('counts nothing as eligible outside live: test attempts are excluded as non_live', async () => {
    const res = await stack.api('/v1/slo?window=7d', { key: stack.keys.test });
    expect(res.body).toMatchObject({
      mode: 'test',
      eligible_count: 0,
      slow_count: 0,
      lag_ms: { p50: null, p90: null, p99: null },
      excluded: { non_live: 3, retry: 0 },
      error_budget: { allowed: 0, consumed: 0, remaining: 1 },
      burn_rate: 0,
    });
    expect(res.body.series).toHaveLength(28);
  });

  it('refuses an unknown window, naming the parameter', async () => {
    const res = await stack.api('/v1/slo?window=2h', { key: stack.keys.live });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('window');
  });
});
