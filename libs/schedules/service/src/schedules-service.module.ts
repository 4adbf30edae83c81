import { Module } from '@nestjs/common';
import { SchedulesApplication } from './schedules.application';
import { SchedulesController } from './schedules.controller';

/** The schedules service: owns the schedule aggregate and its read model. */
@Module({ controllers: [SchedulesController], providers: [SchedulesApplication] })
export class SchedulesServiceModule {}
