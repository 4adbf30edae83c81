import { Cron } from 'croner';
import { DateTime, IANAZone } from 'luxon';

export class CronSyntaxError extends Error {}

/** True when `zone` is an IANA time zone name this runtime knows. */
export function isValidTimeZone(zone: string): boolean {
  return typeof zone === 'string' && zone.length > 0 && IANAZone.isValidZone(zone);
}

/** Validates a 5-field (or 6-field, leading seconds) cron expression; throws CronSyntaxError. */
export function assertCron(expression: string, timezone = 'UTC'): void {
  const fields = typeof expression === 'string' ? expression.trim().split(/\s+/) : [];
  if (fields.length !== 5 && fields.length !== 6) {
    throw new CronSyntaxError('must have 5 fields (minute hour day month weekday), or 6 with seconds first');
  }
  try {
    new Cron(expression, { timezone, paused: true });
  } catch (error) {
    throw new CronSyntaxError(`'${expression}' is not a valid cron expression: ${(error as Error).message}`);
  }
}

/** The first fire instant strictly after `after`, in the expression's time zone; null when none. */
export function nextCronFire(expression: string, timezone: string, after: Date): Date | null {
  const cron = new Cron(expression, { timezone, paused: true, legacyMode: true });
  return cron.nextRun(after) ?? null;
}

/** RFC 3339 parse with an explicit offset or Z; null when the text is not one. */
export function parseRfc3339(text: string): Date | null {
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i.test(text)) {
    return null;
  }
  const dt = DateTime.fromISO(text, { setZone: true });
  return dt.isValid ? dt.toJSDate() : null;
}
