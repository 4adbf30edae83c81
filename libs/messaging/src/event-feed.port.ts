import type { Position, RecordedEvent, Subscription } from '@schedstack/event-store';

/**
 * How services consume events (SPEC §1). In the distributed profile an ordered JetStream consumer
 * over the stream the relay fills; in the local profile a subscription to the event store itself.
 * Delivery is at-least-once and in global order; consumers make it exactly-once by keeping their
 * checkpoint in the same transaction as their rows (see `ProjectionRunner` in @schedstack/platform).
 */

/** One event of a batch, with the feed's own sequence number for it. */
export interface FeedEvent {
  readonly event: RecordedEvent;
  /**
   * The feed's sequence of this event (JetStream: the message's stream sequence); null for feeds
   * without one (the event store feed). Kept next to the checkpoint and passed back as
   * `afterSequence`, it lets the feed resume right after the checkpoint instead of re-reading.
   */
  readonly sequence: number | null;
}

interface EventFeedSubscribeCommon {
  /** Unique per (service, projection); names the feed's consumer and its log lines. */
  readonly consumer: string;
  /** Event types to receive; all when omitted. */
  readonly types?: readonly string[];
  /** The subscriber's checkpoint: only events after it are delivered. */
  readonly after: Position;
  /**
   * The feed sequence of the event at `after`, when the subscriber stored one. Only a hint: the
   * feed checks it still points at that event, and otherwise reads from the start (skipping up to
   * `after`), so a stale value costs a re-read, never an event.
   */
  readonly afterSequence?: number | null;
  /** Called when the handler throws or the feed fails; the feed retries by itself. */
  readonly onError?: (error: unknown) => void;
}

/** One event at a time; a failed event is retried before anything after it. */
export interface EventFeedSingleOptions extends EventFeedSubscribeCommon {
  readonly onEvent: (event: RecordedEvent) => Promise<void>;
}

/**
 * Consecutive events in batches, in order. A failed batch is retried whole (with backoff) before
 * anything after it, so a handler that commits a batch atomically never skips or reorders.
 */
export interface EventFeedBatchOptions extends EventFeedSubscribeCommon {
  readonly onEvents: (batch: readonly FeedEvent[]) => Promise<void>;
  /** Most events per batch; feeds may deliver fewer (the local feed delivers one). Default 500. */
  readonly maxBatch?: number;
}

export type EventFeedSubscribeOptions = EventFeedSingleOptions | EventFeedBatchOptions;

export interface EventFeed {
  subscribe(options: EventFeedSubscribeOptions): Promise<Subscription>;
}

export const DEFAULT_MAX_BATCH = 500;

/** Either kind of subscriber as a batch handler: a single-event subscriber gets batches of one. */
export function batchHandlerOf(options: EventFeedSubscribeOptions): {
  readonly maxBatch: number;
  readonly handle: (batch: readonly FeedEvent[]) => Promise<void>;
} {
  if ('onEvents' in options) {
    return { maxBatch: Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH), handle: options.onEvents };
  }
  return {
    maxBatch: 1,
    handle: async (batch) => {
      for (const { event } of batch) await options.onEvent(event);
    },
  };
}

export const EVENT_FEED = Symbol('EVENT_FEED');

/** Token of the ClientProxy that sends commands and queries to other services. */
export const BUS_CLIENT = Symbol('BUS_CLIENT');
