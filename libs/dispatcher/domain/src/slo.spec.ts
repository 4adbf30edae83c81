import { errorBudget } from './slo';

describe('SLO error budget (SPEC §7: 1% of eligible fires may exceed the objective)', () => {
  it.each([
    [0, 0, { allowed: 0, consumed: 0, remaining: 1, burnRate: 0 }],
    [1000, 0, { allowed: 10, consumed: 0, remaining: 1, burnRate: 0 }],
    [1000, 5, { allowed: 10, consumed: 0.5, remaining: 0.5, burnRate: 0.5 }],
    [1000, 10, { allowed: 10, consumed: 1, remaining: 0, burnRate: 1 }],
    [1000, 144, { allowed: 10, consumed: 14.4, remaining: -13.4, burnRate: 14.4 }],
  ])('with %i eligible and %i slow', (eligible, slow, expected) => {
    expect(errorBudget(eligible, slow)).toEqual(expected);
  });
});
