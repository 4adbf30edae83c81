import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  type CreateScheduleCommand,
  type GetByIdQuery,
  type ListQuery,
  PATTERNS,
  type ScheduleActionCommand,
  type UpcomingFiresQuery,
} from '@schedstack/contracts';
import { BusController, PlatformHealth } from '@schedstack/platform';
import { SchedulesApplication } from './schedules.application';

@BusController()
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

  @MessagePattern(PATTERNS.schedules.pause)
  pause(@Payload() command: ScheduleActionCommand) {
    return this.schedules.pause(command);
  }

  @MessagePattern(PATTERNS.schedules.resume)
  resume(@Payload() command: ScheduleActionCommand) {
    return this.schedules.resume(command);
  }

  @MessagePattern(PATTERNS.schedules.cancel)
  cancel(@Payload() command: ScheduleActionCommand) {
    return this.schedules.cancel(command);
  }

  @MessagePattern(PATTERNS.schedules.upcoming)
  upcoming(@Payload() query: UpcomingFiresQuery) {
    return this.schedules.upcoming(query);
  }

  @MessagePattern(PATTERNS.schedules.health)
  health() {
    return this.platformHealth.report('schedules');
  }
}
