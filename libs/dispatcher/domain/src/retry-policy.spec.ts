import fc from 'fast-check';
import { DEFAULT_RETRY_POLICY, nextAttempt, parseRetryAfter, RETRY_AFTER_CEILING_MS, retryPolicyOf } from './retry-policy';

const now = new Date('2026-01-01T00:00:00Z');

describe('retry policy', () => {
  it('succeeds on 2xx', () => {
    expect(nextAttempt(DEFAULT_RETRY_POLICY, 1, { kind: 'response', status: 204 }, now, () => 0.5)).toEqual({ kind: 'succeeded' });
  });

  it.each([400, 401, 403, 404, 410, 422])('dead-letters a permanent %i at once', (status) => {
    expect(nextAttempt(DEFAULT_RETRY_POLICY, 1, { kind: 'response', status }, now, () => 0.5)).toEqual({
      kind: 'dead_letter',
      reason: 'permanent_failure',
    });
  });

  it.each([408, 429, 500, 502, 503])('retries %i', (status) => {
    expect(nextAttempt(DEFAULT_RETRY_POLICY, 1, { kind: 'response', status }, now, () => 0.5).kind).toBe('retry');
  });

  it('retries connection errors and timeouts until the last attempt, then dead-letters', () => {
    expect(nextAttempt(DEFAULT_RETRY_POLICY, 7, { kind: 'timeout' }, now, () => 0).kind).toBe('retry');
    expect(nextAttempt(DEFAULT_RETRY_POLICY, 8, { kind: 'network_error' }, now, () => 0)).toEqual({
      kind: 'dead_letter',
      reason: 'attempts_exhausted',
    });
  });

  it('honours Retry-After over a shorter jittered delay', () => {
    const step = nextAttempt(DEFAULT_RETRY_POLICY, 1, { kind: 'response', status: 429, retryAfterMs: 7_000 }, now, () => 0);
    expect(step).toEqual({ kind: 'retry', retryAt: new Date(now.getTime() + 7_000) });
  });

  it('keeps every delay within full jitter of the capped exponential ceiling', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, r) => {
        const step = nextAttempt(DEFAULT_RETRY_POLICY, attempt, { kind: 'response', status: 503 }, now, () => r);
        if (step.kind !== 'retry') throw new Error('expected a retry');
        const delay = step.retryAt.getTime() - now.getTime();
        const ceiling = Math.min(3_600_000, 1_000 * 2 ** (attempt - 1));
        return delay >= 0 && delay < ceiling;
      }),
    );
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeNull();
  });
});

describe('retry policy from process settings', () => {
  it('overrides each default one by one', () => {
    expect(retryPolicyOf(undefined)).toEqual(DEFAULT_RETRY_POLICY);
    expect(retryPolicyOf({ max_attempts: 3, timeout_ms: 500 })).toEqual({ ...DEFAULT_RETRY_POLICY, maxAttempts: 3, timeoutMs: 500 });
    expect(retryPolicyOf({ backoff: { initial_ms: 10, max_ms: 100 } })).toMatchObject({ initialBackoffMs: 10, maxBackoffMs: 100 });
  });

  it('honours Retry-After beyond the process backoff cap, up to the ceiling', () => {
    const quick = retryPolicyOf({ backoff: { initial_ms: 10, max_ms: 100 } });
    const later = nextAttempt(quick, 1, { kind: 'response', status: 503, retryAfterMs: 2_000 }, now, () => 0.5);
    expect(later).toEqual({ kind: 'retry', retryAt: new Date(now.getTime() + 2_000) });
    const parked = nextAttempt(quick, 1, { kind: 'response', status: 503, retryAfterMs: 7 * 86_400_000 }, now, () => 0.5);
    expect(parked).toEqual({ kind: 'retry', retryAt: new Date(now.getTime() + RETRY_AFTER_CEILING_MS) });
  });

  it('dead-letters a refused (blocked) endpoint at once', () => {
    expect(nextAttempt(DEFAULT_RETRY_POLICY, 1, { kind: 'refused' }, now, () => 0)).toEqual({ kind: 'dead_letter', reason: 'permanent_failure' });
  });

  it('dead-letters an unfollowed redirect as permanent', () => {
    expect(nextAttempt(DEFAULT_RETRY_POLICY, 1, { kind: 'response', status: 302 }, now, () => 0).kind).toBe('dead_letter');
  });
});
