import { Module } from '@nestjs/common';
import { CLOCK, type Clock, PLATFORM_CONFIG, type PlatformConfig } from '@schedstack/platform';
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
      useFactory: (config: PlatformConfig, clock: Clock) => {
        const guard = { allowLoopback: config.allowLoopbackTargets, allowlist: config.outboundAllowlist };
        // Built here in either case, so a bad allowlist entry stops the process at start with a clear message.
        const checked = new OutboundGuard(guard);
        // On the main thread the launcher keeps the engine's clock; a sending thread has the system clock.
        return config.sendingThreads > 0
          ? new ThreadedLaunchPad({ guard }, config.sendingThreads)
          : new FireLauncher(new UndiciHttpSender({ guard: checked }), () => clock.now().getTime());
      },
      inject: [PLATFORM_CONFIG, CLOCK],
    },
  ],
})
export class DispatcherServiceModule {}
