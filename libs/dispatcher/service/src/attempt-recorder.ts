import type { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { type EventDataMap, type Scope, streamName } from '@schedstack/contracts';
import type { EventStore, NewEvent } from '@schedstack/event-store';
import type { Deferral, DueFires, FinishedFire } from './due-fires';

const APPEND_RETRIES = 4;
/** Batches in flight at once: the rest wait here, not in the pool, so lease queries always get a connection. */
const MAX_CONCURRENT_BATCHES = 2;
/** Attempts per `appendToStreams` call: a burst is recorded in a few round trips, not one per attempt. */
const BATCH_SIZE = 250;
/**
 * How long a short batch waits for more attempts to share its append. At a steady 1,000 fires/s a
 * batch went out as soon as a slot was free, a handful of attempts each: every statement a commit,
 * a wake-up of every subscription and a projection transaction (issue #9). Recording is after the
 * send, so the wait delays nobody's delivery.
 */
const LINGER_MS = 15;

interface PendingAppend {
  readonly queuedAt: number;
  readonly stream: string;
  readonly event: NewEvent;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Writes what the engine did, after the fact and off the timer-to-socket path: one
 * `delivery.attempted` append per attempt, then the due-fire bookkeeping (finished, deferred) in
 * batches every `flushMs`. If a write is lost the fire's lease expires and another replica sends it
 * again — at-least-once, which the stable delivery id lets receivers dedupe.
 */
export class AttemptRecorder {
  private done: (FinishedFire & { settled: () => void })[] = [];
  private deferrals: Deferral[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly appends = new Set<Promise<void>>();
  private readonly queue: PendingAppend[] = [];
  private running = 0;
  private lingerTimer: NodeJS.Timeout | null = null;
  private draining = false;

  constructor(
    private readonly store: EventStore,
    private readonly dueFires: DueFires,
    private readonly logger: Logger,
    private readonly flushMs = 20,
  ) {}

  /** Records an attempt; `settled` runs once the due fire is finished (or recording gave up). */
  record(scope: Scope, fireId: string, data: EventDataMap['delivery.attempted'], settled: () => void): void {
    // One event id for every try, so a retried append that had in fact succeeded is not stored twice.
    const event: NewEvent = { id: randomUUID(), type: 'delivery.attempted', data };
    const work = this.append(streamName(scope, 'delivery', data.delivery_id), event).then(
      () => {
        this.done.push({ id: fireId, retried: data.state === 'retrying', settled });
        this.schedule();
      },
      (error) => {
        this.logger.error(`could not record attempt ${data.attempt.n} of ${data.delivery_id}; its lease will expire and it is sent again: ${(error as Error).message}`);
        settled();
      },
    );
    this.appends.add(work);
    void work.finally(() => this.appends.delete(work));
  }

  defer(deferral: Deferral): void {
    this.deferrals.push(deferral);
    this.schedule();
  }

  /** Waits for pending appends and writes the last batch (clean shutdown). */
  async drain(): Promise<void> {
    this.draining = true;
    this.pump();
    await Promise.allSettled([...this.appends]);
    this.draining = false;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    await this.flush();
  }

  private schedule(): void {
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, this.flushMs);
  }

  private async flush(): Promise<void> {
    const done = this.done.splice(0);
    const deferrals = this.deferrals.splice(0);
    await Promise.all([
      this.dueFires
        .finish(done)
        .catch((error) => this.logger.warn(`finishing ${done.length} due fires failed (the projection does it too): ${(error as Error).message}`))
        .finally(() => done.forEach((d) => d.settled())),
      this.dueFires.defer(deferrals).catch((error) => this.logger.warn(`deferring ${deferrals.length} fires failed; they are reclaimed when their lease ends: ${(error as Error).message}`)),
    ]);
  }

  /** Queues the append; attempts recorded while a batch is in flight go together in the next one. */
  private append(stream: string, event: NewEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ queuedAt: Date.now(), stream, event, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < MAX_CONCURRENT_BATCHES && this.queue.length > 0) {
      const waited = Date.now() - this.queue[0].queuedAt;
      if (this.queue.length < BATCH_SIZE && waited < LINGER_MS && !this.draining) {
        this.lingerTimer ??= setTimeout(() => {
          this.lingerTimer = null;
          this.pump();
        }, LINGER_MS - waited);
        return;
      }
      const batch = this.queue.splice(0, BATCH_SIZE);
      this.running++;
      void this.appendBatch(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async appendBatch(batch: PendingAppend[]): Promise<void> {
    let results: (unknown | Error)[];
    try {
      results = await this.store.appendToStreams(batch.map((p) => ({ streamName: p.stream, events: [p.event], expected: 'any' })));
    } catch (error) {
      results = batch.map(() => error);
    }
    // A refused or failed one is retried on its own, with backoff.
    await Promise.all(
      batch.map((pending, i) =>
        results[i] instanceof Error || results[i] === undefined
          ? this.appendWithRetries(pending.stream, pending.event).then(pending.resolve, pending.reject)
          : pending.resolve(),
      ),
    );
  }

  private async appendWithRetries(stream: string, event: NewEvent): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.store.appendToStream(stream, [event], 'any');
        return;
      } catch (error) {
        if (attempt >= APPEND_RETRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
      }
    }
  }
}
