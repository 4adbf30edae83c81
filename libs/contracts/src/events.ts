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

export interface EventDataMap {
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
  };
  'schedule.paused': { schedule_id: string; paused_at: string };
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
  };
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
