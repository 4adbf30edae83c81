import { PostgresEventStore } from '@schedstack/event-store';
import { createBusClient, InProcessBroker, InProcessServer, StoreEventFeed } from '@schedstack/messaging';
import { CHECKPOINT_MIGRATIONS, createPool, migrate, type PlatformConfig } from '@schedstack/platform';
import type { PlatformAdapters } from './platform.module';

export interface LocalRuntime {
  readonly adapters: PlatformAdapters;
  /** The microservice strategy that serves every service's @MessagePattern handlers in-process. */
  readonly server: InProcessServer;
  close(): Promise<void>;
}

/**
 * SPEC §1 local profile: one process, the in-process bus with the same message contracts as NATS,
 * and the PostgreSQL event store followed directly by the projections.
 */
export async function createLocalRuntime(config: PlatformConfig, databaseUrl: string): Promise<LocalRuntime> {
  const pool = createPool(databaseUrl);
  await migrate(pool, 'platform', CHECKPOINT_MIGRATIONS);
  const store = new PostgresEventStore({ pool });
  await store.init();
  const broker = new InProcessBroker();
  const bus = createBusClient('in-process', broker);
  return {
    adapters: { config, pool, store, feed: new StoreEventFeed(store), bus },
    server: new InProcessServer(broker),
    async close() {
      await bus.close();
      await store.close();
      await pool.end();
    },
  };
}
