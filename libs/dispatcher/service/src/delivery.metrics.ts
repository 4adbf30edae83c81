import type { DeliveryState, Environment } from '@schedstack/contracts';
import { Counter, Gauge, register } from 'prom-client';
import type { Pool } from 'pg';

/**
 * SPEC §7 operational metrics of the dispatcher, on prom-client's default registry (`/metrics`):
 * delivery outcomes, the due-fire queue (due within a minute, overdue) and lease reclaims. The
 * Grafana SLO dashboard and the alert rules in deploy/prometheus read these names.
 */

type OutcomeLabels = 'environment' | 'outcome';

function single<T>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

const deliveries = single(
  'schedstack_deliveries_total',
  () => new Counter<OutcomeLabels>({ name: 'schedstack_deliveries_total', help: 'Attempts by the state they left the delivery in.', labelNames: ['environment', 'outcome'] }),
);

const reclaims = single(
  'schedstack_lease_reclaims_total',
  () => new Counter<'environment'>({ name: 'schedstack_lease_reclaims_total', help: 'Due fires taken over after another dispatcher lease expired.', labelNames: ['environment'] }),
);

/** A fire this long past due and still pending counts as overdue (the claim loop polls every 100 ms). */
const OVERDUE_AFTER_MS = 5_000;

/** Where the queue-depth gauge reads from: the due-fires table of this process's dispatcher. */
let queueSource: Pool | null = null;

single(
  'schedstack_due_fires',
  () =>
    new Gauge<'state'>({
      name: 'schedstack_due_fires',
      help: 'Pending due fires: due within the next minute, or overdue (more than 5 s past due).',
      labelNames: ['state'],
      async collect() {
        if (!queueSource) return;
        const { rows } = await queueSource
          .query<{ soon: string; overdue: string }>(
            `SELECT count(*) FILTER (WHERE fire_at BETWEEN now() - make_interval(secs => $1::float8 / 1000) AND now() + interval '1 minute') AS soon,
                    count(*) FILTER (WHERE fire_at < now() - make_interval(secs => $1::float8 / 1000)) AS overdue
               FROM dsp_due_fires WHERE state = 'pending' AND fire_at < now() + interval '1 minute'`,
            [OVERDUE_AFTER_MS],
          )
          .catch(() => ({ rows: [] as { soon: string; overdue: string }[] }));
        // Both states are always reported, so an absent series never hides an empty queue.
        this.set({ state: 'due_within_1m' }, Number(rows[0]?.soon ?? 0));
        this.set({ state: 'overdue' }, Number(rows[0]?.overdue ?? 0));
      },
    }),
);

/** Points the queue-depth gauge at a dispatcher's pool (null when it stops). */
export function exposeQueueDepth(pool: Pool | null): void {
  queueSource = pool;
}

export function countOutcome(environment: Environment, state: DeliveryState): void {
  deliveries.inc({ environment, outcome: state });
}

export function countReclaim(environment: Environment): void {
  reclaims.inc({ environment });
}
