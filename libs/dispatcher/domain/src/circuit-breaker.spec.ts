import fc from 'fast-check';
import { admit, type BreakerState, closedBreaker, recordOutcome } from './circuit-breaker';

const settings = { failureThreshold: 3, coolDownMs: 1_000 };

describe('per-origin circuit breaker', () => {
  it('opens after the threshold of consecutive failures and defers until the cool-down ends', () => {
    let state: BreakerState = closedBreaker();
    state = recordOutcome(state, settings, true, 0);
    state = recordOutcome(state, settings, true, 10);
    expect(admit(state, settings, 20).kind).toBe('send');
    state = recordOutcome(state, settings, true, 20);
    expect(state).toEqual({ status: 'open', untilMs: 1_020 });
    expect(admit(state, settings, 500)).toEqual({ kind: 'defer', untilMs: 1_020, state });
  });

  it('a success in between resets the count', () => {
    let state: BreakerState = closedBreaker();
    for (const failed of [true, true, false, true, true]) state = recordOutcome(state, settings, failed, 0);
    expect(state).toEqual({ status: 'closed', failures: 2 });
  });

  it('half-opens after the cool-down: one probe goes, the others wait; success closes it', () => {
    const open: BreakerState = { status: 'open', untilMs: 1_000 };
    const probe = admit(open, settings, 1_000);
    expect(probe).toEqual({ kind: 'send', state: { status: 'half_open', sinceMs: 1_000 } });
    expect(admit(probe.state, settings, 1_010)).toMatchObject({ kind: 'defer', untilMs: 2_000 });
    expect(recordOutcome(probe.state, settings, false, 1_050)).toEqual(closedBreaker());
  });

  it('a failed probe opens it again for another cool-down', () => {
    expect(recordOutcome({ status: 'half_open', sinceMs: 1_000 }, settings, true, 1_050)).toEqual({ status: 'open', untilMs: 2_050 });
  });

  it('lets a new probe go when the previous probe never reported back', () => {
    expect(admit({ status: 'half_open', sinceMs: 0 }, settings, 1_000).kind).toBe('send');
  });

  it('never defers past the end of the current cool-down, whatever the history', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 500 })), { maxLength: 50 }), (steps) => {
        let state: BreakerState = closedBreaker();
        let now = 0;
        for (const [failed, gap] of steps) {
          now += gap;
          const decision = admit(state, settings, now);
          state = decision.state;
          if (decision.kind === 'defer') {
            if (decision.untilMs <= now || decision.untilMs > now + settings.coolDownMs) return false;
            continue;
          }
          state = recordOutcome(state, settings, failed, now);
        }
        return true;
      }),
    );
  });
});
