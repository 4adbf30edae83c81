import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, UseGuards, UsePipes } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { type ListResult, PATTERNS, type Scope, type ScheduleView } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { ApiKeyGuard, CurrentScope } from './api-key.guard';
import { parseLimit } from './pagination';
import { CreateScheduleDto, ListSchedulesDto } from './schedules.dto';
import { apiValidationPipe } from './validation';

@Controller('v1/schedules')
@UseGuards(ApiKeyGuard)
@UsePipes(apiValidationPipe)
export class SchedulesHttpController {
  constructor(@Inject(BUS_CLIENT) private readonly bus: ClientProxy) {}

  @Post()
  @HttpCode(201)
  create(@CurrentScope() scope: Scope, @Body() dto: CreateScheduleDto): Promise<ScheduleView> {
    return request(this.bus, PATTERNS.schedules.create, {
      scope,
      input: {
        endpoint: dto.endpoint,
        method: dto.method ?? 'POST',
        headers: dto.headers ?? {},
        body: dto.body ?? null,
        delay: dto.delay,
        run_at: dto.run_at,
        cron: dto.cron,
        timezone: dto.timezone,
      },
    });
  }

  @Get()
  list(@CurrentScope() scope: Scope, @Query() query: ListSchedulesDto): Promise<ListResult<ScheduleView>> {
    return request(this.bus, PATTERNS.schedules.list, {
      scope,
      limit: parseLimit(query.limit),
      starting_after: query.starting_after,
      filters: { state: query.state },
    });
  }

  @Get(':id')
  get(@CurrentScope() scope: Scope, @Param('id') id: string): Promise<ScheduleView> {
    return request(this.bus, PATTERNS.schedules.get, { scope, id });
  }
}
