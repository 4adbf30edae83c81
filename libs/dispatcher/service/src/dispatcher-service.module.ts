import { Module } from '@nestjs/common';
import { PLATFORM_CONFIG, type PlatformConfig } from '@schedstack/platform';
import { DispatcherApplication } from './dispatcher.application';
import { DispatcherController } from './dispatcher.controller';
import { OutboundGuard } from './outbound-guard';
import { LAUNCH_PAD, ThreadedLaunchPad } from './threaded-launch-pad';

/** The dispatcher service (SPEC §4). */
@Module({
  controllers: [DispatcherController],
  providers: [
    DispatcherApplication,
    {
      provide: LAUNCH_PAD,
      useFactory: (config: PlatformConfig) => {
        const guard = { allowLoopback: config.allowLoopbackTargets, allowlist: config.outboundAllowlist };
        // Checked here too, at start, so a bad allowlist entry stops the process with a clear message (the sending thread builds its own guard).
        new OutboundGuard(guard);
        return new ThreadedLaunchPad({ guard });
      },
      inject: [PLATFORM_CONFIG],
    },
  ],
})
export class DispatcherServiceModule {}
