import type { SloExclusion, SloWindow } from '@schedstack/contracts';

/** SPEC §7: p99 ≤ objective means at most 1% of eligible fires may be slower. */
export const SLO_TARGET = 0.99;

/** Window length and the sub-interval of its `series`, in milliseconds. */
export const SLO_WINDOWS_MS: Readonly<Record<SloWindow, { readonly lengthMs: number; readonly stepMs: number }>> = {
  '1h': { lengthMs: 3_600_000, stepMs: 300_000 },
  '24h': { lengthMs: 86_400_000, stepMs: 3_600_000 },
  '7d': { lengthMs: 7 * 86_400_000, stepMs: 6 * 3_600_000 },
  '30d': { lengthMs: 30 * 86_400_000, stepMs: 86_400_000 },
};

export const SLO_EXCLUSIONS: readonly SloExclusion[] = ['retry', 'reclaim', 'rate_limited', 'breaker_deferred', 'coalesced', 'dst_shifted', 'catch_up', 'replay', 'non_live'];

/** The error budget of a window: how many eligible fires may be slow, how many were, and what is left. */
export function errorBudget(eligible: number, slow: number, target = SLO_TARGET): { allowed: number; consumed: number; remaining: number; burnRate: number } {
  const allowedFraction = 1 - target;
  const allowed = eligible * allowedFraction;
  if (eligible === 0) return { allowed: 0, consumed: 0, remaining: 1, burnRate: 0 };
  // Fractions of the budget, rounded to 4 places so 1 − 0.01 reads as 0.99 rather than 0.9899999.
  const round = (x: number) => Math.round(x * 10_000) / 10_000;
  return {
    allowed: round(allowed),
    consumed: round(slow / allowed),
    remaining: round(1 - slow / allowed),
    burnRate: round(slow / eligible / allowedFraction),
  };
}
