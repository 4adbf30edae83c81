import type { DeliveryPolicy } from '@schedstack/contracts';

/** SPEC §4 retries: the one pure function that says what happens after an attempt. */

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly timeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  initialBackoffMs: 1_000,
  maxBackoffMs: 3_600_000,
  timeoutMs: 30_000,
};

/** The longest `Retry-After` honoured when the process's own cap is shorter. */
export const RETRY_AFTER_CEILING_MS = 3_600_000;

/** A process's settings override the defaults one by one (SPEC §4 "a process overrides each"). */
export function retryPolicyOf(policy: DeliveryPolicy | null | undefined): RetryPolicy {
  return {
    maxAttempts: policy?.max_attempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
    initialBackoffMs: policy?.backoff?.initial_ms ?? DEFAULT_RETRY_POLICY.initialBackoffMs,
    maxBackoffMs: policy?.backoff?.max_ms ?? DEFAULT_RETRY_POLICY.maxBackoffMs,
    timeoutMs: policy?.timeout_ms ?? DEFAULT_RETRY_POLICY.timeoutMs,
  };
}

/**
 * What an attempt produced, as far as the policy cares. `refused`: the request was never sent
 * because the outbound guard blocked the endpoint, which no retry can change.
 */
export type AttemptResult =
  | { readonly kind: 'response'; readonly status: number; readonly retryAfterMs?: number | null }
  | { readonly kind: 'network_error' | 'timeout' | 'refused' };

export type NextStep =
  | { readonly kind: 'succeeded' }
  | { readonly kind: 'retry'; readonly retryAt: Date }
  | { readonly kind: 'dead_letter'; readonly reason: 'permanent_failure' | 'attempts_exhausted' };

export function isRetryable(result: AttemptResult): boolean {
  if (result.kind === 'refused') return false;
  if (result.kind !== 'response') return true;
  return result.status === 408 || result.status === 429 || result.status >= 500;
}

/**
 * After attempt number `attempt` (1-based) ended with `result` at `now`: succeed, retry at a time
 * chosen by exponential backoff with full jitter (or the server's Retry-After), or dead-letter.
 * `random` is a [0, 1) source so tests are deterministic.
 */
export function nextAttempt(
  policy: RetryPolicy,
  attempt: number,
  result: AttemptResult,
  now: Date,
  random: () => number,
): NextStep {
  if (result.kind === 'response' && result.status >= 200 && result.status < 300) return { kind: 'succeeded' };
  if (!isRetryable(result)) return { kind: 'dead_letter', reason: 'permanent_failure' };
  if (attempt >= policy.maxAttempts) return { kind: 'dead_letter', reason: 'attempts_exhausted' };
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
  let delay = Math.floor(random() * ceiling);
  if (result.kind === 'response' && result.retryAfterMs != null && result.retryAfterMs >= 0) {
    // The receiver said when it can take the request again: never sooner, even past the process's
    // backoff cap, but not beyond a ceiling, so a server cannot park a delivery for days.
    delay = Math.max(delay, Math.min(result.retryAfterMs, Math.max(policy.maxBackoffMs, RETRY_AFTER_CEILING_MS)));
  }
  return { kind: 'retry', retryAt: new Date(now.getTime() + delay) };
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined | null, now: Date): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now.getTime());
}
