import type { AttemptRecord, CatchUpPolicy, DeliveryState, FireKind, ScheduleMetadata } from './events';
import type { LimitsView } from './limits';
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
  /**
   * The environment's limits as the sending gateway holds them for its rate limiter (its 2 s cache,
   * dropped at once when a limit is changed through it), so the quota check needs no question of
   * its own; when absent the service asks `environments.limits.get`.
   */
  readonly limits?: LimitsView;
  /**
   * Sent when the client gave an `Idempotency-Key`: a digest of the key and the request. The
   * schedule's id is derived from it, so a retry of a create whose outcome was unknown (a 503
   * after the commit) finds the schedule its first attempt made instead of making a second.
   */
  readonly idempotency_token?: string;
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
  /** Null for platform-webhook deliveries, which belong to a `webhook_endpoint` instead. */
  readonly schedule: string | null;
  readonly state: DeliveryState;
  readonly fire_kind: FireKind;
  readonly scheduled_for: string;
  /** When the next attempt is due (state `retrying`, or a replay waiting to go out), else null. */
  readonly next_attempt_at?: string | null;
  readonly attempts: readonly AttemptRecord[];
  readonly created_at: string;
  /** Platform-webhook deliveries (SPEC §6) only: the endpoint it goes to. */
  readonly webhook_endpoint?: string;
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

// ── webhook endpoints (SPEC §6) ─────────────────────────────────────────────────
/** Platform event types an endpoint may subscribe to (or `*`). */
export const WEBHOOK_EVENT_TYPES = ['delivery.succeeded', 'delivery.failed', 'delivery.dead_lettered', 'schedule.completed', 'environment.cloned'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export interface WebhookEndpointView {
  readonly id: string;
  readonly object: 'webhook_endpoint';
  readonly mode: Environment;
  readonly url: string;
  readonly description: string | null;
  readonly events: readonly string[];
  readonly enabled: boolean;
  readonly created_at: string;
}
/** Create and rotate answers: the only responses that show the secret. */
export interface WebhookEndpointWithSecret extends WebhookEndpointView {
  readonly secret: string;
}
export interface WebhookEndpointInput {
  readonly url?: string;
  readonly events?: readonly string[];
  readonly enabled?: boolean;
  readonly description?: string | null;
}
export interface WebhookEndpointCommand extends Scoped {
  readonly id?: string;
  readonly input: WebhookEndpointInput;
}

// ── dispatch SLO (SPEC §7) ────────────────────────────────────────────────────
export const SLO_WINDOWS = ['1h', '24h', '7d', '30d'] as const;
export type SloWindow = (typeof SLO_WINDOWS)[number];
export interface SloQuery extends Scoped {
  readonly window: SloWindow;
}
/** Why an attempt does not count toward the SLO: its fire kind, or `non_live` for test and sandbox. */
export type SloExclusion = Exclude<FireKind, 'first'> | 'non_live';
export interface SloReport {
  readonly object: 'slo';
  readonly mode: Environment;
  readonly window: SloWindow;
  readonly from: string;
  readonly to: string;
  readonly objective: { readonly percentile: 99; readonly threshold_ms: number; readonly target: number };
  readonly eligible_count: number;
  /** Eligible attempts that left later than the threshold. */
  readonly slow_count: number;
  readonly lag_ms: { readonly p50: number | null; readonly p90: number | null; readonly p99: number | null };
  readonly excluded: Readonly<Record<SloExclusion, number>>;
  /** Budget = (1 − target) × eligible fires may be slow; `remaining` is the fraction left (negative when overspent). */
  readonly error_budget: { readonly allowed: number; readonly consumed: number; readonly remaining: number };
  /** Slow fraction ÷ allowed fraction: 1 spends the budget exactly over the window. */
  readonly burn_rate: number;
  readonly series: readonly { readonly at: string; readonly p99_ms: number | null; readonly count: number }[];
}

// ── health ────────────────────────────────────────────────────────────────────
export interface HealthReport {
  readonly service: string;
  readonly ok: boolean;
  readonly checks: Readonly<Record<string, boolean>>;
}
