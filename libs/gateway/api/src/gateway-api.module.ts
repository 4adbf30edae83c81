import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { ApiRouteInterceptor } from './api-route.interceptor';
import { ApiKeyGuard } from './api-key.guard';
import { DeadLettersHttpController } from './dead-letters.http';
import { DeliveriesHttpController } from './deliveries.http';
import { ENVIRONMENTS_HTTP_CONTROLLERS, ENVIRONMENTS_HTTP_PROVIDERS } from './environments-api';
import { HealthHttpController } from './health.http';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyStore } from './idempotency.store';
import { OpenApiDocumentHolder } from './openapi.document';
import { OpenApiHttpController } from './openapi.http';
import { MetricsHttpController } from './metrics.http';
import { SchedulesHttpController } from './schedules.http';
import { SigningSecretHttpController } from './signing-secret.http';
import { SloHttpController } from './slo.http';
import { WebhookEndpointsHttpController } from './webhook-endpoints.http';

/** The public REST API (SPEC §9). Its one table holds idempotency records; everything else goes over the bus. */
@Module({
  controllers: [HealthHttpController, SchedulesHttpController, DeliveriesHttpController, DeadLettersHttpController, SigningSecretHttpController, WebhookEndpointsHttpController, SloHttpController, MetricsHttpController, OpenApiHttpController, ...ENVIRONMENTS_HTTP_CONTROLLERS],
  providers: [
    ApiKeyGuard,
    IdempotencyStore,
    IdempotencyInterceptor,
    OpenApiDocumentHolder,
    ...ENVIRONMENTS_HTTP_PROVIDERS,
    { provide: APP_INTERCEPTOR, useClass: ApiRouteInterceptor },
  ],
})
export class GatewayApiModule {}
