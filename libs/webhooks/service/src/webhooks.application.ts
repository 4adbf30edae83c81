import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  ApiError,
  type DeletedObject,
  type GetByIdQuery,
  hasPrefix,
  type ListQuery,
  type ListResult,
  newId,
  type Scope,
  streamName,
  type WebhookEndpointCommand,
  type WebhookEndpointView,
  type WebhookEndpointWithSecret,
} from '@schedstack/contracts';
import { EVENT_STORE, type EventStore, type Position } from '@schedstack/event-store';
import { EVENT_FEED, type EventFeed } from '@schedstack/messaging';
import { CLOCK, type Clock, handleCommand, orderKeys, PG_POOL, PLATFORM_CONFIG, type PlatformConfig, ReadModels, ScopedReadModel } from '@schedstack/platform';
import { generateSigningSecret, sealSecret } from '@schedstack/signing';
import type { Pool } from 'pg';
import { type WebhookEndpointCommand as DomainCommand, webhookEndpointDecider } from './webhook-endpoint.decider';
import { createWebhooksProjection, WEBHOOKS_MIGRATIONS, WEBHOOKS_PROJECTION } from './webhooks.projection';

const ENDPOINT_KEYS: (keyof WebhookEndpointView)[] = ['id', 'object', 'mode', 'url', 'description', 'events', 'enabled', 'created_at'];

/** SPEC §6 webhook endpoints of an environment (never cloned: their events are `client` data). */
@Injectable()
export class WebhooksApplication implements OnModuleInit, OnModuleDestroy {
  private readonly readModels: ReadModels;
  private readonly endpoints: ScopedReadModel<WebhookEndpointView>;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(EVENT_FEED) feed: EventFeed,
    @Inject(PG_POOL) pool: Pool,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(PLATFORM_CONFIG) private readonly config: PlatformConfig,
  ) {
    this.readModels = new ReadModels(pool, feed, 'webhooks', WEBHOOKS_MIGRATIONS, [createWebhooksProjection(store)]);
    this.endpoints = new ScopedReadModel<WebhookEndpointView>(pool, 'wh_endpoints', {}, (view) => orderKeys(view, ENDPOINT_KEYS));
  }

  onModuleInit(): Promise<void> {
    return this.readModels.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.readModels.stop();
  }

  async create({ scope, input }: WebhookEndpointCommand): Promise<WebhookEndpointWithSecret> {
    const endpointId = newId('we');
    const secret = generateSigningSecret();
    const command: DomainCommand = {
      type: 'create',
      data: {
        endpointId,
        url: input.url as string,
        events: [...(input.events ?? ['*'])],
        enabled: input.enabled ?? true,
        description: input.description ?? null,
        secret: sealSecret(secret, this.config.secretsKey),
      },
    };
    const view = await this.run(scope, endpointId, command);
    return { ...view, secret };
  }

  async get({ scope, id }: GetByIdQuery): Promise<WebhookEndpointView> {
    const view = hasPrefix(id, 'we') ? await this.endpoints.get(scope, id) : null;
    if (!view) throw ApiError.notFound('webhook_endpoint', id);
    return view;
  }

  list({ scope, limit, starting_after }: ListQuery): Promise<ListResult<WebhookEndpointView>> {
    return this.endpoints.list(scope, { limit, starting_after });
  }

  async update({ scope, id, input }: WebhookEndpointCommand): Promise<WebhookEndpointView> {
    const endpointId = await this.existing(scope, id ?? '');
    // Only the fields sent go into the event (an absent one is unchanged; `description: null` clears it).
    const data = {
      endpointId,
      ...(input.url !== undefined ? { url: input.url } : {}),
      ...(input.events !== undefined ? { events: [...input.events] } : {}),
      ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
    };
    return this.run(scope, endpointId, { type: 'update', data });
  }

  async rotateSecret({ scope, id }: GetByIdQuery): Promise<WebhookEndpointWithSecret> {
    const endpointId = await this.existing(scope, id);
    const secret = generateSigningSecret();
    const view = await this.run(scope, endpointId, { type: 'rotate_secret', data: { endpointId, secret: sealSecret(secret, this.config.secretsKey) } });
    return { ...view, secret };
  }

  async remove({ scope, id }: GetByIdQuery): Promise<DeletedObject> {
    const endpointId = await this.existing(scope, id);
    const outcome = await handleCommand(this.store, this.stream(scope, endpointId), webhookEndpointDecider, { type: 'delete', data: { endpointId } }, () => this.clock.now());
    await this.caughtUp(outcome.appended?.position);
    return { id: endpointId, object: 'webhook_endpoint', deleted: true };
  }


  /** The scoped read first, so another environment's id is the same 404 as an unknown one. */
  private async existing(scope: Scope, id: string): Promise<string> {
    return (await this.get({ scope, id })).id;
  }

  private async run(scope: Scope, endpointId: string, command: DomainCommand): Promise<WebhookEndpointView> {
    const outcome = await handleCommand(this.store, this.stream(scope, endpointId), webhookEndpointDecider, command, () => this.clock.now());
    await this.caughtUp(outcome.appended?.position);
    return this.get({ scope, id: endpointId });
  }

  private async caughtUp(position: Position | undefined): Promise<void> {
    if (position) await this.readModels.runner(WEBHOOKS_PROJECTION).waitFor(position);
  }

  private stream(scope: Scope, endpointId: string): string {
    return streamName(scope, 'webhook_endpoint', endpointId);
  }
}
