import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import { type DatasetRowView, type ListResult, PATTERNS, type Scope } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { ListPageDto } from './access.dto';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { parseLimit } from './pagination';
import { apiValidationPipe } from './validation';

/** SPEC §5 dataset rows: client data of the caller's environment, validated against the schema. */
@ApiTags('datasets')
@Controller('v1/datasets')
@UseGuards(ApiKeyGuard)
@UsePipes(apiValidationPipe)
export class DatasetsHttpController {
  constructor(@Inject(BUS_CLIENT) private readonly bus: ClientProxy) {}

  @Post(':schema/rows')
  @HttpCode(201)
  @ApiBody({ description: 'The row: a plain object of the schema’s fields.', schema: { type: 'object', additionalProperties: true } })
  create(@CurrentScope() scope: Scope, @Param('schema') schema: string, @Body() data: Record<string, unknown>): Promise<DatasetRowView> {
    return request(this.bus, PATTERNS.environments.createDatasetRow, { scope, schema, data });
  }

  @Get(':schema/rows')
  list(@CurrentScope() scope: Scope, @Param('schema') schema: string, @Query() query: ListPageDto): Promise<ListResult<DatasetRowView>> {
    return request(this.bus, PATTERNS.environments.listDatasetRows, { scope, schema, limit: parseLimit(query.limit), starting_after: query.starting_after });
  }
}
