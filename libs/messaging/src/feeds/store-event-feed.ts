import type { EventStore, Subscription } from '@schedstack/event-store';
import type { EventFeed, EventFeedSubscribeOptions } from '../event-feed.port';

/**
 * The local profile's feed: a subscription to the event store itself. The store already delivers
 * in global order, one event at a time, retrying on failure; this only filters by type. The
 * consumer name is informational: the checkpoint lives with the consumer, not here.
 */
export class StoreEventFeed implements EventFeed {
  constructor(private readonly store: EventStore) {}

  async subscribe(options: EventFeedSubscribeOptions): Promise<Subscription> {
    const types = options.types && options.types.length > 0 ? new Set(options.types) : null;
    return this.store.subscribeToAll({
      after: options.after,
      onEvent: async (event) => {
        if (types && !types.has(event.type)) return;
        await options.onEvent(event);
      },
      onError: options.onError,
    });
  }
}
