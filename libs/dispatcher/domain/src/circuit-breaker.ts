/**
 * SPEC §4 per-origin circuit breaker as a pure state machine:
 * closed ─(failure_threshold consecutive failures)→ open ─(cool_down)→ half-open: one probe goes
 * out while the others wait; its success closes the breaker, its failure opens it again.
 * Held-back fires are deferred (`breaker_deferred`), never dropped.
 */
export interface BreakerSettings {
  readonly failureThreshold: number;
  readonly coolDownMs: number;
}

export type BreakerState =
  | { readonly status: 'closed'; readonly failures: number }
  | { readonly status: 'open'; readonly untilMs: number }
  /** A probe is in flight. */
  | { readonly status: 'half_open'; readonly sinceMs: number };

export const closedBreaker = (): BreakerState => ({ status: 'closed', failures: 0 });

export type BreakerDecision =
  | { readonly kind: 'send'; readonly state: BreakerState }
  | { readonly kind: 'defer'; readonly untilMs: number; readonly state: BreakerState };

/** May a request go out now? */
export function admit(state: BreakerState, settings: BreakerSettings, nowMs: number): BreakerDecision {
  switch (state.status) {
    case 'closed':
      return { kind: 'send', state };
    case 'open':
      if (nowMs < state.untilMs) return { kind: 'defer', untilMs: state.untilMs, state };
      return { kind: 'send', state: { status: 'half_open', sinceMs: nowMs } };
    case 'half_open':
      // A probe that never reports back (its process died) must not hold the origin forever.
      if (nowMs - state.sinceMs >= settings.coolDownMs) return { kind: 'send', state: { status: 'half_open', sinceMs: nowMs } };
      return { kind: 'defer', untilMs: state.sinceMs + settings.coolDownMs, state };
    default: {
      const unreachable: never = state;
      throw new Error(`unknown breaker state ${JSON.stringify(unreachable)}`);
    }
  }
}

/** Folds in the outcome of a request that went out. Only failures the retry policy would retry count. */
export function recordOutcome(state: BreakerState, settings: BreakerSettings, failed: boolean, nowMs: number): BreakerState {
  if (!failed) return closedBreaker();
  switch (state.status) {
    case 'closed':
      return state.failures + 1 >= settings.failureThreshold
        ? { status: 'open', untilMs: nowMs + settings.coolDownMs }
        : { status: 'closed', failures: state.failures + 1 };
    case 'half_open':
      return { status: 'open', untilMs: nowMs + settings.coolDownMs };
    case 'open':
      return state;
    default: {
      const unreachable: never = state;
      throw new Error(`unknown breaker state ${JSON.stringify(unreachable)}`);
    }
  }
}
