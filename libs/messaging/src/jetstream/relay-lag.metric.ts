import { Histogram, register } from 'prom-client';

export const RELAY_LAG_METRIC = 'schedstack_event_relay_lag_seconds';

/** How long an event waited between its append to the store and JetStream's ack (SPEC §1 relay). */
const relayLag: Histogram =
  (register.getSingleMetric(RELAY_LAG_METRIC) as Histogram | undefined) ??
  new Histogram({
    name: RELAY_LAG_METRIC,
    help: 'Event relay lag: JetStream ack time minus the time the event was appended to the event store.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  });

export function observeRelayLag(appendedAt: Date, now = Date.now()): void {
  relayLag.observe(Math.max(0, now - appendedAt.getTime()) / 1000);
}
