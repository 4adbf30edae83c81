import { type CreateScheduleInput, DomainError, type ScheduleTrigger } from '@schedstack/contracts';
import { assertCron, CronSyntaxError, DurationSyntaxError, isValidTimeZone, parseDuration, parseRfc3339 } from '@schedstack/time';

/** How far in the past a `run_at` may be and still be accepted (it then fires at once). */
export const RUN_AT_PAST_TOLERANCE_MS = 5 * 60_000;

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
