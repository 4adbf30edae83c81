import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Position } from '@schedstack/event-store';
import { EVENT_FEED, type EventFeed } from '@schedstack/messaging';
import { PG_POOL, type ProjectionDefinition, ReadModels } from '@schedstack/platform';
import type { Pool } from 'pg';
import { configProjection, datasetRowsProjection } from './config.projection';
import { ENVIRONMENTS_MIGRATIONS, environmentsProjection } from './environments.projection';

/** The environments service's read models, shared by its application services. */
@Injectable()
export class EnvironmentsReadModels implements OnModuleInit, OnModuleDestroy {
  private readonly models: ReadModels;

  constructor(@Inject(EVENT_FEED) feed: EventFeed, @Inject(PG_POOL) pool: Pool) {
    this.models = new ReadModels(pool, feed, 'environments', ENVIRONMENTS_MIGRATIONS, [environmentsProjection, configProjection, datasetRowsProjection]);
  }

  onModuleInit(): Promise<void> {
    return this.models.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.models.stop();
  }

  /** Read-your-writes: resolves once `projection` has applied the write at `position` (none: nothing was written). */
  async settled(projection: ProjectionDefinition, position: Position | undefined): Promise<void> {
    if (position) await this.models.runner(projection.name).waitFor(position);
  }
}
