import { Controller, Get, Inject, Param, Query, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { type DeliveryView, type ListResult, PATTERNS, type Scope } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { parseLimit } from './pagination';
import { ListDeliveriesDto } from './schedules.dto';
import { apiValidationPipe } from './validation';

@Controller('v1/deliveries')
@UseGuards(ApiKeyGuard)
@UsePipes(apiValidationPipe)
export class DeliveriesHttpController {
  constructor(@Inject(BUS_CLIENT) private readonly bus: ClientProxy) {}

  @Get()
  list(@CurrentScope() scope: Scope, @Query() query: ListDeliveriesDto): Promise<ListResult<DeliveryView>> {
    return request(this.bus, PATTERNS.dispatcher.listDeliveries, {
      scope,
      limit: parseLimit(query.limit),
      starting_after: query.starting_after,
      filters: { schedule: query.schedule, state: query.state },
    });
  }

  @Get(':id')
  get(@CurrentScope() scope: Scope, @Param('id') id: string): Promise<DeliveryView> {
    return request(this.bus, PATTERNS.dispatcher.getDelivery, { scope, id });
  }
}
