import { ENVIRONMENTS_EVENT_CATALOG, type EnvironmentsEventDataMap } from './environments-events';
import type { Environment } from './scope';

/**
 * SPEC §1/§5: each event type is declared exactly once, here, with its data class.
 * `config` events describe an environment's configuration and may be replayed into a lower
 * environment by a clone; `client` events are customer data and never leave their environment.
 */
export type DataClass = 'config' | 'client';

export interface HttpRequestSpec {
  readonly endpoint: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
}

export type ScheduleTrigger =
  | { readonly kind: 'once'; readonly run_at: string; readonly delay?: string }
  | { readonly kind: 'cron'; readonly cron: string; readonly timezone: string };

/** SPEC §3 catch-up after downtime: one fire now, none, or every missed fire within the window. */
export type CatchUpPolicy = 'coalesce' | 'skip' | 'all';

/** A schedule's `metadata`: flat key → scalar pairs (validated against field definitions in a later issue). */
export type ScheduleMetadata = Readonly<Record<string, string | number | boolean>>;

export type FireKind =
  | 'first'
  | 'retry'
  | 'reclaim'
  | 'rate_limited'
  | 'breaker_deferred'
  | 'coalesced'
  | 'dst_shifted'
  | 'catch_up'
  | 'replay';

export interface EventDataMap extends EnvironmentsEventDataMap {
  // ── environments ────────────────────────────────────────────────────────────
  'project.created': { project_id: string; name: string; created_at: string };
  'user.registered': { user_id: string; email: string; password_hash: string; created_at: string };
  'member.added': { project_id: string; user_id: string; email: string; role: MemberRole; created_at: string };
  'api_key.created': {
    key_id: string;
    name: string | null;
    secret_hash: string;
    prefix: string;
    last4: string;
    created_at: string;
  };
  'api_key.revoked': { key_id: string; revoked_at: string };
  // ── schedules ───────────────────────────────────────────────────────────────
  'schedule.created': {
    schedule_id: string;
    request: HttpRequestSpec;
    trigger: ScheduleTrigger;
    next_fire_at: string | null;
    created_at: string;
    /** Recurring schedules only (absent on one-off schedules and on events written before they existed). */
    catch_up?: CatchUpPolicy;
    /** Duration in the API syntax (`"1h"`). */
    catch_up_window?: string;
    ends_at?: string | null;
    max_fires?: number | null;
    process?: string | null;
    /** The named process's delivery policy, resolved when the schedule was created. */
    policy?: DeliveryPolicy | null;
    metadata?: ScheduleMetadata | null;
  };
  /**
   * One fire of a schedule, planned by the schedules service (which owns next-fire computation,
   * DST and catch-up); the dispatcher turns it into a due fire and a delivery with this id.
   */
  'schedule.fire_planned': {
    schedule_id: string;
    delivery_id: string;
    fire_at: string;
    fire_kind: Extract<FireKind, 'first' | 'dst_shifted' | 'coalesced' | 'catch_up'>;
    request: HttpRequestSpec;
    /** The fire after this one, when there is one. */
    next_fire_at: string | null;
    /** Process settings the dispatcher applies to this delivery (SPEC §5); defaults when absent. */
    policy?: DeliveryPolicy;
  };
  /** `withdrawn_fires`: planned fires not yet due that pausing withdrew (they no longer count as fires). */
  'schedule.paused': { schedule_id: string; paused_at: string; withdrawn_fires?: number };
  'schedule.resumed': { schedule_id: string; resumed_at: string; next_fire_at: string | null };
  'schedule.canceled': { schedule_id: string; canceled_at: string };
  'schedule.completed': { schedule_id: string; completed_at: string };
  // ── deliveries (dispatcher) ─────────────────────────────────────────────────
  'delivery.attempted': {
    delivery_id: string;
    schedule_id: string;
    attempt: AttemptRecord;
    /** The delivery's state after this attempt: succeeded, retrying or dead_lettered. */
    state: DeliveryState;
    /** When the next attempt is due (state retrying), else null. */
    next_attempt_at: string | null;
    /** Set on platform-webhook deliveries (SPEC §6), so the webhooks service never reacts to them. */
    webhook_endpoint_id?: string;
  };
  /** SPEC §4 replay: the delivery is sent again as attempt `attempt` (`fire_kind: replay`). */
  'delivery.replay_requested': {
    delivery_id: string;
    schedule_id: string;
    attempt: number;
    replay_at: string;
    requested_at: string;
  };
  // ── signing secrets (dispatcher) ────────────────────────────────────────────
  /** An environment's delivery signing secret; `secret` is sealed (see docs/dispatcher.md). */
  'signing_secret.created': { secret: string; created_at: string };
  /** The previous secret keeps signing until `previous_expires_at` (SPEC §4 rotation). */
  'signing_secret.rotated': { secret: string; previous_secret: string; previous_expires_at: string; rotated_at: string };
  // ── webhook endpoints (webhooks) ────────────────────────────────────────────
  /** SPEC §6; `secret` is sealed like the delivery signing secrets. */
  'webhook_endpoint.created': { endpoint_id: string; url: string; events: string[]; enabled: boolean; description: string | null; secret: string; created_at: string };
  'webhook_endpoint.updated': { endpoint_id: string; url?: string; events?: string[]; enabled?: boolean; description?: string | null; updated_at: string };
  /** The new sealed secret signs every attempt from now on, pending retries included. */
  'webhook_endpoint.secret_rotated': { endpoint_id: string; secret: string; rotated_at: string };
  'webhook_endpoint.deleted': { endpoint_id: string; deleted_at: string };
  /**
   * One platform event for one endpoint, planned by the webhooks service; the dispatcher turns it
   * into a due fire and a delivery with this id, signed with `secret` (sealed) instead of the
   * environment's delivery signing secret.
   */
  'webhook.delivery_planned': {
    delivery_id: string;
    endpoint_id: string;
    event_id: string;
    event_type: string;
    fire_at: string;
    request: HttpRequestSpec;
    secret: string;
  };
}

