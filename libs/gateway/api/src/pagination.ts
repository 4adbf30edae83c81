import { ApiError } from '@schedstack/contracts';

/** SPEC §9 list parameters: `limit` 1–100 (default 10). */
export function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return 10;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > 100) throw ApiError.invalid('limit', 'limit must be an integer from 1 to 100');
  return value;
}
