import fc from 'fast-check';
import { reserveSlot } from './rate-limiter';

describe('per-origin rate limit (token bucket)', () => {
  it('lets a full bucket through at once, then spaces the rest one interval apart', () => {
    const limit = { requests: 2, perMs: 1_000 };
    let tat: number | null = null;
    const sends: number[] = [];
    for (let i = 0; i < 6; i++) {
      const slot = reserveSlot(tat, limit, 0);
      sends.push(slot.sendAtMs);
      tat = slot.tatMs;
    }
    expect(sends).toEqual([0, 0, 500, 1_000, 1_500, 2_000]);
  });

  it('refills while idle', () => {
    const limit = { requests: 3, perMs: 300 };
    let tat: number | null = null;
    for (let i = 0; i < 3; i++) tat = reserveSlot(tat, limit, 0).tatMs;
    expect(reserveSlot(tat, limit, 0).sendAtMs).toBe(100);
    expect(reserveSlot(tat, limit, 10_000).sendAtMs).toBe(10_000);
  });

  it('never sends early and never exceeds the bucket over any stretch of time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 10, max: 10_000 }),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 80 }),
        (requests, perMs, rawTimes) => {
          const times = [...rawTimes].sort((a, b) => a - b);
          let tat: number | null = null;
          const sends = times.map((at) => {
            const slot = reserveSlot(tat, { requests, perMs }, at);
            tat = slot.tatMs;
            if (slot.sendAtMs < at) throw new Error('sent before it was due');
            return slot.sendAtMs;
          });
          const sorted = [...sends].sort((a, b) => a - b);
          const interval = perMs / requests;
          // Token bucket conformance: k sends within d ms need k <= requests + d / interval.
          for (let i = 0; i < sorted.length; i++) {
            for (let j = i; j < sorted.length; j++) {
              if (j - i + 1 > requests + (sorted[j] - sorted[i]) / interval + 1e-9) return false;
            }
          }
          return true;
        },
      ),
    );
  });
});
