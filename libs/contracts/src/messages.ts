import type { AttemptRecord, CatchUpPolicy, DeliveryState, FireKind, ScheduleMetadata } from './events';
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
  readonly ends_at?: string;
  readonly max_fires?: number;
  readonly catch_up?: CatchUpPolicy;
  readonly catch_up_window?: string;
  readonly process?: string;
  readonly metadata?: ScheduleMetadata;
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
/** `POST /v1/schedules/{id}/pause|resume`, `DELETE /v1/schedules/{id}`. */
export interface ScheduleActionCommand extends Scoped {
  readonly id: string;
}
/** `GET /v1/schedules/{id}/upcoming?count=N`. */
export interface UpcomingFiresQuery extends Scoped {
  readonly id: string;
  readonly count: number;
}
/** One fire a schedule will make, DST applied. */
export interface UpcomingFire {
  readonly fire_at: string;
  readonly fire_kind: Extract<FireKind, 'first' | 'dst_shifted'>;
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
  readonly catch_up: CatchUpPolicy | null;
  readonly catch_up_window: string | null;
  readonly ends_at: string | null;
  readonly max_fires: number | null;
  /** Fires planned so far, the upcoming planned one included; fires withdrawn by a pause do not count. */
  readonly fire_count: number;
  readonly process: string | null;
  readonly metadata: ScheduleMetadata;
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
  /** When the next attempt is due (state `retrying`, or a replay waiting to go out), else null. */
  readonly next_attempt_at?: string | null;
  readonly attempts: readonly AttemptRecord[];
  readonly created_at: string;
}

/** `GET /v1/signing-secret` (SPEC §9): the environment's delivery signing secret(s). */
export interface SigningSecretView {
  readonly object: 'signing_secret';
  readonly mode: Environment;
  readonly secret: string;
  /** Still signing during a rotation, until `previous_expires_at`; null otherwise. */
  readonly previous_secret: string | null;
  readonly previous_expires_at: string | null;
  readonly created_at: string;
}

// ── health ────────────────────────────────────────────────────────────────────
export interface HealthReport {
  readonly service: string;
  readonly ok: boolean;
  readonly checks: Readonly<Record<string, boolean>>;
}
