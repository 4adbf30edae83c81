import { DEFAULT_LIMITS } from '@schedstack/contracts';
import { limitsDecider } from './limits.decider';

const NOW = new Date('2026-05-01T10:00:00.000Z');
const paramOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { param?: string }).param;
  }
  return null;
};

describe('limits', () => {
  const sandbox = limitsDecider('sandbox');

  it('starts from the environment’s defaults', () => {
    expect(limitsDecider('live').initialState().settings).toEqual(DEFAULT_LIMITS.live);
    expect(sandbox.initialState().settings).toEqual({ requests_per_second: 10, active_schedules: 1_000, deliveries_per_day: 10_000 });
  });

  it('changes only the given limits, and null makes a quota unlimited', () => {
    expect(sandbox.decide({ type: 'update', data: { input: { requests_per_second: 50, deliveries_per_day: null } } }, sandbox.initialState(), NOW)).toEqual([
      { type: 'limits.updated', data: { requests_per_second: 50, active_schedules: 1_000, deliveries_per_day: null, updated_at: NOW.toISOString() } },
    ]);
  });

  it('records nothing when nothing changes', () => {
    expect(sandbox.decide({ type: 'update', data: { input: { requests_per_second: 10 } } }, sandbox.initialState(), NOW)).toEqual([]);
  });

  it.each([
    [{ requests_per_second: 0 }, 'requests_per_second'],
    [{ requests_per_second: null }, 'requests_per_second'],
    [{ active_schedules: -1 }, 'active_schedules'],
    [{ deliveries_per_day: 1.5 }, 'deliveries_per_day'],
    [{ burst: 3 }, 'burst'],
  ])('refuses %j naming %s', (input, param) => {
    expect(paramOf(() => sandbox.decide({ type: 'update', data: { input } }, sandbox.initialState(), NOW))).toBe(param);
  });
});
