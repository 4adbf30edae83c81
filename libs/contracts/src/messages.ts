import type { AttemptRecord, DeliveryState, FireKind } from './events';
import type { Environment, Scope } from './scope';

/** Every scoped message carries the scope the gateway derived from the caller's key. */
export interface Scoped {
  readonly scope: Scope;
}

// ── environments ──────────────────────────────────────────────────────────────
export interface VerifyApiKeyQuery {
  readonly secret: string;
}
export interface VerifiedApiKey {
  readonly key_id: string;
  readonly scope: Scope;
}

export interface DemoCredentials {
  readonly project_id: string;
  readonly owner: { readonly email: string; readonly password: string | null };
  readonly keys: Readonly<Record<Environment, string | null>>;
  readonly created: boolean;
}

// ── schedules ─────────────────────────────────────────────────────────────────
/** The validated body of `POST /v1/schedules`, as the gateway hands it on. */
export interface CreateScheduleInput {
  readonly endpoint: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
  readonly delay?: string;
  readonly run_at?: string;
  readonly cron?: string;
  readonly timezone?: string;
}
export interface CreateScheduleCommand extends Scoped {
  readonly input: CreateScheduleInput;
}
export interface GetByIdQuery extends Scoped {
  readonly id: string;
}
export interface ListQuery extends Scoped {
  readonly limit: number;
  readonly starting_after?: string;
  readonly filters: Readonly<Record<string, string | undefined>>;
}

export type ScheduleStatus = 'active' | 'paused' | 'completed' | 'canceled';

export interface ScheduleView {
  readonly id: string;
  readonly object: 'schedule';
  readonly mode: Environment;
  readonly endpoint: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
  readonly delay: string | null;
  readonly run_at: string | null;
  readonly cron: string | null;
  readonly timezone: string | null;
  readonly state: ScheduleStatus;
  readonly next_fire_at: string | null;
  readonly created_at: string;
}

export interface ListResult<T> {
  readonly object: 'list';
  readonly data: readonly T[];
  readonly has_more: boolean;
}

// ── deliveries ────────────────────────────────────────────────────────────────
export interface DeliveryView {
  readonly id: string;
  readonly object: 'delivery';
  readonly mode: Environment;
  readonly schedule: string;
  readonly state: DeliveryState;
  readonly fire_kind: FireKind;
  readonly scheduled_for: string;
  readonly attempts: readonly AttemptRecord[];
  readonly created_at: string;
}

// ── health ────────────────────────────────────────────────────────────────────
export interface HealthReport {
  readonly service: string;
  readonly ok: boolean;
  readonly checks: Readonly<Record<string, boolean>>;
}
