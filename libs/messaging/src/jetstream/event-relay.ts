import { Logger, type LoggerService } from '@nestjs/common';
import { EVENTS_STREAM } from '@schedstack/contracts';
import {
  comparePositions,
  parsePosition,
  START,
  type EventStore,
  type Position,
  type RecordedEvent,
  type Subscription,
} from '@schedstack/event-store';
import type { JetStreamClient, JetStreamManager, JetStreamPublishOptions, NatsConnection, PubAck } from 'nats';
import { backoffDelay, sleep } from './backoff';
import {
  DEFAULT_SUBJECT_PREFIX,
  encodeEventMessage,
  ensureEventsStream,
  HEADER_POSITION,
  isJetStreamNotFound,
  subjectForEvent,
} from './events-stream';
import { observeRelayLag } from './relay-lag.metric';

export interface EventRelayOptions {
  readonly store: EventStore;
  readonly nc: NatsConnection;
  /** Default `EVENTS_STREAM`. */
  readonly streamName?: string;
  /** Default 'events'. */
  readonly subjectPrefix?: string;
  /** Create or update the stream on start (default true). */
  readonly ensureStream?: boolean;
  readonly duplicateWindowMs?: number;
  readonly retryInitialDelayMs?: number;
  readonly retryMaxDelayMs?: number;
  readonly publishTimeoutMs?: number;
  /** Publishes awaiting their PubAck at once (default 256). */
  readonly maxInFlight?: number;
  readonly logger?: LoggerService;
}

/** JetStream's answer when `Nats-Expected-Last-Sequence` does not match the stream. */
const WRONG_LAST_SEQUENCE = 10071;

/**
 * One store subscription's publishing: messages in flight, oldest first. A failure ends it; the
 * next one starts after the stream's last message.
 */
interface Pipeline {
  /** The stream sequence the next publish must follow (0: the stream is empty). */
  expectedLastSeq: number;
  /** Completion of each publish in flight, oldest first. */
  readonly inFlight: Promise<void>[];
  /** Completion of everything sent so far, in order. */
  tail: Promise<void>;
  failed: boolean;
}

/**
 * Copies events from the event store to JetStream (SPEC §1), in global order, exactly once:
 *
 * - the checkpoint is the `Sched-Position` of the last message in the stream itself, so a restart
 *   resumes right after what JetStream has, however long the relay was down;
 * - `Nats-Msg-Id` = event id, so a concurrent replica's copy within the duplicate window is dropped;
 * - publishes are pipelined — up to `maxInFlight` PubAcks outstanding on the one connection, which
 *   keeps them in order — and each one expects the stream's last sequence to be exactly the one
 *   its predecessor gets (the checkpoint's sequence + i). A message can thus only land directly
 *   after the event before it: a concurrent or lagging replica's message taking that place makes
 *   it fail (or it is the same event, dropped as a duplicate), so two writers never interleave.
 *   Setting the expectation on the first message of a window only would not do: a replica lagging
 *   beyond the duplicate window would have its first message refused but the rest appended.
 *
 * On a failure (refused expectation, timeout, stream missing) the relay stops sending, lets what
 * is in flight settle, and resumes after the stream's last message — the first unacknowledged
 * event, or later when a publish whose ack was lost did land. Failures other than a refused
 * expectation back off first. No event is ever skipped.
 */
export class EventRelay {
  private readonly store: EventStore;
  private readonly nc: NatsConnection;
  private readonly streamName: string;
  private readonly prefix: string;
  private readonly maxInFlight: number;
  private readonly logger: LoggerService;
  private running = false;
  private loop: Promise<void> | null = null;
  private abort = new AbortController();
  private wakeSupervisor: () => void = () => undefined;
  /** Last sequence of the stream as this relay knows it; 0 when empty or unknown. */
  private streamLastSeq = 0;
  /** Position of the last event known to be in JetStream. */
  private checkpoint: Position = START;
  private handled: Position = START;
  private lag = 0;
  private publishedCount = 0;
  /** Consecutive publish failures other than a refused expectation, for the backoff. */
  private publishFailures = 0;

