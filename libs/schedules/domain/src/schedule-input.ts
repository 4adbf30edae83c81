import { type CreateScheduleInput, DomainError, type ScheduleTrigger } from '@schedstack/contracts';
import { assertCron, CronSyntaxError, DurationSyntaxError, isValidTimeZone, parseDuration, parseRfc3339 } from '@schedstack/time';
import { DEFAULT_CATCH_UP, DEFAULT_CATCH_UP_WINDOW, type ScheduleSettings } from './schedule.decider';

/** How far in the past a `run_at` may be and still be accepted (it then fires at once). */
export const RUN_AT_PAST_TOLERANCE_MS = 5 * 60_000;

/** Longer windows would let one restart fire days of backlog at once. */
export const MAX_CATCH_UP_WINDOW_MS = 7 * 86_400_000;
export const MAX_FIRES_LIMIT = 1_000_000;

/** SPEC §3: exactly one of delay, run_at, cron; turns it into the trigger the aggregate stores. */
export function triggerFromInput(input: CreateScheduleInput, now: Date): ScheduleTrigger {
  const given = (['delay', 'run_at', 'cron'] as const).filter((k) => input[k] !== undefined);
  if (given.length !== 1) {
    throw new DomainError(
      'invalid',
      given.length === 0 ? 'parameter_missing' : 'parameter_conflict',
      given.length === 0
        ? 'Say when to fire: exactly one of delay, run_at or cron is required'
        : `Exactly one of delay, run_at or cron is allowed, got ${given.join(' and ')}`,
      given.length === 0 ? 'delay' : given[1],
    );
  }
  if (input.timezone !== undefined && input.cron === undefined) {
    throw new DomainError('invalid', 'parameter_unexpected', 'timezone applies only to cron schedules', 'timezone');
  }
  if (input.delay !== undefined) {
    try {
      const ms = parseDuration(input.delay);
      return { kind: 'once', delay: input.delay, run_at: new Date(now.getTime() + ms).toISOString() };
    } catch (error) {
      if (error instanceof DurationSyntaxError) throw new DomainError('invalid', 'parameter_invalid', `delay ${error.message}`, 'delay');
      throw error;
    }
  }
  if (input.run_at !== undefined) {
    const at = parseRfc3339(input.run_at);
    if (!at) {
      throw new DomainError('invalid', 'parameter_invalid', `run_at must be an RFC 3339 timestamp with an offset, such as 2026-05-01T09:00:00Z`, 'run_at');
    }
    // A little slack for clock skew and slow clients: such a run_at fires at once (docs/decisions.md).
    if (at.getTime() < now.getTime() - RUN_AT_PAST_TOLERANCE_MS) {
      throw new DomainError('invalid', 'parameter_invalid', 'run_at is more than 5 minutes in the past', 'run_at');
    }
    return { kind: 'once', run_at: at.toISOString() };
  }
  const timezone = input.timezone ?? 'UTC';
  if (!isValidTimeZone(timezone)) {
    throw new DomainError('invalid', 'parameter_invalid', `timezone '${timezone}' is not an IANA time zone such as Europe/Berlin`, 'timezone');
  }
  try {
    assertCron(input.cron as string, timezone);
  } catch (error) {
    if (error instanceof CronSyntaxError) throw new DomainError('invalid', 'parameter_invalid', `cron ${error.message}`, 'cron');
    throw error;
  }
  return { kind: 'cron', cron: (input.cron as string).trim(), timezone };
}

/** SPEC §3 recurrence settings: `ends_at`, `max_fires`, `catch_up`, `catch_up_window` (cron schedules only). */
export function settingsFromInput(input: CreateScheduleInput, trigger: ScheduleTrigger, now: Date): ScheduleSettings {
  if (trigger.kind === 'once') {
    const misplaced = (['ends_at', 'max_fires', 'catch_up', 'catch_up_window'] as const).find((k) => input[k] !== undefined);
    if (misplaced) {
      throw new DomainError('invalid', 'parameter_unexpected', `${misplaced} applies only to cron schedules (a one-off schedule fires once)`, misplaced);
    }
    return { catchUp: null, catchUpWindow: null, endsAt: null, maxFires: null };
  }
  const catchUpWindow = input.catch_up_window ?? DEFAULT_CATCH_UP_WINDOW;
  let windowMs: number;
  try {
    windowMs = parseDuration(catchUpWindow);
  } catch (error) {
    if (error instanceof DurationSyntaxError) {
      throw new DomainError('invalid', 'parameter_invalid', `catch_up_window ${error.message}`, 'catch_up_window');
    }
    throw error;
  }
  if (windowMs <= 0 || windowMs > MAX_CATCH_UP_WINDOW_MS) {
    throw new DomainError('invalid', 'parameter_invalid', 'catch_up_window must be more than 0s and at most 7d', 'catch_up_window');
  }
  let endsAt: string | null = null;
  if (input.ends_at !== undefined) {
    const at = parseRfc3339(input.ends_at);
    if (!at) throw new DomainError('invalid', 'parameter_invalid', 'ends_at must be an RFC 3339 timestamp with an offset, such as 2026-12-31T23:59:59Z', 'ends_at');
    if (at.getTime() <= now.getTime()) throw new DomainError('invalid', 'parameter_invalid', 'ends_at must be in the future', 'ends_at');
    endsAt = at.toISOString();
  }
  const maxFires = input.max_fires ?? null;
  if (maxFires !== null && (!Number.isSafeInteger(maxFires) || maxFires < 1 || maxFires > MAX_FIRES_LIMIT)) {
    throw new DomainError('invalid', 'parameter_invalid', `max_fires must be an integer from 1 to ${MAX_FIRES_LIMIT}`, 'max_fires');
  }
  return { catchUp: input.catch_up ?? DEFAULT_CATCH_UP, catchUpWindow, endsAt, maxFires };
}
