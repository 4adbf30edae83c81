import { propagation, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Environment, FireKind } from '@schedstack/contracts';
import { Histogram, register } from 'prom-client';

/**
 * SPEC §7 telemetry of one attempt: the `dispatch` span and the `schedstack_dispatch_lag_seconds`
 * observation, where lag = fired_at − scheduled_for. Only live first attempts count toward the SLO.
 */

export const DISPATCH_LAG_METRIC = 'schedstack_dispatch_lag_seconds';

/** Fine around the 10 ms target and the 300 ms objective, so 5 ms tells from 10 ms and 100 ms from 300 ms. */
export const DISPATCH_LAG_BUCKETS = [
  0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600,
];

/** Registered once per process on prom-client's default registry, which `GET /metrics` exposes. */
const dispatchLag: Histogram<'environment' | 'fire_kind' | 'slo_eligible'> =
  (register.getSingleMetric(DISPATCH_LAG_METRIC) as Histogram<'environment' | 'fire_kind' | 'slo_eligible'> | undefined) ??
  new Histogram({
    name: DISPATCH_LAG_METRIC,
    help: 'Dispatch lag: when the request went out minus when it was scheduled for, per attempt.',
    labelNames: ['environment', 'fire_kind', 'slo_eligible'],
    buckets: DISPATCH_LAG_BUCKETS,
  });

const tracer = trace.getTracer('schedstack-dispatcher');

/** SPEC §7: test and sandbox, retries, reclaims, deferrals, coalesced and DST-shifted fires are excluded. */
export function isSloEligible(environment: Environment, fireKind: FireKind): boolean {
  return environment === 'live' && fireKind === 'first';
}

export interface DispatchRecord {
  readonly environment: Environment;
  readonly fireKind: FireKind;
  readonly scheduledFor: Date;
  readonly firedAt: Date;
  readonly endedAt: Date;
  readonly deliveryId: string;
  readonly attempt: number;
  readonly statusCode: number | null;
  readonly error: string | null;
  /** The planning request's trace carrier: the span joins that trace (SPEC §7). */
  readonly trace?: Record<string, string> | null;
}

/**
 * Records one attempt after the response: the span is back-dated to `firedAt`, so nothing of
 * this runs between the timer and the socket.
 */
export function recordDispatch(record: DispatchRecord): void {
  const lagMs = record.firedAt.getTime() - record.scheduledFor.getTime();
  const eligible = isSloEligible(record.environment, record.fireKind);
  dispatchLag.observe({ environment: record.environment, fire_kind: record.fireKind, slo_eligible: String(eligible) }, Math.max(0, lagMs) / 1000);
  const span = tracer.startSpan('dispatch', {
    startTime: record.firedAt,
    attributes: {
      'sched.environment': record.environment,
      'sched.fire_kind': record.fireKind,
      'sched.slo_eligible': eligible,
      'sched.lag_ms': lagMs,
      'sched.delivery_id': record.deliveryId,
      'sched.attempt': record.attempt,
    },
  }, record.trace ? propagation.extract(ROOT_CONTEXT, record.trace) : undefined);
  if (record.statusCode !== null) span.setAttribute('http.response.status_code', record.statusCode);
  if (record.error) span.setStatus({ code: SpanStatusCode.ERROR, message: record.error });
  span.end(record.endedAt);
}
