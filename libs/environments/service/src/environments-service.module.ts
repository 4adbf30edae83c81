import { Module } from '@nestjs/common';
import { EnvironmentsApplication } from './environments.application';
import { EnvironmentsController } from './environments.controller';

/** The environments service: projects, users, members, API keys (SPEC §2, §5). */
@Module({ controllers: [EnvironmentsController], providers: [EnvironmentsApplication] })
export class EnvironmentsServiceModule {}
