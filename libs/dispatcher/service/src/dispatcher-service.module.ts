import { Module } from '@nestjs/common';
import { DispatcherApplication } from './dispatcher.application';
import { DispatcherController } from './dispatcher.controller';
import { HTTP_SENDER, UndiciHttpSender } from './http-sender';

/** The dispatcher service (SPEC §4). */
@Module({
  controllers: [DispatcherController],
  providers: [DispatcherApplication, { provide: HTTP_SENDER, useClass: UndiciHttpSender }],
})
export class DispatcherServiceModule {}
