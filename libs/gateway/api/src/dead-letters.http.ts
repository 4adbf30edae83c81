import { Controller, Get, Inject, Query, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { type DeliveryView, type ListResult, PATTERNS, type Scope } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { ApiOkResponse, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString } from 'class-validator';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { ApiErrors, invalid } from './openapi.errors';
import { DeliveryListModel } from './openapi.models';
import { parseLimit } from './pagination';
import { apiValidationPipe } from './validation';

export class ListDeadLettersDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, default: 10, description: 'Page size.' })
  @IsOptional()
  @IsString()
  limit?: string;

  @ApiPropertyOptional({ description: 'The id of the last delivery of the previous page.' })
  @IsOptional()
  @IsString()
  starting_after?: string;
}

/** SPEC §4 dead-letter queue: the environment's dead-lettered deliveries, each replayable. */
@ApiTags('dead-letters')
@Controller('v1/dead-letters')
@UseGuards(ApiKeyGuard)
@UsePipes(apiValidationPipe)
export class DeadLettersHttpController {
  constructor(@Inject(BUS_CLIENT) private readonly bus: ClientProxy) {}

  @Get()
  @ApiOperation({ summary: 'List dead-lettered deliveries', description: 'Newest first; each can be replayed with `POST /v1/deliveries/{id}/replay`.' })
  @ApiOkResponse({ type: DeliveryListModel })
  @ApiErrors(invalid('limit', 'limit must be an integer from 1 to 100'))
  list(@CurrentScope() scope: Scope, @Query() query: ListDeadLettersDto): Promise<ListResult<DeliveryView>> {
    return request(this.bus, PATTERNS.dispatcher.listDeadLetters, { scope, limit: parseLimit(query.limit), starting_after: query.starting_after, filters: {} });
  }
}
