import type { Position, RecordedEvent, Subscription } from '@schedstack/event-store';

/**
 * How services consume events (SPEC §1). In the distributed profile a durable JetStream consumer
 * fed by the relay; in the local profile a subscription to the event store itself. Delivery is
 * at-least-once and in global order; consumers make it exactly-once by keeping their checkpoint in
 * the same transaction as their rows (see `ProjectionRunner` in @schedstack/platform).
 */
export interface EventFeedSubscribeOptions {
  /** Durable consumer name, unique per (service, projection). */
  readonly consumer: string;
  /** Event types to receive; all when omitted. */
  readonly types?: readonly string[];
  /** The consumer's checkpoint: events at or before it may be skipped by the feed. */
  readonly after: Position;
  readonly onEvent: (event: RecordedEvent) => Promise<void>;
  readonly onError?: (error: unknown) => void;
}

export interface EventFeed {
  subscribe(options: EventFeedSubscribeOptions): Promise<Subscription>;
}

export const EVENT_FEED = Symbol('EVENT_FEED');

/** Token of the ClientProxy that sends commands and queries to other services. */
export const BUS_CLIENT = Symbol('BUS_CLIENT');
