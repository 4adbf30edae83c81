import { Module } from '@nestjs/common';
import { PLATFORM_CONFIG, type PlatformConfig } from '@schedstack/platform';
import { DispatcherApplication } from './dispatcher.application';
import { DispatcherController } from './dispatcher.controller';
import { HTTP_SENDER, UndiciHttpSender } from './http-sender';
import { OutboundGuard } from './outbound-guard';

/** The dispatcher service (SPEC §4). */
@Module({
  controllers: [DispatcherController],
  providers: [
    DispatcherApplication,
    {
      provide: HTTP_SENDER,
      // The guard reads the allowlist here, at start, so a bad entry stops the process with a clear message.
      useFactory: (config: PlatformConfig) =>
        new UndiciHttpSender({ guard: new OutboundGuard({ allowLoopback: config.allowLoopbackTargets, allowlist: config.outboundAllowlist }) }),
      inject: [PLATFORM_CONFIG],
    },
  ],
})
export class DispatcherServiceModule {}
