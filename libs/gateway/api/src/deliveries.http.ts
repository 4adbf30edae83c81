import { Controller, Get, HttpCode, Inject, Param, Post, Query, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { type DeliveryView, type ListResult, PATTERNS, type Scope } from '@schedstack/contracts';
import { ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { ApiErrors, conflict, invalid, notFound } from './openapi.errors';
import { DeliveryListModel, DeliveryModel } from './openapi.models';
import { parseLimit } from './pagination';
import { ListDeliveriesDto } from './schedules.dto';
import { apiValidationPipe } from './validation';

@ApiTags('deliveries')
@Controller('v1/deliveries')
@UseGuards(ApiKeyGuard)
@UsePipes(apiValidationPipe)
export class DeliveriesHttpController {
  constructor(@Inject(BUS_CLIENT) private readonly bus: ClientProxy) {}

  @Get()
  @ApiOperation({ summary: 'List deliveries', description: 'Newest first; filter by `schedule`, `webhook_endpoint` and `state`.' })
  @ApiOkResponse({ type: DeliveryListModel })
  @ApiErrors(invalid('limit', 'limit must be an integer from 1 to 100'))
  list(@CurrentScope() scope: Scope, @Query() query: ListDeliveriesDto): Promise<ListResult<DeliveryView>> {
    return request(this.bus, PATTERNS.dispatcher.listDeliveries, {
      scope,
      limit: parseLimit(query.limit),
      starting_after: query.starting_after,
      filters: { schedule: query.schedule, state: query.state, webhook_endpoint: query.webhook_endpoint },
    });
  }

  @Get(':id')
  @ApiOperation({ summary: 'Retrieve a delivery with its attempts' })
  @ApiParam({ name: 'id', description: 'The delivery id.', example: 'dlv_9fQpX2mLr4TzW7yVb1Nc0d' })
  @ApiOkResponse({ type: DeliveryModel })
  @ApiErrors(notFound('delivery', 'dlv_9fQpX2mLr4TzW7yVb1Nc0d'))
  get(@CurrentScope() scope: Scope, @Param('id') id: string): Promise<DeliveryView> {
    return request(this.bus, PATTERNS.dispatcher.getDelivery, { scope, id });
  }

  /** SPEC §4: sends a finished delivery again (`fire_kind: replay`); 202 because it goes out asynchronously. */
  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Replay a delivery',
    description: 'Sends a succeeded or dead-lettered delivery again, as its next attempt (`fire_kind: replay`), with a fresh round of retries.',
  })
  @ApiParam({ name: 'id', description: 'The delivery id.', example: 'dlv_9fQpX2mLr4TzW7yVb1Nc0d' })
  @ApiResponse({ status: 202, description: 'The replay is scheduled; the delivery reads `scheduled` until it goes out.', type: DeliveryModel })
  @ApiErrors(
    notFound('delivery', 'dlv_9fQpX2mLr4TzW7yVb1Nc0d'),
    conflict('delivery_not_replayable', 'Delivery dlv_9fQpX2mLr4TzW7yVb1Nc0d cannot be replayed now: it is retrying.'),
  )
  replay(@CurrentScope() scope: Scope, @Param('id') id: string): Promise<DeliveryView> {
    return request(this.bus, PATTERNS.dispatcher.replayDelivery, { scope, id });
  }
}
