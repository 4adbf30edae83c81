import { Logger } from '@nestjs/common';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LaunchOrder, LaunchPad, LaunchReport } from './launcher';
import type { OutboundGuardOptions } from './outbound-guard';

export interface SendingThreadOptions {
  readonly guard: OutboundGuardOptions;
  /** Connections per origin (default 256). */
  readonly connections?: number;
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

/**
 * The launcher on a worker thread of its own: its timers and sockets are not held up by the
 * projections, claims and recording of the main thread, which on a busy process delayed fires by
 * tens of milliseconds (docs/dispatcher.md, "The sending thread"). If the thread dies, the fires it
 * held are reported dropped (their leases run out and they are claimed again) and a new one starts.
 */
export class ThreadedLaunchPad implements LaunchPad {
  private readonly logger = new Logger('dispatcher');
  private listener: (reports: LaunchReport[]) => void = () => undefined;
  private worker: Worker;
  /** Orders the current thread holds and has not reported on for good. */
  private readonly outstanding = new Set<string>();
  private stopping: ((unsent: string[]) => void) | null = null;
  private closing: (() => void) | null = null;
  private closed = false;

  constructor(private readonly options: SendingThreadOptions) {
    this.worker = this.spawn();
  }

  connect(listener: (reports: LaunchReport[]) => void): void {
    this.listener = listener;
  }

  arm(orders: readonly LaunchOrder[]): void {
    if (orders.length === 0) return;
    for (const order of orders) this.outstanding.add(order.id);
    // A claim of hundreds goes over in slices: the thread reads each message in one go, and its timers wait meanwhile.
    for (let i = 0; i < orders.length; i += ARM_SLICE) this.post({ kind: 'arm', orders: orders.slice(i, i + ARM_SLICE) });
  }

  disarm(ids: readonly string[]): void {
    if (ids.length > 0) this.post({ kind: 'disarm', ids });
  }

  extend(leases: ReadonlyArray<readonly [string, number]>): void {
    if (leases.length > 0) this.post({ kind: 'extend', leases });
  }

  resume(id: string, leaseDeadline: number): void {
    this.post({ kind: 'resume', id, leaseDeadline });
  }

  stop(): Promise<string[]> {
    return new Promise((resolve) => {
      this.stopping = (unsent) => {
        for (const id of unsent) this.outstanding.delete(id);
        resolve(unsent);
      };
      this.post({ kind: 'stop' });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.closing = resolve;
      this.post({ kind: 'close' });
    });
    this.closed = true;
    await this.worker.terminate();
  }

  private post(message: PadMessage): void {
    this.worker.postMessage(message);
  }

  private spawn(): Worker {
    const entry = join(__dirname, `sending-thread${extname(__filename)}`);
    const worker = entry.endsWith('.ts')
      ? new Worker(`require(${JSON.stringify(TS_HOOK)}); require(${JSON.stringify(entry)});`, { eval: true, workerData: this.options })
      : new Worker(entry, { workerData: this.options });
    // The engine's own timers and handles keep the process alive while there is work; the thread need not.
    worker.unref();
    worker.on('message', (message: ThreadMessage) => this.onMessage(message));
    worker.on('error', (error) => this.logger.error(`the sending thread failed: ${error.stack ?? error.message}`));
    worker.on('exit', (code) => this.onExit(worker, code));
    return worker;
  }

  private onMessage(message: ThreadMessage): void {
    switch (message.kind) {
      case 'reports':
        for (const report of message.reports) if (report.kind !== 'lapsed') this.outstanding.delete(report.id);
        return this.listener(message.reports);
      case 'stopped':
        this.stopping?.(message.unsent);
        this.stopping = null;
        return;
      case 'closed':
        this.closing?.();
        this.closing = null;
        return;
    }
  }

  /** An exit nobody asked for: what the thread held is dropped (not known sent or not), and a new thread takes its place. */
  private onExit(worker: Worker, code: number): void {
    if (this.closed || worker !== this.worker) return;
    const lost = [...this.outstanding];
    this.outstanding.clear();
    this.logger.error(`the sending thread exited (code ${code}); ${lost.length} fires it held go to whoever claims them once their leases run out`);
    this.worker = this.spawn();
    if (this.stopping) {
      this.stopping([]);
      this.stopping = null;
    }
    if (this.closing) {
      this.closing();
      this.closing = null;
    }
    if (lost.length > 0) this.listener(lost.map((id) => ({ kind: 'dropped', id })));
  }
}
