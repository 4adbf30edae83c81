import { type DynamicModule, Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import type { ClientProxy } from '@nestjs/microservices';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import { BUS_CLIENT, EVENT_FEED, type EventFeed } from '@schedstack/messaging';
import { CLOCK, type Clock, PG_POOL, PLATFORM_CONFIG, PlatformHealth, type PlatformConfig, systemClock, TraceContextInterceptor } from '@schedstack/platform';
import type { Pool } from 'pg';
import { UnavailableInterceptor } from './unavailable.interceptor';

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
    // SPEC §7: every message handler of the process continues the sender's trace.
    const tracing = { provide: APP_INTERCEPTOR, useClass: TraceContextInterceptor };
    // SPEC §8: a database or broker outage is a 503 for every handler, HTTP or bus.
    const unavailable = { provide: APP_INTERCEPTOR, useClass: UnavailableInterceptor };
    return {
      module: PlatformModule,
      global: true,
      providers: [...providers, tracing, unavailable],
      exports: providers.map((p) => ('provide' in p ? p.provide : p)),
    };
  }
}
