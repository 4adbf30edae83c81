import { Module } from '@nestjs/common';
import { PLATFORM_CONFIG, type PlatformConfig } from '@schedstack/platform';
import { DispatcherApplication } from './dispatcher.application';
import { DispatcherController } from './dispatcher.controller';
import { UndiciHttpSender } from './http-sender';
import { FireLauncher } from './launcher';
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
        // Built here in either case, so a bad allowlist entry stops the process at start with a clear message.
        const checked = new OutboundGuard(guard);
        return config.sendingThreads > 0 ? new ThreadedLaunchPad({ guard }, config.sendingThreads) : new FireLauncher(new UndiciHttpSender({ guard: checked }));
      },
      inject: [PLATFORM_CONFIG],
    },
  ],
})
export class DispatcherServiceModule {}
