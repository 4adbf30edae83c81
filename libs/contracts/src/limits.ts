import { ApiError } from './errors';
import type { Environment, Scope } from './scope';

/** SPEC §5 rate limits and quotas of one environment; a null quota is unlimited. */
export interface LimitsSettings {
  /** Requests per second per API key (or console session), across every gateway replica. */
  readonly requests_per_second: number;
  /** Schedules in state active or paused at one time. */
  readonly active_schedules: number | null;
  /** Deliveries per UTC day. */
  readonly deliveries_per_day: number | null;
}

export interface LimitsView extends LimitsSettings {
  readonly object: 'limits';
  readonly mode: Environment;
  /** null while the defaults apply. */
  readonly updated_at: string | null;
}

/** SPEC §5 defaults: live at full speed, the lower environments throttled. */
export const DEFAULT_LIMITS: { readonly [E in Environment]: LimitsSettings } = {
  live: { requests_per_second: 100, active_schedules: null, deliveries_per_day: null },
  sandbox: { requests_per_second: 10, active_schedules: 1_000, deliveries_per_day: 10_000 },
  test: { requests_per_second: 10, active_schedules: 1_000, deliveries_per_day: 10_000 },
};

export interface LimitsQuery {
  readonly scope: Scope;
}
export interface UpdateLimitsCommand {
  readonly scope: Scope;
  readonly input: Partial<LimitsSettings>;
}

export type QuotaName = 'active_schedules' | 'deliveries_per_day';

/**
 * The error a service throws when a quota is reached (429, naming the quota in `param` and the
 * message). Rate limits are the gateway's; quotas are checked by the service that owns the count.
 */
export function quotaExceeded(quota: QuotaName, limit: number, environment: Environment): ApiError {
  return new ApiError({
    status: 429,
    type: 'rate_limit_error',
    code: 'quota_exceeded',
    message: `The ${quota} quota of ${environment} (${limit}) is reached. An owner can raise it with PATCH /v1/limits.`,
    param: quota,
  });
}
