import { Module } from '@nestjs/common';
import { ApiKeyGuard } from './api-key.guard';
import { DeliveriesHttpController } from './deliveries.http';
import { HealthHttpController } from './health.http';
import { SchedulesHttpController } from './schedules.http';

/** The public REST API (SPEC §9). It owns no tables: every call goes over the bus. */
@Module({
  controllers: [HealthHttpController, SchedulesHttpController, DeliveriesHttpController],
  providers: [ApiKeyGuard],
})
export class GatewayApiModule {}
