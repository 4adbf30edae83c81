import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import { BUS_CLIENT, EVENT_FEED, type EventFeed } from '@schedstack/messaging';
import { CLOCK, type Clock, PG_POOL, PLATFORM_CONFIG, PlatformHealth, type PlatformConfig, systemClock } from '@schedstack/platform';
import type { Pool } from 'pg';

/** The adapters one process runs with; which ones is decided once, by the profile (STYLE §3). */
export interface PlatformAdapters {
  readonly config: PlatformConfig;
  readonly pool: Pool;
  readonly store: EventStore;
  readonly feed: EventFeed;
  readonly bus: ClientProxy;
  readonly clock?: Clock;
}

/** Binds the ports every service module injects to the adapters of this process. */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(adapters: PlatformAdapters): DynamicModule {
    const providers = [
      { provide: PLATFORM_CONFIG, useValue: adapters.config },
      { provide: PG_POOL, useValue: adapters.pool },
      { provide: EVENT_STORE, useValue: adapters.store },
      { provide: EVENT_FEED, useValue: adapters.feed },
      { provide: BUS_CLIENT, useValue: adapters.bus },
      { provide: CLOCK, useValue: adapters.clock ?? systemClock },
      PlatformHealth,
    ];
    // No global interceptors: each is a layer on every request (the bus servers continue the trace,
    // withBusTrace; a database or broker outage is a 503 in both error renderers).
    return {
      module: PlatformModule,
      global: true,
      providers,
      exports: providers.map((p) => ('provide' in p ? p.provide : p)),
    };
  }
}
