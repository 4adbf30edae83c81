import { DEFAULT_LIMITS, DomainError, type DomainEvent, type Environment, type LimitsSettings } from '@schedstack/contracts';

/** SPEC §5 rate limits and quotas of one environment: defaults until an owner changes them. */
export type LimitsCommand = { readonly type: 'update'; readonly data: { readonly input: Readonly<Record<string, unknown>> } };
export type LimitsEvent = DomainEvent<'limits.updated'>;

export interface LimitsState {
  readonly settings: LimitsSettings;
  readonly updatedAt: string | null;
}

export const initialStateFor = (environment: Environment) => (): LimitsState => ({ settings: DEFAULT_LIMITS[environment], updatedAt: null });

const FIELDS = ['requests_per_second', 'active_schedules', 'deliveries_per_day'] as const;
const MAX_RATE = 100_000;
const MAX_QUOTA = 1_000_000_000;

function integerAt(value: unknown, param: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new DomainError('invalid', 'parameter_invalid', `${param} must be an integer from ${min} to ${max}`, param);
  }
  return value;
}

/** A quota is a non-negative integer, or null for unlimited. */
function quotaAt(value: unknown, param: string): number | null {
  return value === null ? null : integerAt(value, param, 0, MAX_QUOTA);
}

export function decide(command: LimitsCommand, state: LimitsState, now: Date): LimitsEvent[] {
  const { input } = command.data;
  for (const key of Object.keys(input)) {
    if (!(FIELDS as readonly string[]).includes(key)) throw new DomainError('invalid', 'parameter_unknown', `Received unknown parameter: ${key}`, key);
  }
  const current = state.settings;
  const next: LimitsSettings = {
    requests_per_second: input.requests_per_second === undefined ? current.requests_per_second : integerAt(input.requests_per_second, 'requests_per_second', 1, MAX_RATE),
    active_schedules: input.active_schedules === undefined ? current.active_schedules : quotaAt(input.active_schedules, 'active_schedules'),
    deliveries_per_day: input.deliveries_per_day === undefined ? current.deliveries_per_day : quotaAt(input.deliveries_per_day, 'deliveries_per_day'),
  };
  if (FIELDS.every((f) => next[f] === current[f])) return [];
  return [{ type: 'limits.updated', data: { ...next, updated_at: now.toISOString() } }];
}

export function evolve(_state: LimitsState, event: LimitsEvent): LimitsState {
  const { updated_at, ...settings } = event.data;
  return { settings, updatedAt: updated_at };
}

/** The decider of one environment's limits (its defaults depend on the environment). */
export const limitsDecider = (environment: Environment) => ({ initialState: initialStateFor(environment), decide, evolve });