  constructor(private readonly options: EventRelayOptions) {
    this.store = options.store;
    this.nc = options.nc;
    this.streamName = options.streamName ?? EVENTS_STREAM;
    this.prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 256);
    this.logger = options.logger ?? new Logger(EventRelay.name);
  }

  /** Position of the last event relayed or skipped. */
  get lastPosition(): Position {
    return this.handled;
  }

  /** Events in the store after `lastPosition`, as of the last `measureLag()`. */
  get lagEvents(): number {
    return this.lag;
  }

  /** Messages this instance stored in JetStream (duplicates excluded). */
  get published(): number {
    return this.publishedCount;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Starts relaying. Resolves once the relay follows the store, or after a first failed attempt
   * (NATS or the store unreachable), in which case it keeps retrying in the background.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    let ready: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (ready = resolve));
    this.loop = this.supervise(ready);
    await started;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    this.wakeSupervisor();
    await this.loop;
    this.loop = null;
  }

  /** Counts the events not relayed yet (up to `limit`) and keeps the count for `lagEvents`. */
  async measureLag(limit = 10_000): Promise<number> {
    const pending = await this.store.readAll({ after: this.handled, limit });
    this.lag = pending.length;
    return this.lag;
  }

  private async supervise(ready: () => void): Promise<void> {
    let attempt = 0;
    let streamEnsured = false;
    const js = this.nc.jetstream();
    while (this.running) {
      let subscription: Subscription | null = null;
      let pipeline: Pipeline | null = null;
      try {
        const jsm = await this.nc.jetstreamManager();
        if (!streamEnsured && this.options.ensureStream !== false) {
          await ensureEventsStream(jsm, {
            name: this.streamName,
            subjects: [`${this.prefix}.>`],
            duplicateWindowMs: this.options.duplicateWindowMs,
          });
          streamEnsured = true;
        }
        await this.readCheckpoint(jsm);
        const wake = new Promise<void>((resolve) => (this.wakeSupervisor = resolve));
        if (!this.running) break;
        const current: Pipeline = { expectedLastSeq: this.streamLastSeq, inFlight: [], tail: Promise.resolve(), failed: false };
        pipeline = current;
        subscription = this.store.subscribeToAll({
          after: this.checkpoint,
          onEvent: (event) => this.relay(js, current, event),
          onError: (error) => this.logger.error(`Event store subscription failed: ${messageOf(error)}`),
        });
        attempt = 0;
        ready();
        await wake;
      } catch (error) {
        // The stream may have been deleted: create it again on the next attempt.
        streamEnsured = false;
        this.logger.error(`Relay to '${this.streamName}' failed, retrying: ${messageOf(error)}`);
        ready();
        await sleep(this.delay(attempt++), this.abort.signal);
      } finally {
        await subscription?.close();
        // Let what is in flight land (or time out): the stream's last message is then final.
        await pipeline?.tail;
      }
      if (this.running && this.publishFailures > 0) await sleep(this.delay(this.publishFailures - 1), this.abort.signal);
    }
    // stop() during start(): start() must not wait forever.
    ready();
  }

  /** The resume point: the position of the last relayed message in the stream. */
  private async readCheckpoint(jsm: JetStreamManager): Promise<void> {
    const info = await jsm.streams.info(this.streamName);
    let checkpoint = START;
    if (info.state.messages > 0) {
      try {
        const last = await jsm.streams.getMessage(this.streamName, { last_by_subj: `${this.prefix}.>` });
        const header = last.header.get(HEADER_POSITION);
        if (header) checkpoint = parsePosition(header);
      } catch (error) {
        if (!isJetStreamNotFound(error)) throw error;
      }
    }
    this.streamLastSeq = info.state.last_seq;
    this.checkpoint = checkpoint;
    if (comparePositions(this.handled, checkpoint) < 0) this.handled = checkpoint;
  }

  /** Sends `event` without waiting for its ack, unless `maxInFlight` acks are outstanding. */
  private async relay(js: JetStreamClient, pipeline: Pipeline, event: RecordedEvent): Promise<void> {
    // Stopping or failed: the next subscription starts again from what JetStream has.
    if (!this.running || pipeline.failed) return;
    if (comparePositions(event.position, this.checkpoint) <= 0) return;
    const subject = subjectForEvent(this.prefix, event);
    if (!subject) {
      // Not `<project>.<environment>.<aggregate>-<id>`: not scoped, so not published (SPEC §1).
      // Counted as handled only once everything before it is in the stream.
      pipeline.tail = pipeline.tail.then(() => {
        if (!pipeline.failed) this.markHandled(event.position);
      });
      return;
    }
    while (pipeline.inFlight.length >= this.maxInFlight) {
      await pipeline.inFlight[0];
      if (!this.running || pipeline.failed) return;
    }
    const expected = pipeline.expectedLastSeq;
    pipeline.expectedLastSeq = expected + 1;
    // Fresh headers per message: publish() adds the expectation headers to the object it gets.
    const { body, headers } = encodeEventMessage(event);
    const options: Partial<JetStreamPublishOptions> = {
      msgID: event.id,
      headers,
      timeout: this.options.publishTimeoutMs ?? 5000,
    };
    // 0 too: the first message into an empty stream must find it still empty.
    options.expect = { lastSequence: expected };
    const outcome: Promise<PubAck | { error: unknown }> = js.publish(subject, body, options).catch((error: unknown) => ({ error }));
    const done = pipeline.tail.then(async () => {
      this.complete(pipeline, event, expected, await outcome);
      pipeline.inFlight.shift();
    });
    pipeline.tail = done;
    pipeline.inFlight.push(done);
  }

  /** Handles one publish's outcome, in publish order. */
  private complete(pipeline: Pipeline, event: RecordedEvent, expected: number, outcome: PubAck | { error: unknown }): void {
    // After a failure, later outcomes do not matter: the resync reads what landed.
    if (pipeline.failed) return;
    if ('error' in outcome) {
      if (apiErrorCode(outcome.error) === WRONG_LAST_SEQUENCE) {
        this.resync(pipeline, `Stream '${this.streamName}' moved ahead of this relay; resuming from its last message`);
      } else {
        this.publishFailures++;
        this.resync(pipeline, `Publishing event ${event.id} failed, retrying: ${messageOf(outcome.error)}`);
      }
      return;
    }
    // A duplicate acks with the original's sequence. Anything but the predicted sequence means
    // the stream is not what this relay thinks: the messages after this one would be refused.
    if (outcome.seq !== expected + 1) {
      this.resync(pipeline, `Stream '${this.streamName}' moved ahead of this relay; resuming from its last message`);
      return;
    }
    this.publishFailures = 0;
    this.streamLastSeq = outcome.seq;
    this.checkpoint = event.position;
    this.markHandled(event.position);
    if (!outcome.duplicate) {
      this.publishedCount++;
      observeRelayLag(event.createdAt);
    }
  }

  private resync(pipeline: Pipeline, reason: string): void {
    pipeline.failed = true;
    this.logger.warn(reason);
    this.wakeSupervisor();
  }

  private markHandled(position: Position): void {
    if (comparePositions(position, this.handled) > 0) this.handled = position;
  }

  private delay(attempt: number): number {
    return backoffDelay(attempt, this.options.retryInitialDelayMs ?? 200, this.options.retryMaxDelayMs ?? 10_000);
  }
}

function apiErrorCode(error: unknown): number | undefined {
  return (error as { api_error?: { err_code?: number } } | null)?.api_error?.err_code;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
