import { createHash } from 'node:crypto';
import { base62Digest, type Environment, type EventDataMap, type HttpRequestSpec, type WebhookEventType } from '@schedstack/contracts';

/** Version of the payload schema; sent as `Sched-Event-Version` (docs/webhooks.md). */
export const WEBHOOK_PAYLOAD_VERSION = '1';

/** SPEC §9 platform webhook event, exactly as the receiver gets it. */
export interface WebhookPayload {
  readonly id: string;
  readonly type: WebhookEventType;
  readonly created_at: string;
  readonly mode: Environment;
  readonly data: Readonly<Record<string, unknown>>;
}

/** A stored platform event as the fan-out sees it. */
export interface SourceEvent {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly createdAt: Date;
}

/**
 * Which customer-facing event a stored event is, if any. Attempts of webhook deliveries map to
 * nothing, so a webhook delivery can never trigger another webhook (SPEC §6).
 */
export function toWebhookEvent(event: SourceEvent, mode: Environment): WebhookPayload | null {
  const body = toEventBody(event);
  // SPEC §9 key order: id, type, created_at, mode, data.
  return body && { id: `evt_${derivedToken(event.id, 'evt')}`, type: body.type, created_at: event.createdAt.toISOString(), mode, data: body.data };
}

function toEventBody(event: SourceEvent): Pick<WebhookPayload, 'type' | 'data'> | null {
  switch (event.type) {
    case 'delivery.attempted': {
      const data = event.data as EventDataMap['delivery.attempted'];
      if (data.webhook_endpoint_id) return null;
      const type: WebhookEventType | null =
        data.state === 'succeeded' ? 'delivery.succeeded' : data.state === 'retrying' ? 'delivery.failed' : data.state === 'dead_lettered' ? 'delivery.dead_lettered' : null;
      if (!type) return null;
      return {
        type,
        data: { delivery: data.delivery_id, schedule: data.schedule_id, state: data.state, attempt: data.attempt, next_attempt_at: data.next_attempt_at },
      };
    }
    case 'schedule.completed': {
      const data = event.data as EventDataMap['schedule.completed'];
      return { type: 'schedule.completed', data: { schedule: data.schedule_id, completed_at: data.completed_at } };
    }
    case 'environment.cloned': {
      const data = event.data as EventDataMap['environment.cloned'];
      return { type: 'environment.cloned', data: { source: data.source, target: data.target, changes: data.changes, cloned_at: data.cloned_at } };
    }
    default:
      return null;
  }
}

/** Does an endpoint subscribed to `events` want `type`? */
export function subscribes(events: readonly string[], type: string): boolean {
  return events.includes('*') || events.includes(type);
}

/** The signed request a payload becomes (the dispatcher adds the Standard Webhooks headers). */
export function webhookRequest(url: string, payload: WebhookPayload): HttpRequestSpec {
  return {
    endpoint: url,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'sched-event-type': payload.type, 'sched-event-version': WEBHOOK_PAYLOAD_VERSION },
    body: JSON.stringify(payload),
  };
}

/**
 * Ids derived from the source event, so a redelivered event plans the same deliveries again and
 * the event store's idempotent append (by event id) drops the repeat.
 */
export function derivedToken(...parts: string[]): string {
  // Joined with '|' as when these ids were first derived, so they stay the same.
  return base62Digest(parts.join('|'));
}

/** A UUID-shaped id derived from `parts` (event ids are UUIDs). */
export function derivedUuid(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join('|')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
