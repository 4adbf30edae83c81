import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  ApiError,
  type CreateScheduleCommand,
  type GetByIdQuery,
  type ListQuery,
  newId,
  type ScheduleView,
  streamName,
} from '@schedstack/contracts';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import { EVENT_FEED, type EventFeed } from '@schedstack/messaging';
import { CLOCK, type Clock, handleCommand, orderKeys, PG_POOL, ReadModels, ScopedReadModel } from '@schedstack/platform';
import { scheduleDecider, triggerFromInput } from '@schedstack/schedules-domain';
import type { Pool } from 'pg';
import { SCHEDULES_MIGRATIONS, schedulesProjection } from './schedules.projection';

/** Command and query handlers of the schedules service (SPEC §3). */
@Injectable()
export class SchedulesApplication implements OnModuleInit, OnModuleDestroy {
  private readonly readModels: ReadModels;
  private readonly schedules: ScopedReadModel<ScheduleView>;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(EVENT_FEED) feed: EventFeed,
    @Inject(PG_POOL) pool: Pool,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.readModels = new ReadModels(pool, feed, 'schedules', SCHEDULES_MIGRATIONS, [schedulesProjection]);
    this.schedules = new ScopedReadModel<ScheduleView>(pool, 'sch_schedules', { state: 'state' }, (view) =>
      orderKeys(view, ['id', 'object', 'mode', 'endpoint', 'method', 'headers', 'body', 'delay', 'run_at', 'cron', 'timezone', 'state', 'next_fire_at', 'created_at']),
    );
  }

  onModuleInit(): Promise<void> {
    return this.readModels.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.readModels.stop();
  }

  async create({ scope, input }: CreateScheduleCommand): Promise<ScheduleView> {
    const now = this.clock.now();
    const trigger = triggerFromInput(input, now);
    const scheduleId = newId('sch');
    const outcome = await handleCommand(
      this.store,
      streamName(scope, 'schedule', scheduleId),
      scheduleDecider,
      {
        type: 'create',
        data: {
          scheduleId,
          trigger,
          firstDeliveryId: newId('dlv'),
          request: { endpoint: input.endpoint, method: input.method, headers: input.headers, body: input.body },
        },
      },
      () => now,
    );
    return this.readAfterWrite(scope, scheduleId, outcome.appended?.position);
  }

  async get({ scope, id }: GetByIdQuery): Promise<ScheduleView> {
    const view = await this.schedules.get(scope, id);
    if (!view) throw ApiError.notFound('schedule', id);
    return view;
  }

  list({ scope, limit, starting_after, filters }: ListQuery) {
    return this.schedules.list(scope, { limit, starting_after, filters });
  }

  private async readAfterWrite(scope: CreateScheduleCommand['scope'], id: string, position?: import('@schedstack/event-store').Position) {
    if (position) await this.readModels.runner(schedulesProjection.name).waitFor(position);
    return this.get({ scope, id });
  }
}
