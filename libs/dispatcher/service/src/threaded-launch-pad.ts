import { Logger } from '@nestjs/common';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LaunchOrder, LaunchPad, LaunchReport } from './launcher';
import type { OutboundGuardOptions } from './outbound-guard';

export interface SendingThreadOptions {
  readonly guard: OutboundGuardOptions;
}

/** Main thread → sending thread. */
export type PadMessage =
  | { readonly kind: 'arm'; readonly orders: readonly LaunchOrder[] }
  | { readonly kind: 'disarm'; readonly ids: readonly string[] }
  | { readonly kind: 'extend'; readonly leases: ReadonlyArray<readonly [string, number]> }
  | { readonly kind: 'resume'; readonly id: string; readonly leaseDeadline: number }
  | { readonly kind: 'stop' }
  | { readonly kind: 'close' };

/** Sending thread → main thread. */
export type ThreadMessage =
  | { readonly kind: 'reports'; readonly reports: LaunchReport[] }
  | { readonly kind: 'stopped'; readonly unsent: string[] }
  | { readonly kind: 'closed' };

export const LAUNCH_PAD = Symbol('LAUNCH_PAD');

/** Orders per message to the sending thread. */
const ARM_SLICE = 50;

/** Run from TypeScript sources (jest), the thread compiles what it loads the way jest does. */
const TS_HOOK = join(__dirname, '..', '..', '..', '..', 'tools', 'register-ts.js');

/** One sending thread and what is waiting on it. */
interface Lane {
  readonly index: number;
  worker: Worker;
  stopping: ((unsent: string[]) => void) | null;
  closing: (() => void) | null;
}

/**
 * The launcher on worker threads of its own: their timers and sockets are not held up by the
 * projections, claims and recording of the main thread, which on a busy process delayed fires by
 * tens of milliseconds (docs/dispatcher.md, "The sending threads"). With several threads (lanes),
 * orders go round the lanes, except that every fire with a breaker goes to its origin's lane, so
 * each origin's breaker lives in one place. If a thread dies, the fires it held are reported
 * dropped (their leases run out and they are claimed again) and a new one takes its lane.
 */
export class ThreadedLaunchPad implements LaunchPad {
  private readonly logger = new Logger('dispatcher');
  private listener: (reports: LaunchReport[]) => void = () => undefined;
  private readonly lanes: Lane[];
  /** The lane of every order not yet reported on for good. */
  private readonly laneOf = new Map<string, Lane>();
  private nextLane = 0;
  private closed = false;

  constructor(
    private readonly options: SendingThreadOptions,
    threads = 1,
  ) {
    this.lanes = Array.from({ length: Math.max(1, threads) }, (_, index) => ({ index, worker: this.spawn(index), stopping: null, closing: null }));
  }

  connect(listener: (reports: LaunchReport[]) => void): void {
    this.listener = listener;
  }

  arm(orders: readonly LaunchOrder[]): void {
    const byLane = new Map<Lane, LaunchOrder[]>();
    for (const order of orders) {
      const lane = order.breaker ? this.lanes[laneHash(order.breaker.key) % this.lanes.length] : this.lanes[this.nextLane++ % this.lanes.length];
      this.laneOf.set(order.id, lane);
      let batch = byLane.get(lane);
      if (!batch) byLane.set(lane, (batch = []));
      batch.push(order);
    }
    // A claim of hundreds goes over in slices: a thread reads each message in one go, and its timers wait meanwhile.
    for (const [lane, batch] of byLane) {
      for (let i = 0; i < batch.length; i += ARM_SLICE) this.post(lane, { kind: 'arm', orders: batch.slice(i, i + ARM_SLICE) });
    }
  }

  disarm(ids: readonly string[]): void {
    for (const [lane, some] of this.group(ids, (id) => id)) this.post(lane, { kind: 'disarm', ids: some });
  }

  extend(leases: ReadonlyArray<readonly [string, number]>): void {
    for (const [lane, some] of this.group(leases, ([id]) => id)) this.post(lane, { kind: 'extend', leases: some });
  }

  resume(id: string, leaseDeadline: number): void {
    const lane = this.laneOf.get(id);
    if (lane) this.post(lane, { kind: 'resume', id, leaseDeadline });
  }

  async stop(): Promise<string[]> {
    const unsent = await Promise.all(
      this.lanes.map(
        (lane) =>
          new Promise<string[]>((resolve) => {
            lane.stopping = resolve;
            this.post(lane, { kind: 'stop' });
          }),
      ),
    );
    const all = unsent.flat();
    for (const id of all) this.laneOf.delete(id);
    return all;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all(
      this.lanes.map(
        (lane) =>
          new Promise<void>((resolve) => {
            lane.closing = resolve;
            this.post(lane, { kind: 'close' });
          }),
      ),
    );
    this.closed = true;
    await Promise.all(this.lanes.map((lane) => lane.worker.terminate()));
  }

  /** The items whose order is outstanding, by lane (an id already reported on for good has no lane and nothing to do). */
  private group<T>(items: readonly T[], idOf: (item: T) => string): Map<Lane, T[]> {
    const byLane = new Map<Lane, T[]>();
    for (const item of items) {
      const lane = this.laneOf.get(idOf(item));
      if (!lane) continue;
      let some = byLane.get(lane);
      if (!some) byLane.set(lane, (some = []));
      some.push(item);
    }
    return byLane;
  }

  private post(lane: Lane, message: PadMessage): void {
    lane.worker.postMessage(message);
  }

  /** A thread for lane `index`; its events find the lane when they come, once `lanes` is set. */
  private spawn(index: number): Worker {
    const entry = join(__dirname, `sending-thread${extname(__filename)}`);
    const worker = entry.endsWith('.ts')
      ? new Worker(`require(${JSON.stringify(TS_HOOK)}); require(${JSON.stringify(entry)});`, { eval: true, workerData: this.options })
      : new Worker(entry, { workerData: this.options });
    // The engine's own timers and handles keep the process alive while there is work; the threads need not.
    worker.unref();
    worker.on('message', (message: ThreadMessage) => this.onMessage(this.lanes[index], message));
    worker.on('error', (error) => this.logger.error(`sending thread ${index} failed: ${error.stack ?? error.message}`));
    worker.on('exit', (code) => this.onExit(this.lanes[index], worker, code));
    return worker;
  }

  private onMessage(lane: Lane, message: ThreadMessage): void {
    switch (message.kind) {
      case 'reports':
        for (const report of message.reports) if (report.kind !== 'lapsed') this.laneOf.delete(report.id);
        return this.listener(message.reports);
      case 'stopped':
        lane.stopping?.(message.unsent);
        lane.stopping = null;
        return;
      case 'closed':
        lane.closing?.();
        lane.closing = null;
        return;
    }
  }

  /** An exit nobody asked for: what the thread held is dropped (not known sent or not), and a new thread takes its lane. */
  private onExit(lane: Lane, worker: Worker, code: number): void {
    if (this.closed || worker !== lane.worker) return;
    const lost = [...this.laneOf].filter(([, of]) => of === lane).map(([id]) => id);
    for (const id of lost) this.laneOf.delete(id);
    this.logger.error(`sending thread ${lane.index} exited (code ${code}); ${lost.length} fires it held go to whoever claims them once their leases run out`);
    lane.worker = this.spawn(lane.index);
    lane.stopping?.([]);
    lane.stopping = null;
    lane.closing?.();
    lane.closing = null;
    if (lost.length > 0) this.listener(lost.map((id) => ({ kind: 'dropped', id })));
  }
}

/** A stable lane for an origin (FNV-1a). */
function laneHash(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
