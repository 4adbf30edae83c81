import { Module } from '@nestjs/common';
import { WebhooksApplication } from './webhooks.application';
import { WebhooksController } from './webhooks.controller';

/** The webhooks service (SPEC §6): endpoints that subscribe to platform events. */
@Module({ controllers: [WebhooksController], providers: [WebhooksApplication] })
export class WebhooksServiceModule {}
