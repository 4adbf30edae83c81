/**
 * Entry point of the dispatcher's sending thread (docs/dispatcher.md, "The sending threads"): a
 * FireLauncher with its own undici pool and outbound guard, driven by the messages of a
 * ThreadedLaunchPad on the main thread.
 */
import { constants, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { UndiciHttpSender } from './http-sender';
import { FireLauncher, type LaunchReport } from './launcher';
import { OutboundGuard } from './outbound-guard';
import type { PadMessage, SendingThreadOptions, ThreadMessage } from './threaded-launch-pad';

const port = parentPort;
if (!port) throw new Error('sending-thread runs as a worker thread');
const options = workerData as SendingThreadOptions;
try {
  // On Linux the nice value is per thread, and 0 names this one: where the process may (CAP_SYS_NICE),
  // the sending thread gets a core ahead of the projections, PostgreSQL and the rest of the machine.
  setPriority(0, constants.priority.PRIORITY_ABOVE_NORMAL);
} catch {
  // Not allowed: the thread runs at the process's own priority.
}
const launcher = new FireLauncher(new UndiciHttpSender({ guard: new OutboundGuard(options.guard) }));

// Reports of one turn of the event loop travel together: one message, not one per fire.
let pending: LaunchReport[] = [];
let flushing: NodeJS.Immediate | null = null;
const post = (message: ThreadMessage) => port.postMessage(message);
const flush = () => {
  if (flushing) clearImmediate(flushing);
  flushing = null;
  if (pending.length === 0) return;
  post({ kind: 'reports', reports: pending });
  pending = [];
};
launcher.connect((reports) => {
  pending.push(...reports);
  flushing ??= setImmediate(flush);
});

port.on('message', (message: PadMessage) => {
  switch (message.kind) {
    case 'arm':
      return launcher.arm(message.orders);
    case 'disarm':
      return launcher.disarm(message.ids);
    case 'extend':
      return launcher.extend(message.leases);
    case 'resume':
      return launcher.resume(message.id, message.leaseDeadline);
    case 'stop':
      return void launcher.stop().then((unsent) => {
        // Reports made before the stop reach the engine before its answer.
        flush();
        post({ kind: 'stopped', unsent });
      });
    case 'close':
      return void launcher.close().then(() => {
        flush();
        post({ kind: 'closed' });
      });
  }
});
