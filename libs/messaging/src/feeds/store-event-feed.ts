import type { EventStore, Subscription } from '@schedstack/event-store';
import { batchHandlerOf, type EventFeed, type EventFeedSubscribeOptions } from '../event-feed.port';

/**
 * The local profile's feed: a subscription to the event store itself. The store already delivers
 * in global order, in batches of what is there, retrying a failed batch; this only filters by
 * type. There is no feed sequence (`FeedEvent.sequence` is null), and the consumer name is
 * informational: the checkpoint lives with the consumer, not here.
 */
export class StoreEventFeed implements EventFeed {
  constructor(private readonly store: EventStore) {}

  async subscribe(options: EventFeedSubscribeOptions): Promise<Subscription> {
    const types = options.types && options.types.length > 0 ? new Set(options.types) : null;
    const { maxBatch, handle } = batchHandlerOf(options);
    return this.store.subscribeToAll({
      after: options.after,
      maxBatch,
      onEvents: async (events) => {
        const wanted = types ? events.filter((event) => types.has(event.type)) : events;
        if (wanted.length > 0) await handle(wanted.map((event) => ({ event, sequence: null })));
      },
      onError: options.onError,
    });
  }
}
