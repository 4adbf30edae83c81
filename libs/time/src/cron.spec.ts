import fc from 'fast-check';
import { DateTime, IANAZone } from 'luxon';
import { assertCron, CronSyntaxError, cronOccurrences, nextCronOccurrence, parseRfc3339 } from './cron';

/** The first `count` fires after `after`, as `<ISO instant>` or `<ISO instant> dst_shifted`. */
function fires(expression: string, zone: string, after: string, count: number): string[] {
  const out: string[] = [];
  for (const fire of cronOccurrences(expression, zone, new Date(after))) {
    out.push(`${fire.at.toISOString()}${fire.dstShifted ? ' dst_shifted' : ''}`);
    if (out.length === count) break;
  }
  return out;
}

describe('cron fires across DST transitions (SPEC §3)', () => {
  // 2026 transitions: Berlin 29 Mar / 25 Oct at 01:00Z; New York 8 Mar 07:00Z / 1 Nov 06:00Z;
  // Lord Howe (30-minute shift) 3 Oct 15:30Z (02:00 → 02:30) / 4 Apr 15:00Z (02:00 → 01:30).
  it.each([
    // ── Europe/Berlin, spring forward: 02:00–03:00 does not exist ──
    ['Europe/Berlin', '30 2 * * *', '2026-03-28T12:00:00Z', ['2026-03-29T01:00:00.000Z dst_shifted', '2026-03-30T00:30:00.000Z']],
    ['Europe/Berlin', '*/30 2 * * *', '2026-03-28T12:00:00Z', ['2026-03-29T01:00:00.000Z dst_shifted', '2026-03-30T00:00:00.000Z']],
    ['Europe/Berlin', '0 * * * *', '2026-03-28T23:30:00Z', ['2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z']],
    // ── Europe/Berlin, fall back: 02:00–03:00 happens twice ──
    ['Europe/Berlin', '30 2 * * *', '2026-10-24T12:00:00Z', ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']],
    ['Europe/Berlin', '0 * * * *', '2026-10-24T23:30:00Z', ['2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z']],
    ['Europe/Berlin', '*/20 2 * * *', '2026-10-24T12:00:00Z', ['2026-10-25T00:00:00.000Z', '2026-10-25T00:20:00.000Z', '2026-10-25T00:40:00.000Z', '2026-10-26T01:00:00.000Z']],
    // Seen from inside the second 02:xx, the repeated times have already fired.
    ['Europe/Berlin', '0 * * * *', '2026-10-25T01:10:00Z', ['2026-10-25T02:00:00.000Z']],
    // ── America/New_York ──
    ['America/New_York', '30 2 * * *', '2026-03-07T12:00:00Z', ['2026-03-08T07:00:00.000Z dst_shifted', '2026-03-09T06:30:00.000Z']],
    ['America/New_York', '30 1 * * *', '2026-10-31T12:00:00Z', ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']],
    ['America/New_York', '0 1,2 * * *', '2026-10-31T12:00:00Z', ['2026-11-01T05:00:00.000Z', '2026-11-01T07:00:00.000Z', '2026-11-02T06:00:00.000Z']],
    // ── Australia/Lord_Howe: a 30-minute shift ──
    ['Australia/Lord_Howe', '15 2 * * *', '2026-10-03T00:00:00Z', ['2026-10-03T15:30:00.000Z dst_shifted', '2026-10-04T15:15:00.000Z']],
    ['Australia/Lord_Howe', '30 2 * * *', '2026-10-03T00:00:00Z', ['2026-10-03T15:30:00.000Z', '2026-10-04T15:30:00.000Z']],
    ['Australia/Lord_Howe', '45 1 * * *', '2026-04-04T00:00:00Z', ['2026-04-04T14:45:00.000Z', '2026-04-05T15:15:00.000Z']],
    ['Australia/Lord_Howe', '*/15 * * * *', '2026-04-04T14:20:00Z', ['2026-04-04T14:30:00.000Z', '2026-04-04T14:45:00.000Z', '2026-04-04T15:30:00.000Z']],
    // ── Asia/Tokyo: no DST, so the other zones' transition nights are ordinary ──
    ['Asia/Tokyo', '30 2 * * *', '2026-03-28T12:00:00Z', ['2026-03-28T17:30:00.000Z', '2026-03-29T17:30:00.000Z']],
    ['Asia/Tokyo', '30 2 * * *', '2026-10-24T12:00:00Z', ['2026-10-24T17:30:00.000Z', '2026-10-25T17:30:00.000Z']],
    ['Asia/Tokyo', '0 * * * *', '2026-11-01T04:30:00Z', ['2026-11-01T05:00:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T07:00:00.000Z']],
    // ── seconds field ──
    ['UTC', '*/1 * * * * *', '2026-04-04T00:00:00.500Z', ['2026-04-04T00:00:01.000Z', '2026-04-04T00:00:02.000Z', '2026-04-04T00:00:03.000Z']],
  ])('%s %s after %s', (zone, expression, after, expected) => {
    expect(fires(expression, zone, after, expected.length)).toEqual(expected);
  });

  it('never fires at the instant it starts from', () => {
    expect(nextCronOccurrence('0 9 * * *', 'UTC', new Date('2026-04-04T09:00:00Z'))?.at.toISOString()).toBe('2026-04-05T09:00:00.000Z');
  });

  it('ends when the expression names no real date', () => {
    expect(nextCronOccurrence('0 0 30 2 *', 'UTC', new Date('2026-01-01T00:00:00Z'))).toBeNull();
  });
});

describe('cron syntax', () => {
  it.each(['0 9 * * 1-5', '*/1 * * * * *', '0 0 1 JAN *', '0 9 * * MON'])('accepts %j', (expression) => {
    expect(() => assertCron(expression)).not.toThrow();
  });

  it.each(['', '* * * *', '* * * * * * *', '61 * * * *', '0 25 * * *', 'every day', '0 9 * * 8', '@daily'])('rejects %j', (expression) => {
    expect(() => assertCron(expression)).toThrow(CronSyntaxError);
  });

  it('parses RFC 3339 with an offset and refuses local times', () => {
    expect(parseRfc3339('2026-05-01T09:00:00+02:00')?.toISOString()).toBe('2026-05-01T07:00:00.000Z');
    expect(parseRfc3339('2026-05-01T09:00:00')).toBeNull();
    expect(parseRfc3339('2026-02-30T09:00:00Z')).toBeNull();
  });
});

// ── properties ─────────────────────────────────────────────────────────────────
const ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Tokyo', 'America/Santiago', 'UTC'];

/** A cron field together with the values it names, so the properties check croner independently. */
const field = (values: number[], text: string) => ({ text, values: new Set(values) });
const range = (from: number, to: number, step = 1) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

const minuteField = fc.oneof(
  fc.integer({ min: 0, max: 59 }).map((m) => field([m], String(m))),
  fc.constant(field(range(0, 59, 15), '*/15')),
  fc.constant(field([0, 30], '0,30')),
);
const hourField = fc.oneof(
  // The hours in which transitions happen, weighted so most runs cross a gap or an overlap.
  fc.constantFrom(0, 1, 2, 3).map((h) => field([h], String(h))),
  fc.integer({ min: 0, max: 23 }).map((h) => field([h], String(h))),
  fc.constant(field(range(1, 3), '1-3')),
  fc.constant(field(range(0, 23), '*')),
);
const weekdayField = fc.oneof(
  fc.constant(field(range(0, 6), '*')),
  fc.constant(field(range(1, 5), '1-5')),
  fc.constant(field([0, 6], '0,6')),
  fc.integer({ min: 0, max: 6 }).map((d) => field([d], String(d))),
);
const schedule = fc.record({
  minute: minuteField,
  hour: hourField,
  weekday: weekdayField,
  zone: fc.constantFrom(...ZONES),
  start: fc.date({ min: new Date('2024-01-01T00:00:00Z'), max: new Date('2030-12-31T00:00:00Z'), noInvalidDate: true }),
});

type Field = ReturnType<typeof field>;

function sample(s: { minute: Field; hour: Field; weekday: Field; zone: string; start: Date }) {
  const expression = `${s.minute.text} ${s.hour.text} * * ${s.weekday.text}`;
  const out = [];
  for (const fire of cronOccurrences(expression, s.zone, s.start)) {
    out.push({ ...fire, local: DateTime.fromJSDate(fire.at, { zone: s.zone }) });
    if (out.length === 40) break;
  }
  return out;
}

describe('cron fire properties (fast-check)', () => {
  it('fires at strictly increasing instants, never the same one twice', () => {
    fc.assert(
      fc.property(schedule, (s) => {
        const got = sample(s);
        for (let i = 1; i < got.length; i++) expect(got[i].at.getTime()).toBeGreaterThan(got[i - 1].at.getTime());
        expect(got[0].at.getTime()).toBeGreaterThan(s.start.getTime());
      }),
      { numRuns: 150 },
    );
  });

  it('fires only at times the expression names, or at the end of a DST gap', () => {
    fc.assert(
      fc.property(schedule, (s) => {
        const zone = IANAZone.create(s.zone);
        for (const fire of sample(s)) {
          if (fire.dstShifted) {
            expect(zone.offset(fire.at.getTime() - 1)).toBeLessThan(zone.offset(fire.at.getTime()));
          } else {
            expect(s.minute.values.has(fire.local.minute)).toBe(true);
            expect(s.hour.values.has(fire.local.hour)).toBe(true);
            expect(s.weekday.values.has(fire.local.weekday % 7)).toBe(true);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('fires each local time once, even when the clock shows it twice', () => {
    fc.assert(
      fc.property(schedule, (s) => {
        const walls = sample(s).map((f) => f.local.toFormat('yyyy-MM-dd HH:mm:ss'));
        expect(new Set(walls).size).toBe(walls.length);
      }),
      { numRuns: 150 },
    );
  });

  it('never skips a day the expression names', () => {
    fc.assert(
      fc.property(schedule, (s) => {
        const got = sample(s);
        const firedDays = new Set(got.map((f) => f.local.toISODate()));
        const first = got[0].local.startOf('day');
        const last = got[got.length - 1].local.startOf('day');
        // Days strictly between the first and the last fire are whole days inside the sample.
        for (let day = first.plus({ days: 1 }); day < last; day = day.plus({ days: 1 })) {
          if (s.weekday.values.has(day.weekday % 7)) expect(firedDays.has(day.toISODate())).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });
});
