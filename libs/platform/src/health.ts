import { Inject, Injectable } from '@nestjs/common';
import type { HealthReport } from '@schedstack/contracts';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import type { Pool } from 'pg';
import { PG_POOL } from './database';

/** What each service answers on its health subject: can it reach its database and the event store? */
@Injectable()
export class PlatformHealth {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  async report(service: string): Promise<HealthReport> {
    const [database, eventStore] = await Promise.all([
      this.pool.query('SELECT 1').then(() => true, () => false),
      this.store.ping(),
    ]);
    return { service, ok: database && eventStore, checks: { database, event_store: eventStore } };
  }
}
