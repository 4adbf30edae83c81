import type { components } from './api-schema';

/** The API's objects, as the generated OpenAPI schema describes them. */
type Schemas = components['schemas'];

export interface ListOf<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

export type Schedule = Schemas['ScheduleModel'];
export type Attempt = Schemas['AttemptModel'];
export type Delivery = Schemas['DeliveryModel'];

export interface ApiKey {
  id: string;
  name: string | null;
  last4: string;
  created_at: string;
  secret?: string;
  revoked?: boolean;
}

/** lag = fired_at − scheduled_for (SPEC §7), in milliseconds. */
export const lagMs = (a: Attempt): number => Date.parse(a.fired_at) - Date.parse(a.scheduled_for);

export function whenText(s: Schedule): string {
  if (s.cron) return `cron “${s.cron}” (${s.timezone ?? 'UTC'})`;
  if (s.delay) return `after ${s.delay}`;
  return 'once';
}
