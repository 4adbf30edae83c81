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
import type { JetStreamClient, JetStreamManager, JetStreamPublishOptions, NatsConnection } from 'nats';
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
  readonly logger?: LoggerService;
}

/** JetStream's answer when `Nats-Expected-Last-Sequence` does not match the stream. */
const WRONG_LAST_SEQUENCE = 10071;

/**
 * Copies events from the event store to JetStream (SPEC §1), in global order, exactly once:
 *
 * - the checkpoint is the `Sched-Position` of the last message in the stream itself, so a restart
 *   resumes right after what JetStream has, however long the relay was down;
 * - `Nats-Msg-Id` = event id, so a concurrent replica's copy within the duplicate window is dropped;
 * - each publish expects the stream's last sequence to be the one this relay last saw, so a replica
 *   lagging beyond the duplicate window is refused, re-reads the checkpoint and resumes from there.
 *
 * A failed publish is retried with backoff until it succeeds; no event is ever skipped.
 */
export class EventRelay {
  private readonly store: EventStore;
  private readonly nc: NatsConnection;
  private readonly streamName: string;
  private readonly prefix: string;
  private readonly logger: LoggerService;
  private running = false;
  private loop: Promise<void> | null = null;
  private abort = new AbortController();
  private resyncRequested = false;
  private wakeSupervisor: () => void = () => undefined;
  /** Last sequence of the stream as this relay knows it; 0 when empty or unknown. */
  private streamLastSeq = 0;
  /** Position of the last event known to be in JetStream. */
  private checkpoint: Position = START;
  private handled: Position = START;
  private lag = 0;
  private publishedCount = 0;

  constructor(private readonly options: EventRelayOptions) {
    this.store = options.store;
    this.nc = options.nc;
    this.streamName = options.streamName ?? EVENTS_STREAM;
    this.prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
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
        this.resyncRequested = false;
        const wake = new Promise<void>((resolve) => (this.wakeSupervisor = resolve));
        if (!this.running) break;
        subscription = this.store.subscribeToAll({
          after: this.checkpoint,
          onEvent: (event) => this.relay(js, event),
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
      }
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

  private async relay(js: JetStreamClient, event: RecordedEvent): Promise<void> {
    // Stopping or resynchronising: the next subscription starts again from what JetStream has.
    if (!this.running || this.resyncRequested) return;
    if (comparePositions(event.position, this.checkpoint) <= 0) return;
    const subject = subjectForEvent(this.prefix, event);
    if (!subject) {
      // Not `<project>.<environment>.<aggregate>-<id>`: not scoped, so not published (SPEC §1).
      this.handled = event.position;
      return;
    }
    let attempt = 0;
    while (this.running && !this.resyncRequested) {
      // Fresh headers per attempt: publish() adds the expectation headers to the object it gets.
      const { body, headers } = encodeEventMessage(event);
      const options: Partial<JetStreamPublishOptions> = {
        msgID: event.id,
        headers,
        timeout: this.options.publishTimeoutMs ?? 5000,
      };
      // JetStream ignores an expected last sequence of 0, so an empty stream carries no expectation.
      if (this.streamLastSeq > 0) options.expect = { lastSequence: this.streamLastSeq };
      try {
        const ack = await js.publish(subject, body, options);
        // For a duplicate this is the original's sequence: the next event then either is a
        // duplicate too or must directly follow it, which is the order we publish in.
        this.streamLastSeq = ack.seq;
        this.checkpoint = event.position;
        this.handled = event.position;
        if (!ack.duplicate) {
          this.publishedCount++;
          observeRelayLag(event.createdAt);
        }
        return;
      } catch (error) {
        if (apiErrorCode(error) === WRONG_LAST_SEQUENCE) {
          this.logger.warn(`Stream '${this.streamName}' moved ahead of this relay; resuming from its last message`);
          this.resyncRequested = true;
          this.wakeSupervisor();
          return;
        }
        this.logger.warn(`Publishing event ${event.id} failed, retrying: ${messageOf(error)}`);
        await sleep(this.delay(attempt++), this.abort.signal);
      }
    }
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
