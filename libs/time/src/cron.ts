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
    new Cron(expression, { timezone, paused: true, mode: '5-or-6-parts' });
  } catch (error) {
    throw new CronSyntaxError(`'${expression}' is not a valid cron expression: ${(error as Error).message}`);
  }
}

/** One fire of a cron expression: the instant, and whether DST moved it out of a gap. */
export interface CronOccurrence {
  readonly at: Date;
  /** The named local time did not exist (spring-forward gap); `at` is the first instant after the gap. */
  readonly dstShifted: boolean;
}

const HOUR_MS = 3_600_000;

/**
 * SPEC §3 DST rules, applied on top of croner. The expression is matched against local wall-clock
 * time (a "naive" time held in a Date's UTC fields), and each matching wall time is then placed on
 * the time line: a time that does not exist fires at the first instant after the gap
 * (`dstShifted`), a time that occurs twice fires once, at its first occurrence, and wall times that
 * land on an instant already fired collapse into that one fire.
 *
 * Why not croner's own `timezone` option: croner runs "interval" jobs (`0 * * * *`, `*\/15 …`) on
 * both occurrences of a repeated hour, which would fire twice on a fall-back night.
 */
export function* cronOccurrences(expression: string, timezone: string, after: Date): Generator<CronOccurrence> {
  const wallClock = new Cron(expression, { timezone: 'UTC', paused: true, mode: '5-or-6-parts' });
  const zone = IANAZone.create(timezone);
  let wallCursor = new Date(wallTimeOf(after.getTime(), zone));
  let lastFired = after.getTime();
  for (;;) {
    const wall = wallClock.nextRun(wallCursor);
    if (!wall) return;
    wallCursor = wall;
    const instants = instantsOfWallTime(wall.getTime(), zone);
    const at = instants.length > 0 ? instants[0] : gapEndOf(wall.getTime(), zone);
    if (at <= lastFired) continue;
    lastFired = at;
    // A shifted fire that lands on a time the expression names anyway is that regular fire.
    const dstShifted = instants.length === 0 && !wallClock.match(new Date(wallTimeOf(at, zone)));
    yield { at: new Date(at), dstShifted };
  }
}

/** The first fire strictly after `after`, DST rules applied; null when the expression never fires again. */
export function nextCronOccurrence(expression: string, timezone: string, after: Date): CronOccurrence | null {
  const next = cronOccurrences(expression, timezone, after).next();
  return next.done ? null : next.value;
}

/** The first fire instant strictly after `after`, in the expression's time zone; null when none. */
export function nextCronFire(expression: string, timezone: string, after: Date): Date | null {
  return nextCronOccurrence(expression, timezone, after)?.at ?? null;
}

/** The local wall-clock time of an instant, as epoch milliseconds whose UTC fields are the local fields. */
function wallTimeOf(instant: number, zone: IANAZone): number {
  return instant + zone.offset(instant) * 60_000;
}

/**
 * The instants at which the zone's clocks show `wall`, earliest first: one normally, two in a
 * fall-back overlap, none in a spring-forward gap. UTC offsets never exceed 14 hours, so every
 * offset that can apply is in force somewhere within 15 hours of the wall time read as UTC.
 */
function instantsOfWallTime(wall: number, zone: IANAZone): number[] {
  const offsets = new Set([zone.offset(wall - 15 * HOUR_MS), zone.offset(wall), zone.offset(wall + 15 * HOUR_MS)]);
  const instants = [...offsets].map((offset) => wall - offset * 60_000).filter((instant) => wallTimeOf(instant, zone) === wall);
  return [...new Set(instants)].sort((a, b) => a - b);
}

/** For a wall time inside a spring-forward gap: the first instant after the gap (the transition). */
function gapEndOf(wall: number, zone: IANAZone): number {
  const before = zone.offset(wall - 15 * HOUR_MS);
  const after = zone.offset(wall + 15 * HOUR_MS);
  // The transition lies in (wall − after, wall − before]: still `before` at the low end, `after` at the high end.
  let low = wall - after * 60_000;
  let high = wall - before * 60_000;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (zone.offset(middle) === before) low = middle;
    else high = middle;
  }
  return high;
}

/** RFC 3339 parse with an explicit offset or Z; null when the text is not one. */
export function parseRfc3339(text: string): Date | null {
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i.test(text)) {
    return null;
  }
  const dt = DateTime.fromISO(text, { setZone: true });
  return dt.isValid ? dt.toJSDate() : null;
}
