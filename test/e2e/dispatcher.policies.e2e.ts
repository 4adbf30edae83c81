import { type Attributes, type Span, type SpanOptions, type Tracer, type TracerProvider, trace } from '@opentelemetry/api';
import type { DeliveryView } from '@schedstack/contracts';
import { type Receiver, startReceiver } from '@schedstack/testing';
import { type DispatchStack, eventually, startDispatchStack, withdrawSchedule } from '../support';

/** Just enough of an OpenTelemetry SDK to see which spans the dispatcher emits. */
interface RecordedSpan {
  readonly name: string;
  readonly attributes: Attributes;
  ended: boolean;
}
function recordingTracerProvider(spans: RecordedSpan[]): TracerProvider {
  const tracer = {
    startSpan(name: string, options?: SpanOptions): Span {
      const record: RecordedSpan = { name, attributes: { ...options?.attributes }, ended: false };
      spans.push(record);
      const span: Span = {
        spanContext: () => ({ traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1', traceFlags: 1 }),
        setAttribute: (key, value) => ((record.attributes[key] = value), span),
        setAttributes: (attributes) => (Object.assign(record.attributes, attributes), span),
        addEvent: () => span,
        addLink: () => span,
        addLinks: () => span,
        setStatus: () => span,
        updateName: () => span,
        end: () => {
          record.ended = true;
        },
        isRecording: () => true,
        recordException: () => undefined,
      };
      return span;
    },
    startActiveSpan() {
      throw new Error('not used by the dispatcher');
    },
  } as unknown as Tracer;
  return { getTracer: () => tracer };
}

describe('dispatcher process settings and telemetry — breaker, rate limit, mocking (local profile)', () => {
  let stack: DispatchStack;
  let receiver: Receiver;
  const spans: RecordedSpan[] = [];
  const at = (r: Receiver, path: string) => r.requests.filter((q) => q.path === path);

  beforeAll(async () => {
    trace.setGlobalTracerProvider(recordingTracerProvider(spans));
    stack = await startDispatchStack('dsp_policies');
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
    trace.disable();
  });

  it('opens the breaker after repeated failures, defers fires while open, probes half-open, and closes on success', async () => {
    // A receiver of its own: the breaker is per origin.
    const origin = await startReceiver();
    try {
      let healthy = false;
      origin.respondWith(() => (healthy ? { status: 200, body: 'up' } : { status: 503, body: 'down' }));
      const policy = { max_attempts: 1, breaker: { failure_threshold: 2, cool_down_ms: 2_000 } };
      const first = await stack.plan('test', { endpoint: `${origin.url}/b`, policy });
      const failing = [first, await stack.plan('test', { endpoint: `${origin.url}/b`, policy, scheduleId: first.scheduleId })];
      const failed = await stack.waitForSchedule('test', first.scheduleId, 2, (d) => d.state === 'dead_lettered');

      // Open: these are held back, not sent and not dropped.
      const firstHeld = await stack.plan('test', { endpoint: `${origin.url}/b`, policy });
      const held = [firstHeld, ...(await Promise.all([2, 3].map(() => stack.plan('test', { endpoint: `${origin.url}/b`, policy, scheduleId: firstHeld.scheduleId }))))];
      healthy = true;
      const delivered = await stack.waitForSchedule('test', firstHeld.scheduleId, 3, (d) => d.state === 'succeeded');
      for (const d of delivered) {
        expect(d.attempts).toHaveLength(1);
        expect(d.attempts[0]).toMatchObject({ fire_kind: 'breaker_deferred', status_code: 200 });
      }
      // Nothing reached the origin while the breaker was open: two failures, then the three held fires, each once.
      expect(origin.requests).toHaveLength(5);
      expect(new Set(origin.requests.slice(2).map((r) => r.headers['sched-delivery-id']))).toEqual(new Set(held.map((f) => f.deliveryId)));
      // Half-open lets one probe out first; the others follow only after it succeeded.
      const sent = delivered.map((d) => Date.parse(d.attempts[0].fired_at)).sort((a, b) => a - b);
      expect(failed.map((d) => d.id).sort()).toEqual(failing.map((f) => f.deliveryId).sort());
      const opened = Math.max(...failed.map((d) => Date.parse(d.attempts[0].fired_at)));
      expect(sent[0]).toBeGreaterThanOrEqual(opened + 2_000);
      expect(sent[1]).toBeGreaterThan(sent[0]);
    } finally {
      await origin.close();
    }
  });

  it('defers fires over the per-origin rate limit to their slot in the bucket, never dropping one', async () => {
    const origin = await startReceiver();
    try {
      const due = new Date(Date.now() + 1_500);
      const policy = { rate_limit: { requests: 2, per_ms: 1_000 } };
      const first = await stack.plan('test', { endpoint: `${origin.url}/limited`, at: due, policy });
      await Promise.all(Array.from({ length: 5 }, () => stack.plan('test', { endpoint: `${origin.url}/limited`, at: due, policy, scheduleId: first.scheduleId })));
      const delivered = await stack.waitForSchedule('test', first.scheduleId, 6, (d) => d.state === 'succeeded');
      expect(origin.requests).toHaveLength(6);
      expect(new Set(origin.requests.map((r) => r.headers['sched-delivery-id'])).size).toBe(6);
      const attempts = delivered.map((d) => d.attempts[0]).sort((a, b) => Date.parse(a.fired_at) - Date.parse(b.fired_at));
      expect(attempts.map((a) => a.fire_kind)).toEqual(['first', 'first', 'rate_limited', 'rate_limited', 'rate_limited', 'rate_limited']);
      // A full bucket of 2, then one every 500 ms.
      attempts.forEach((a, i) => {
        expect(a.scheduled_for).toBe(due.toISOString());
        if (i >= 2) expect(Date.parse(a.fired_at)).toBeGreaterThanOrEqual(due.getTime() + (i - 1) * 500 - 2);
      });
    } finally {
      await origin.close();
    }
  });

  it('mocks vendor targets in sandbox and test, and sends them in live', async () => {
    const policy = { vendor: true };
    const mocked = await stack.plan('sandbox', { endpoint: `${receiver.url}/vendor-sandbox`, policy });
    const real = await stack.plan('live', { endpoint: `${receiver.url}/vendor-live`, policy });
    const sandbox = await stack.waitForDelivery('sandbox', mocked.deliveryId, (d) => d.state === 'succeeded');
    expect(sandbox.attempts).toEqual([expect.objectContaining({ mocked: true, status_code: 200, response_body: '{"mocked":true}', error: null })]);
    const live = await stack.waitForDelivery('live', real.deliveryId, (d) => d.state === 'succeeded');
    expect(live.attempts[0].mocked).toBe(false);
    expect(at(receiver, '/vendor-sandbox')).toHaveLength(0);
    expect(at(receiver, '/vendor-live')).toHaveLength(1);
  });

  it('emits a dispatch span and a lag observation per attempt; only live first attempts are SLO-eligible', async () => {
    const live = await stack.api('/v1/schedules', { key: stack.keys.live, body: { endpoint: `${receiver.url}/slo-live`, delay: '1s' } });
    const test = await stack.api('/v1/schedules', { key: stack.keys.test, body: { endpoint: `${receiver.url}/slo-test`, delay: '1s' } });
    expect([live.status, test.status]).toEqual([201, 201]);
    const liveDelivery = await eventually(async () => {
      const res = await stack.api(`/v1/deliveries?schedule=${live.body.id}`, { key: stack.keys.live });
      return res.body.data[0]?.attempts.length === 1 ? (res.body.data[0] as DeliveryView) : undefined;
    });
    await eventually(async () => (await stack.api(`/v1/deliveries?schedule=${test.body.id}`, { key: stack.keys.test })).body.data[0]?.attempts.length === 1);

    const span = spans.find((s) => s.attributes['sched.delivery_id'] === liveDelivery.id);
    expect(span).toMatchObject({
      name: 'dispatch',
      ended: true,
      attributes: { 'sched.environment': 'live', 'sched.fire_kind': 'first', 'sched.slo_eligible': true, 'http.response.status_code': 200 },
    });
    expect(span?.attributes['sched.lag_ms']).toBe(Date.parse(liveDelivery.attempts[0].fired_at) - Date.parse(liveDelivery.attempts[0].scheduled_for));
    expect(spans.filter((s) => s.attributes['sched.environment'] === 'test').every((s) => s.attributes['sched.slo_eligible'] === false)).toBe(true);

    const metrics = await fetch(`${stack.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/schedstack_dispatch_lag_seconds_count\{environment="live",fire_kind="first",slo_eligible="true"\} [1-9]/);
    expect(text).toMatch(/schedstack_dispatch_lag_seconds_count\{environment="test",fire_kind="first",slo_eligible="false"\} [1-9]/);
    // Buckets fine enough to tell 5 ms from 10 ms and 100 ms from 300 ms.
    for (const le of ['0.005', '0.01', '0.1', '0.3']) expect(text).toContain(`schedstack_dispatch_lag_seconds_bucket{le="${le}",environment="live"`);
  });
});

/**
 * SPEC §4 withdrawal of claimed fires. The look-ahead is 10 s here (1 s by default), so a fire is
 * claimed and armed seconds before it is due: the pause or cancel has that long to reach the
 * engine, where a 1 s window was lost on a saturated CI machine and the fire went out.
 */
describe('dispatcher withdrawal of armed fires (local profile, 10 s look-ahead)', () => {
  const LOOK_AHEAD_MS = 10_000;
  let stack: DispatchStack;
  let receiver: Receiver;
  const at = (r: Receiver, path: string) => r.requests.filter((q) => q.path === path);

  beforeAll(async () => {
    stack = await startDispatchStack('dsp_withdraw', { SCHEDSTACK_DISPATCH_LOOKAHEAD_MS: String(LOOK_AHEAD_MS) });
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it.each(['paused', 'canceled'] as const)('withdraws a fire already claimed in the look-ahead window when its schedule is %s', async (how) => {
    const due = new Date(Date.now() + LOOK_AHEAD_MS / 2);
    const withdrawn = await stack.plan('test', { endpoint: `${receiver.url}/withdrawn-${how}`, at: due });
    // Claimed (leased and armed) before the pause arrives.
    await eventually(async () => (await stack.pool.query(`SELECT 1 FROM dsp_due_fires WHERE delivery_id = $1 AND lease_owner IS NOT NULL`, [withdrawn.deliveryId])).rowCount);
    await withdrawSchedule(stack.store, stack.scope('test'), withdrawn.scheduleId, how);
    // A later fire of another schedule arriving proves the withdrawn one's time has passed.
    await stack.plan('test', { endpoint: `${receiver.url}/after-${how}`, at: new Date(due.getTime() + 300) });
    await eventually(async () => at(receiver, `/after-${how}`).length === 1, 20_000);
    expect(at(receiver, `/withdrawn-${how}`)).toHaveLength(0);
    const delivery = await stack.waitForDelivery('test', withdrawn.deliveryId, (d) => d.state === 'canceled');
    expect(delivery.attempts).toHaveLength(0);
  }, 30_000);
});