/** The longest attempt timeout a process may set (SPEC §5 `timeout`, up to 1 h). */
export const MAX_ATTEMPT_TIMEOUT_MS = 3_600_000;

/**
 * SPEC §5 process settings as the dispatcher applies them, resolved when a fire is planned.
 * Durations are milliseconds here (the API's "30s" syntax is parsed before the event is written).
 */
export interface DeliveryPolicy {
  /** The process's name, for display. */
  readonly process?: string;
  readonly max_attempts?: number;
  readonly backoff?: { readonly initial_ms: number; readonly max_ms: number };
  /** At most MAX_ATTEMPT_TIMEOUT_MS. */
  readonly timeout_ms?: number;
  /** At most `requests` per `per_ms` to one origin (token bucket, bursts up to `requests`). */
  readonly rate_limit?: { readonly requests: number; readonly per_ms: number };
  /** Opens after `failure_threshold` consecutive failures to one origin, for `cool_down_ms`. */
  readonly breaker?: { readonly failure_threshold: number; readonly cool_down_ms: number };
  /** Extra request headers; the schedule's own headers win over these. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A third-party vendor target: mocked, not sent, in sandbox and test. */
  readonly vendor?: boolean;
}

export type MemberRole = 'owner' | 'admin' | 'developer' | 'viewer';

export type DeliveryState = 'scheduled' | 'delivering' | 'succeeded' | 'retrying' | 'dead_lettered' | 'canceled';

/** SPEC §4: one attempt as a user sees it. */
export interface AttemptRecord {
  readonly n: number;
  readonly fire_kind: FireKind;
  readonly scheduled_for: string;
  readonly fired_at: string;
  readonly status_code: number | null;
  readonly duration_ms: number;
  readonly response_body: string | null;
  readonly error: string | null;
  readonly mocked: boolean;
}

export type EventType = keyof EventDataMap;

/** The catalog: aggregate and data class of every event type. `satisfies` makes a missing entry a compile error. */
export const EVENT_CATALOG = {
  'project.created': { aggregate: 'project', dataClass: 'client' },
  'user.registered': { aggregate: 'user', dataClass: 'client' },
  'member.added': { aggregate: 'member', dataClass: 'client' },
  'api_key.created': { aggregate: 'api_key', dataClass: 'client' },
  'api_key.revoked': { aggregate: 'api_key', dataClass: 'client' },
  'schedule.created': { aggregate: 'schedule', dataClass: 'client' },
  'schedule.fire_planned': { aggregate: 'schedule', dataClass: 'client' },
  'schedule.paused': { aggregate: 'schedule', dataClass: 'client' },
  'schedule.resumed': { aggregate: 'schedule', dataClass: 'client' },
  'schedule.canceled': { aggregate: 'schedule', dataClass: 'client' },
  'schedule.completed': { aggregate: 'schedule', dataClass: 'client' },
  'delivery.attempted': { aggregate: 'delivery', dataClass: 'client' },
  'delivery.replay_requested': { aggregate: 'delivery', dataClass: 'client' },
  'signing_secret.created': { aggregate: 'signing_secret', dataClass: 'client' },
  'signing_secret.rotated': { aggregate: 'signing_secret', dataClass: 'client' },
  'webhook_endpoint.created': { aggregate: 'webhook_endpoint', dataClass: 'client' },
  'webhook_endpoint.updated': { aggregate: 'webhook_endpoint', dataClass: 'client' },
  'webhook_endpoint.secret_rotated': { aggregate: 'webhook_endpoint', dataClass: 'client' },
  'webhook_endpoint.deleted': { aggregate: 'webhook_endpoint', dataClass: 'client' },
  'webhook.delivery_planned': { aggregate: 'webhook_delivery', dataClass: 'client' },
  ...ENVIRONMENTS_EVENT_CATALOG,
} as const satisfies { [T in EventType]: { aggregate: string; dataClass: DataClass } };

export function dataClassOf(type: string): DataClass | undefined {
  return (EVENT_CATALOG as Record<string, { dataClass: DataClass }>)[type]?.dataClass;
}

/** A domain event before it is stored: `{ type, data }`, discriminated by `type`. */
export type DomainEvent<T extends EventType = EventType> = T extends EventType
  ? { readonly type: T; readonly data: EventDataMap[T] }
  : never;

/** JetStream subject of an event (SPEC §1): `events.<project>.<environment>.<type>`. */
export function eventSubject(projectId: string, environment: Environment, type: string): string {
  return `events.${projectId}.${environment}.${type}`;
}

export const EVENTS_STREAM = 'SCHEDSTACK_EVENTS';
export const EVENTS_SUBJECT_FILTER = 'events.>';
