/**
 * Durations in the API's syntax (SPEC §3): one or more `<integer><unit>` parts, units d, h, m, s
 * and ms, largest first, each at most once — `"30s"`, `"5m"`, `"1h30m"`, `"2d"`, `"250ms"`.
 */
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
const UNIT_ORDER = ['d', 'h', 'm', 's', 'ms'] as const;
type Unit = (typeof UNIT_ORDER)[number];

export class DurationSyntaxError extends Error {}

/** Parses a duration into milliseconds, or throws DurationSyntaxError saying what is wrong. */
export function parseDuration(text: string): number {
  if (typeof text !== 'string' || text.length === 0 || text.length > 32) {
    throw new DurationSyntaxError('must be a duration such as "30s", "5m", "1h30m" or "2d"');
  }
  const parts = [...text.matchAll(/(\d+)(ms|d|h|m|s)/g)];
  if (parts.map((p) => p[0]).join('') !== text) {
    throw new DurationSyntaxError(`'${text}' is not a duration such as "30s", "5m", "1h30m" or "2d"`);
  }
  let total = 0;
  let lastUnitIndex = -1;
  for (const [, amount, unit] of parts) {
    const index = UNIT_ORDER.indexOf(unit as Unit);
    if (index <= lastUnitIndex) {
      throw new DurationSyntaxError(`'${text}': units must go from largest to smallest, each once`);
    }
    lastUnitIndex = index;
    total += Number(amount) * UNIT_MS[unit as Unit];
  }
  if (!Number.isSafeInteger(total)) throw new DurationSyntaxError(`'${text}' is too long`);
  return total;
}

/** Milliseconds back into the same syntax (`5400000` → `"1h30m"`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of UNIT_ORDER) {
    const amount = Math.floor(rest / UNIT_MS[unit]);
    if (amount > 0) {
      out += `${amount}${unit}`;
      rest -= amount * UNIT_MS[unit];
    }
  }
  return out;
}
