import { type EventStore, KurrentEventStore, PostgresEventStore } from '@schedstack/event-store';
import { createBusClient, ensureEventsStream, EventRelay, JetStreamEventFeed } from '@schedstack/messaging';
import { CHECKPOINT_MIGRATIONS, createPool, migrate, type PlatformConfig } from '@schedstack/platform';
import { connect } from 'nats';
import type { PlatformAdapters } from './platform.module';
import { RelayLeadership } from './relay-leadership';

export interface DistributedRuntime {
  readonly adapters: PlatformAdapters;
  close(): Promise<void>;
}

/**
 * SPEC §1 distributed profile: NATS request/reply between services, events relayed from the event
 * store (PostgreSQL, or KurrentDB when EVENTSTORE_URL is set) to JetStream and consumed there.
 */
export async function createDistributedRuntime(config: PlatformConfig, service: string): Promise<DistributedRuntime> {
  const databaseUrl = config.databaseUrl as string;
  const pool = createPool(databaseUrl);
  await migrate(pool, 'platform', CHECKPOINT_MIGRATIONS);
  const store: EventStore = config.eventStoreUrl
    ? new KurrentEventStore({ connectionString: config.eventStoreUrl })
    : new PostgresEventStore({ pool });
  if (store instanceof PostgresEventStore) await store.init();
  // Reconnect forever, every 250 ms: after a broker restart the relay and feeds resume on 'reconnect'.
  const nc = await connect({ servers: config.natsUrl, name: `schedstack-${service}`, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const streamOptions = { name: config.eventsStream, subjects: [`${config.eventsSubjectPrefix}.>`] };
  await ensureEventsStream(await nc.jetstreamManager(), streamOptions);
  const relay = new EventRelay({ store, nc, streamName: config.eventsStream, subjectPrefix: config.eventsSubjectPrefix, ensureStream: false });
  const leadership = new RelayLeadership(databaseUrl, relay);
  leadership.start();
  const feed = new JetStreamEventFeed({ nc, streamName: config.eventsStream, subjectPrefix: config.eventsSubjectPrefix });
  const bus = createBusClient('nats', config.natsUrl, config.busPrefix);
  return {
    adapters: { config, pool, store, feed, bus },
    async close() {
      await leadership.stop();
      await bus.close();
      await nc.drain().catch(() => undefined);
      await store.close();
      await pool.end();
    },
  };
}
