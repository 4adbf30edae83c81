/**
 * SPEC §4 per-origin rate limit: a token bucket holding `requests` tokens, refilled at
 * `requests / per`. It is kept in GCRA form (the "theoretical arrival time"), so the whole state of
 * an origin is one timestamp that dispatcher replicas can share in one row, and every fire is given
 * a send time instead of a refusal: a held-back fire is deferred to its slot, never dropped.
 */
export interface RateLimit {
  readonly requests: number;
  readonly perMs: number;
}

export interface SlotReservation {
  /** When the fire may go out: `atMs` itself, or later when the bucket is empty. */
  readonly sendAtMs: number;
  /** The bucket's new state. */
  readonly tatMs: number;
}

/** Reserves the first slot at or after `atMs` for one request; `tatMs` null for an unused bucket. */
export function reserveSlot(tatMs: number | null, limit: RateLimit, atMs: number): SlotReservation {
  const interval = limit.perMs / limit.requests;
  // A full bucket lets `requests` go at once: the burst tolerance is one window minus one interval.
  const burst = limit.perMs - interval;
  const tat = tatMs ?? atMs;
  const sendAtMs = Math.max(atMs, tat - burst);
  return { sendAtMs, tatMs: Math.max(tat, sendAtMs) + interval };
}
