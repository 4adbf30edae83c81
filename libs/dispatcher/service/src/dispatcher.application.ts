import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ApiError, type DeliveryView, type GetByIdQuery, type ListQuery } from '@schedstack/contracts';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import { EVENT_FEED, type EventFeed } from '@schedstack/messaging';
import { CLOCK, type Clock, orderKeys, PG_POOL, PLATFORM_CONFIG, type PlatformConfig, ReadModels, ScopedReadModel } from '@schedstack/platform';
import type { Pool } from 'pg';
import { DEFAULT_ENGINE_OPTIONS, DispatchEngine } from './dispatch-engine';
import { DISPATCHER_MIGRATIONS, dispatcherProjection } from './dispatcher.projection';
import { HTTP_SENDER, type HttpSender } from './http-sender';

/** The dispatcher service: plans fires from events, sends them, and answers delivery queries. */
@Injectable()
export class DispatcherApplication implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly readModels: ReadModels;
  private readonly deliveries: ScopedReadModel<DeliveryView>;
  readonly engine: DispatchEngine;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(EVENT_FEED) feed: EventFeed,
    @Inject(PG_POOL) pool: Pool,
    @Inject(CLOCK) clock: Clock,
    @Inject(HTTP_SENDER) sender: HttpSender,
    @Inject(PLATFORM_CONFIG) config: PlatformConfig,
  ) {
    this.readModels = new ReadModels(pool, feed, 'dispatcher', DISPATCHER_MIGRATIONS, [dispatcherProjection]);
    this.deliveries = new ScopedReadModel<DeliveryView>(pool, 'dsp_deliveries', { schedule: 'schedule_id', state: 'state' }, (view) => ({
      ...orderKeys(view, ['id', 'object', 'mode', 'schedule', 'state', 'fire_kind', 'scheduled_for', 'attempts', 'created_at']),
      attempts: view.attempts.map((a) =>
        orderKeys(a, ['n', 'fire_kind', 'scheduled_for', 'fired_at', 'status_code', 'duration_ms', 'response_body', 'error', 'mocked']),
      ),
    }));
    this.engine = new DispatchEngine(pool, store, sender, clock, {
      ...DEFAULT_ENGINE_OPTIONS,
      userAgent: `SchedStack/${config.version}`,
    });
  }

  onModuleInit(): Promise<void> {
    return this.readModels.start();
  }

  onApplicationBootstrap(): void {
    this.engine.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.engine.stop();
    await this.readModels.stop();
  }

  async get({ scope, id }: GetByIdQuery): Promise<DeliveryView> {
    const view = await this.deliveries.get(scope, id);
    if (!view) throw ApiError.notFound('delivery', id);
    return view;
  }

  list({ scope, limit, starting_after, filters }: ListQuery) {
    return this.deliveries.list(scope, { limit, starting_after, filters });
  }
}
