import { Module } from '@nestjs/common';
import { AccessController } from './access.controller';
import { ApiKeysApplication } from './api-keys.application';
import { CloneApplication } from './clone.application';
import { ConfigApplication } from './config.application';
import { ConfigurationController } from './configuration.controller';
import { DatasetsApplication } from './datasets.application';
import { EnvironmentsApplication } from './environments.application';
import { EnvironmentsController } from './environments.controller';
import { EnvironmentsReadModels } from './environments.read-models';
import { LimitsApplication } from './limits.application';
import { MembersApplication } from './members.application';
import { SessionsApplication } from './sessions.application';

/** The environments service: projects, users, members, sessions, API keys, configuration, clone, limits (SPEC §2, §5). */
@Module({
  controllers: [EnvironmentsController, AccessController, ConfigurationController],
  providers: [
    EnvironmentsReadModels,
    EnvironmentsApplication,
    ApiKeysApplication,
    SessionsApplication,
    MembersApplication,
    ConfigApplication,
    DatasetsApplication,
    CloneApplication,
    LimitsApplication,
  ],
})
export class EnvironmentsServiceModule {}
