import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ApiError, type DeliveryView, type GetByIdQuery, type ListQuery, type Scoped, type SigningSecretView, type SloQuery, type SloReport, streamName } from '@schedstack/contracts';
import { deliveryDecider } from '@schedstack/dispatcher-domain';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import { EVENT_FEED, type EventFeed } from '@schedstack/messaging';
import {
  CLOCK,
  type Clock,
  handleCommand,
  orderKeys,
  PG_POOL,
  PLATFORM_CONFIG,
  type PlatformConfig,
  ReadModels,
  ScopedReadModel,
} from '@schedstack/platform';
import type { Pool } from 'pg';
import { DEFAULT_ENGINE_OPTIONS, DispatchEngine } from './dispatch-engine';
import { createDispatcherProjection, DISPATCHER_MIGRATIONS, signingSecretsProjection } from './dispatcher.projection';
import { exposeQueueDepth } from './delivery.metrics';
import type { LaunchPad } from './launcher';
import { SigningSecrets } from './signing-secrets';
import { LAUNCH_PAD } from './threaded-launch-pad';
import { sloReport } from './slo-report';

const DUE_FIRES_PROJECTION = 'dispatcher.due-fires';

/** The dispatcher service: plans fires from events, sends them, and answers delivery and signing-secret requests. */
@Injectable()
export class DispatcherApplication implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly readModels: ReadModels;
  private readonly deliveries: ScopedReadModel<DeliveryView>;
  private readonly signingSecrets: SigningSecrets;
  readonly engine: DispatchEngine;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(EVENT_FEED) feed: EventFeed,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LAUNCH_PAD) private readonly launcher: LaunchPad,
    @Inject(PLATFORM_CONFIG) private readonly config: PlatformConfig,
  ) {
    const dueFires = createDispatcherProjection({ onWithdrawn: (ids) => this.engine.withdraw(ids) });
    this.readModels = new ReadModels(pool, feed, 'dispatcher', DISPATCHER_MIGRATIONS, [dueFires, signingSecretsProjection]);
    this.deliveries = new ScopedReadModel<DeliveryView>(pool, 'dsp_deliveries', { schedule: 'schedule_id', state: 'state', webhook_endpoint: 'webhook_endpoint_id' }, (view) => ({
      ...orderKeys(view, ['id', 'object', 'mode', 'schedule', 'webhook_endpoint', 'state', 'fire_kind', 'scheduled_for', 'next_attempt_at', 'attempts', 'created_at']),
      attempts: view.attempts.map((a) =>
        orderKeys(a, ['n', 'fire_kind', 'scheduled_for', 'fired_at', 'status_code', 'duration_ms', 'response_body', 'error', 'mocked']),
      ),
    }));
    this.signingSecrets = new SigningSecrets(store, clock, config.secretsKey);
    if (!config.secretsKey && config.profile === 'distributed') {
      new Logger('dispatcher').warn('SCHEDSTACK_SECRETS_KEY is not set: delivery signing secrets are stored unsealed in the event store');
    }
    this.engine = new DispatchEngine(pool, store, launcher, clock, this.signingSecrets, {
      ...DEFAULT_ENGINE_OPTIONS,
      ...config.dispatch,
      userAgent: `SchedStack/${config.version}`,
    });
  }

  onModuleInit(): Promise<void> {
    return this.readModels.start();
  }

  onApplicationBootstrap(): void {
    this.engine.start();
    exposeQueueDepth(this.pool);
  }

  async onModuleDestroy(): Promise<void> {
    exposeQueueDepth(null);
    await this.engine.stop();
    await this.readModels.stop();
    await this.launcher.close();
  }

  async get({ scope, id }: GetByIdQuery): Promise<DeliveryView> {
    const view = await this.deliveries.get(scope, id);
    if (!view) throw ApiError.notFound('delivery', id);
    return view;
  }

  list({ scope, limit, starting_after, filters }: ListQuery) {
    return this.deliveries.list(scope, { limit, starting_after, filters });
  }

  /** SPEC §4 `GET /v1/dead-letters`: the environment's dead-lettered deliveries, newest first. */
  listDeadLetters({ scope, limit, starting_after }: ListQuery) {
    return this.deliveries.list(scope, { limit, starting_after, filters: { state: 'dead_lettered' } });
  }

  /** SPEC §5 deliveries-per-day quota: deliveries of the environment created since 00:00 UTC. */
  countDeliveriesToday(scope: Scoped['scope']): Promise<number> {
    const midnight = new Date(this.clock.now());
    midnight.setUTCHours(0, 0, 0, 0);
    return this.deliveries.count(scope, {}, midnight);
  }

  /** SPEC §4 replay: the delivery goes out again as its next attempt (`fire_kind: replay`), through a due fire. */
  async replay({ scope, id }: GetByIdQuery): Promise<DeliveryView> {
    // The scoped read comes first, so another environment's id is the same 404 as an unknown one.
    await this.get({ scope, id });
    const outcome = await handleCommand(this.store, streamName(scope, 'delivery', id), deliveryDecider, { type: 'replay', data: { deliveryId: id } }, () =>
      this.clock.now(),
    );
    if (outcome.appended) await this.readModels.runner(DUE_FIRES_PROJECTION).waitFor(outcome.appended.position);
    return this.get({ scope, id });
  }

  getSigningSecret({ scope }: Scoped): Promise<SigningSecretView> {
    return this.signingSecrets.view(scope);
  }

  rotateSigningSecret({ scope }: Scoped): Promise<SigningSecretView> {
    return this.signingSecrets.rotate(scope);
  }

  /** SPEC §7 `GET /v1/slo`, from the recorded attempts of the caller's environment. */
  slo(query: SloQuery): Promise<SloReport> {
    return sloReport(this.pool, query, this.clock.now(), this.config.sloObjectiveMs);
  }
}
