import { Module } from '@nestjs/common';
import { WebhooksController } from './webhooks.controller';

/** The webhooks service (SPEC §6): endpoints that subscribe to platform events. */
@Module({ controllers: [WebhooksController] })
export class WebhooksServiceModule {}
