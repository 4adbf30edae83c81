import type { SloExclusion, SloQuery, SloReport } from '@schedstack/contracts';
import { errorBudget, SLO_EXCLUSIONS, SLO_TARGET, SLO_WINDOWS_MS } from '@schedstack/dispatcher-domain';
import type { Pool } from 'pg';

/**
 * SPEC §7 `GET /v1/slo`, from the recorded attempts (`dsp_attempts`, one row per
 * `delivery.attempted`). Percentiles are nearest-rank (`percentile_disc`) over eligible attempts:
 * live first attempts only; everything else is counted under the reason it is excluded.
 */
export async function sloReport(pool: Pool, { scope, window }: SloQuery, now: Date, objectiveMs: number): Promise<SloReport> {
  const { lengthMs, stepMs } = SLO_WINDOWS_MS[window];
  const to = now;
  const from = new Date(now.getTime() - lengthMs);
  const live = scope.environment === 'live';
  const params = [scope.projectId, scope.environment, from, to, live];
  const attempts = `SELECT fire_kind, fired_at, lag_ms, ($5::boolean AND fire_kind = 'first') AS eligible
                      FROM dsp_attempts WHERE project_id = $1 AND environment = $2 AND fired_at > $3 AND fired_at <= $4`;
  const [summary, excluded, series] = await Promise.all([
    pool.query<{ eligible: string; slow: string; p: number[] | null }>(
      `WITH a AS (${attempts})
       SELECT count(*) FILTER (WHERE eligible) AS eligible,
              count(*) FILTER (WHERE eligible AND lag_ms > $6) AS slow,
              percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY lag_ms) FILTER (WHERE eligible) AS p
         FROM a`,
      [...params, objectiveMs],
    ),
    pool.query<{ reason: SloExclusion; n: string }>(
      `WITH a AS (${attempts})
       SELECT CASE WHEN $5::boolean THEN fire_kind ELSE 'non_live' END AS reason, count(*) AS n FROM a WHERE NOT eligible GROUP BY 1`,
      params,
    ),
    pool.query<{ i: number; n: string; p99: number }>(
      `WITH a AS (${attempts})
       SELECT floor(extract(epoch FROM fired_at - $3::timestamptz) * 1000 / $6)::int AS i, count(*) AS n,
              percentile_disc(0.99) WITHIN GROUP (ORDER BY lag_ms) AS p99
         FROM a WHERE eligible GROUP BY 1`,
      [...params, stepMs],
    ),
  ]);
  const row = summary.rows[0];
  const eligible = Number(row.eligible);
  const slow = Number(row.slow);
  const [p50, p90, p99] = row.p ?? [null, null, null];
  const budget = errorBudget(eligible, slow);
  const excludedCounts = Object.fromEntries(SLO_EXCLUSIONS.map((k) => [k, 0])) as Record<SloExclusion, number>;
  for (const r of excluded.rows) excludedCounts[r.reason] = (excludedCounts[r.reason] ?? 0) + Number(r.n);
  const byStep = new Map(series.rows.map((r) => [r.i, r]));
  const steps = Math.ceil(lengthMs / stepMs);
  const ms = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
  return {
    object: 'slo',
    mode: scope.environment,
    window,
    from: from.toISOString(),
    to: to.toISOString(),
    objective: { percentile: 99, threshold_ms: objectiveMs, target: SLO_TARGET },
    eligible_count: eligible,
    slow_count: slow,
    lag_ms: { p50: ms(p50), p90: ms(p90), p99: ms(p99) },
    excluded: excludedCounts,
    error_budget: { allowed: budget.allowed, consumed: budget.consumed, remaining: budget.remaining },
    burn_rate: budget.burnRate,
    series: Array.from({ length: steps }, (_, i) => {
      const step = byStep.get(i);
      return { at: new Date(from.getTime() + i * stepMs).toISOString(), p99_ms: step ? ms(step.p99) : null, count: step ? Number(step.n) : 0 };
    }),
  };
}
