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
import { Events, type JetStreamClient, type JetStreamManager, type JetStreamPublishOptions, type NatsConnection, type PubAck, type Status } from 'nats';
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
 * Why the relay (re)started following the store from the stream's last message: its start, the
 * NATS connection coming back, a refused expectation, or a failure (publish error or timeout,
 * stream or NATS unreachable).
 */
export type RelayResumeCause = 'start' | 'reconnect' | 'refused' | 'failure';

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
  /**
   * Resolves when the NATS connection drops (or comes back) under this pipeline: the outcomes of
   * the publishes in flight are then unknown and nothing waits for them any more.
   */
  readonly abandoned: Promise<void>;
  abandon(): void;
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
 *
 * The connection's status events drive the rest. nats.js keeps what is published while
 * disconnected in a buffer that its next dial attempt discards, and never fails a request in
 * flight on a disconnect: it times out. So on 'disconnect' the relay stops sending at once and
 * abandons the pipeline without waiting for its outcomes, sends nothing while disconnected, and
 * resumes after the stream's last message as soon as 'reconnect' comes — not a publish timeout
 * later. An abandoned publish may still land (stored before the server went down, or flushed on
 * the new connection) before or after that resync reads the stream; exactly-once still holds,
 * since it carries its exact expected last sequence: it can only land directly after the event
 * before it, and the resumed pipeline's copy of the same event is then dropped as a duplicate or
 * refused and resynchronised. A 'reconnect' without a 'disconnect' seen (the relay started while
 * NATS was away) resyncs the same way.
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
  /** Aborted (and replaced) to cut short the supervisor's sleeps: on stop() and on connection changes. */
  private interruption = new AbortController();
  private wakeSupervisor: () => void = () => undefined;
  /** The `nc.status()` iterator of this run. */
  private statusWatch: { stop(): void } | null = null;
  /** Between a 'disconnect' and the next 'reconnect' status. */
  private disconnected = false;
  /** Bumped on every 'disconnect' and 'reconnect': an attempt set up in an older epoch is void. */
  private epoch = 0;
  /** Rejects at the next connection change, so a setup request lost with the connection is not awaited. */
  private connectionChange = rejectable();
  /** The pipeline following the store, if any. */
  private current: Pipeline | null = null;
  /** Last sequence of the stream as this relay knows it; 0 when empty or unknown. */
  private streamLastSeq = 0;
  /** Position of the last event known to be in JetStream. */
  private checkpoint: Position = START;
  private handled: Position = START;
  private lag = 0;
  private publishedCount = 0;
  /** Consecutive publish failures other than a refused expectation, for the backoff. */
  private publishFailures = 0;
  private resumeCause: RelayResumeCause = 'start';
  private readonly resumeCounts: Record<RelayResumeCause, number> = { start: 0, reconnect: 0, refused: 0, failure: 0 };

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

  /** How many times this instance started following the store, by cause. */
  get resumes(): Readonly<Record<RelayResumeCause, number>> {
    return { ...this.resumeCounts };
  }

  /**
   * Starts relaying. Resolves once the relay follows the store, or after a first failed attempt
   * (NATS or the store unreachable), in which case it keeps retrying in the background.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    // The state before start() is unknown; a 'reconnect' then resyncs all the same.
    this.disconnected = false;
    this.resumeCause = 'start';
    this.watchStatus();
    let ready: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (ready = resolve));
    this.loop = this.supervise(ready);
    await started;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.statusWatch?.stop();
    this.statusWatch = null;
    this.interrupt();
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
      if (this.disconnected && !this.nc.isClosed()) {
        // Anything sent now would be dropped: wait for 'reconnect' (or stop()), rechecking now and then.
        await this.pause(1000);
        continue;
      }
      const epoch = this.epoch;
      let subscription: Subscription | null = null;
      let pipeline: Pipeline | null = null;
      try {
        const jsm = await this.unlessConnectionChanges(this.nc.jetstreamManager());
        if (!streamEnsured && this.options.ensureStream !== false) {
          await this.unlessConnectionChanges(
            ensureEventsStream(jsm, {
              name: this.streamName,
              subjects: [`${this.prefix}.>`],
              duplicateWindowMs: this.options.duplicateWindowMs,
            }),
          );
          streamEnsured = true;
        }
        const last = await this.unlessConnectionChanges(this.readCheckpoint(jsm));
        // The connection dropped or came back meanwhile: read the stream again once connected.
        if (epoch !== this.epoch) {
          ready();
          continue;
        }
        this.streamLastSeq = last.seq;
        this.checkpoint = last.position;
        if (comparePositions(this.handled, last.position) < 0) this.handled = last.position;
        const wake = new Promise<void>((resolve) => (this.wakeSupervisor = resolve));
        if (!this.running) break;
        const current = newPipeline(this.streamLastSeq);
        pipeline = current;
        this.current = current;
        this.resumeCounts[this.resumeCause]++;
        subscription = this.store.subscribeToAll({
          after: this.checkpoint,
          onEvent: (event) => this.relay(js, current, event),
          onError: (error) => this.logger.error(`Event store subscription failed: ${messageOf(error)}`),
        });
        attempt = 0;
        ready();
        await wake;
      } catch (error) {
        ready();
        // A request lost with the connection: not a failure, the next attempt follows the connection.
        if (epoch !== this.epoch) continue;
        // The stream may have been deleted: create it again on the next attempt.
        streamEnsured = false;
        this.resumeCause = 'failure';
        this.logger.error(`Relay to '${this.streamName}' failed, retrying: ${messageOf(error)}`);
        await this.pause(this.delay(attempt++));
      } finally {
        await subscription?.close();
        // Let what is in flight land (or time out): the stream's last message is then final. Unless
        // the connection dropped: those outcomes are unknown, and the resync need not wait (see above).
        if (pipeline) await Promise.race([pipeline.tail, pipeline.abandoned]);
        if (this.current === pipeline) this.current = null;
      }
      if (this.running && this.publishFailures > 0 && !this.disconnected) await this.pause(this.delay(this.publishFailures - 1));
    }
    // stop() during start(): start() must not wait forever.
    ready();
  }

  /** Follows the connection's status events until stop(). */
  private watchStatus(): void {
    const statuses = this.nc.status() as AsyncIterable<Status> & { stop?: () => void };
    this.statusWatch = { stop: () => statuses.stop?.() };
    void (async () => {
      try {
        for await (const status of statuses) {
          if (!this.running) break;
          if (status.type === Events.Disconnect) this.connectionChanged(false);
          else if (status.type === Events.Reconnect) this.connectionChanged(true);
        }
      } catch (error) {
        this.logger.warn(`NATS status events failed: ${messageOf(error)}`);
      }
    })();
  }

  /** 'disconnect' (`up` false) or 'reconnect': abandons the pipeline, and resyncs at once once connected. */
  private connectionChanged(up: boolean): void {
    this.disconnected = !up;
    this.epoch++;
    this.connectionChange.reject(new Error(up ? 'NATS reconnected' : 'NATS disconnected'));
    this.connectionChange = rejectable();
    const pipeline = this.current;
    const inFlight = pipeline?.inFlight.length ?? 0;
    if (pipeline) {
      pipeline.failed = true;
      pipeline.abandon();
    }
    if (up) {
      this.resumeCause = 'reconnect';
      this.logger.log(`NATS reconnected; resuming from the last message of '${this.streamName}'`);
    } else {
      this.logger.warn(`NATS disconnected; ${inFlight} publishes in flight abandoned, resuming from the last message of '${this.streamName}' on reconnect`);
    }
    this.wakeSupervisor();
    this.interrupt();
  }

  /** `promise`, or a rejection as soon as the connection drops or comes back. */
  private unlessConnectionChanges<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.connectionChange.promise]);
  }

  /** Sleeps up to `ms`; stop() and connection changes cut it short. */
  private pause(ms: number): Promise<void> {
    return sleep(ms, this.interruption.signal);
  }

  private interrupt(): void {
    this.interruption.abort();
    this.interruption = new AbortController();
  }

  /** The resume point: the sequence and position of the last relayed message in the stream. */
  private async readCheckpoint(jsm: JetStreamManager): Promise<{ seq: number; position: Position }> {
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
    return { seq: info.state.last_seq, position: checkpoint };
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
      await Promise.race([pipeline.inFlight[0], pipeline.abandoned]);
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
        this.resync(pipeline, 'refused', `Stream '${this.streamName}' moved ahead of this relay; resuming from its last message`);
      } else {
        this.publishFailures++;
        this.resync(pipeline, 'failure', `Publishing event ${event.id} failed, retrying: ${messageOf(outcome.error)}`);
      }
      return;
    }
    // A duplicate acks with the original's sequence. Anything but the predicted sequence means
    // the stream is not what this relay thinks: the messages after this one would be refused.
    if (outcome.seq !== expected + 1) {
      this.resync(pipeline, 'refused', `Stream '${this.streamName}' moved ahead of this relay; resuming from its last message`);
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

  private resync(pipeline: Pipeline, cause: RelayResumeCause, reason: string): void {
    pipeline.failed = true;
    this.resumeCause = cause;
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

function newPipeline(expectedLastSeq: number): Pipeline {
  let abandon: () => void = () => undefined;
  const abandoned = new Promise<void>((resolve) => (abandon = resolve));
  return { expectedLastSeq, inFlight: [], tail: Promise.resolve(), failed: false, abandoned, abandon };
}

/** A promise that only ever rejects, when told to; never an unhandled rejection. */
function rejectable(): { readonly promise: Promise<never>; reject(error: Error): void } {
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<never>((_, rejectPromise) => (reject = rejectPromise));
  promise.catch(() => undefined);
  return { promise, reject };
}

function apiErrorCode(error: unknown): number | undefined {
  return (error as { api_error?: { err_code?: number } } | null)?.api_error?.err_code;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
