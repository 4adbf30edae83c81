import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { type CreateScheduleCommand, type GetByIdQuery, type ListQuery, PATTERNS } from '@schedstack/contracts';
import { PlatformHealth, RpcErrorsFilter } from '@schedstack/platform';
import { SchedulesApplication } from './schedules.application';

@Controller()
@UseFilters(RpcErrorsFilter)
export class SchedulesController {
  constructor(
    private readonly schedules: SchedulesApplication,
    private readonly platformHealth: PlatformHealth,
  ) {}

  @MessagePattern(PATTERNS.schedules.create)
  create(@Payload() command: CreateScheduleCommand) {
    return this.schedules.create(command);
  }

  @MessagePattern(PATTERNS.schedules.get)
  get(@Payload() query: GetByIdQuery) {
    return this.schedules.get(query);
  }

  @MessagePattern(PATTERNS.schedules.list)
  list(@Payload() query: ListQuery) {
    return this.schedules.list(query);
  }

  @MessagePattern(PATTERNS.schedules.health)
  health() {
    return this.platformHealth.report('schedules');
  }
}
