import { Logger, type LoggerService } from '@nestjs/common';
import { EVENTS_STREAM } from '@schedstack/contracts';
import {
  comparePositions,
  positionToString,
  type Position,
  type RecordedEvent,
  type Subscription,
} from '@schedstack/event-store';
import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  nuid,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import { batchHandlerOf, type EventFeed, type EventFeedSubscribeOptions, type FeedEvent } from '../event-feed.port';
import { backoffDelay, sleep } from './backoff';
import { decodeEventMessage, DEFAULT_SUBJECT_PREFIX, HEADER_POSITION, isJetStreamNotFound } from './events-stream';

export interface JetStreamEventFeedOptions {
  readonly nc: NatsConnection;
  /** Default `EVENTS_STREAM`. */
  readonly streamName?: string;
  /** Default 'events'. */
  readonly subjectPrefix?: string;
  /** Delay before retrying a failed batch; doubles per retry. Default 1 s. */
  readonly retryDelayMs?: number;
  /** Default 30 s. */
  readonly maxRetryDelayMs?: number;
  readonly logger?: LoggerService;
}

/** Consumer names may not contain `.`, `*`, `>`, whitespace or path separators. */
export function consumerNamePrefix(consumer: string): string {
  return consumer.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Messages pulled and buffered ahead of the handler, at least; more when batches are larger. */
const MIN_READ_AHEAD = 256;
/** The server deletes a consumer of a process that died after this long without pulls. */
const INACTIVE_THRESHOLD_MS = 60_000;
/** Pull request lifetime; heartbeats every half of it reveal a consumer lost on the server. */
const PULL_EXPIRES_MS = 10_000;
/** How long close() waits for the consumer's deletion. */
const DELETE_WAIT_MS = 1_000;

/**
 * The distributed profile's feed. Each subscription reads the events stream the relay fills with
 * an ordered consumer of its own — ephemeral, no acks, started right after the subscriber's
 * checkpoint — and hands the subscriber batches, in stream order:
 *
 * - Ordered: the client checks every delivery sequence; on a gap (messages lost across a
 *   reconnect), a lost consumer (server restart, idle timeout) or a deleted stream it drops the
 *   consumer and creates a new one right after the last event it read. Nothing is acked: the
 *   subscriber's checkpoint is the only state, so replicas cannot block each other.
 * - Where it starts: after `afterSequence` (the stream sequence the subscriber checkpointed) when
 *   the stream still holds, at that sequence, the event at `after`; otherwise (no sequence yet, a
 *   purged or recreated stream) from the stream's start. Events at or before `after` are skipped,
 *   so starting early costs reading, never a duplicate or a gap. (The relay writes the stream in
 *   global order, each event once, so everything after the checked message is after `after`.)
 * - Replicas: each one reads every event; the subscriber's checkpoint row, locked per batch, lets
 *   whichever commits first apply it and the other skip it (see `ProjectionRunner`).
 * - Batches: a reader moves messages into a buffer (bounded, so pulls stop while the handler is
 *   slow); the handler gets whatever is buffered, up to `maxBatch`, without waiting for more — one
 *   event at light load, large batches under a burst. A failed batch is retried whole, with
 *   backoff, before anything after it.
 *
 * Built on a plain pull consumer rather than nats.js's ordered consumer because that one buffers
 * without bound in iterator mode and, after the stream is recreated, silently resumes at the old
 * sequence; here every (re)start goes through the same checked resume point.
 */
export class JetStreamEventFeed implements EventFeed {
  private readonly streamName: string;
  private readonly prefix: string;
  private readonly logger: LoggerService;

  constructor(private readonly options: JetStreamEventFeedOptions) {
    this.streamName = options.streamName ?? EVENTS_STREAM;
    this.prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
    this.logger = options.logger ?? new Logger(JetStreamEventFeed.name);
  }

  async subscribe(options: EventFeedSubscribeOptions): Promise<Subscription> {
    const jsm = await this.options.nc.jetstreamManager();
    const subscription = new JetStreamFeedSubscription(this.options, jsm, this.streamName, this.prefix, this.logger, options);
    await subscription.open();
    return subscription;
  }
}

/** The last event read from the stream, and where: a restart resumes right after it. */
interface Anchor {
  readonly sequence: number;
  readonly position: Position;
}

/** Why a consumer session ended without an error. */
type SessionEnd = 'closed' | 'gap' | 'ended';

class JetStreamFeedSubscription implements Subscription {
  private readonly types: ReadonlySet<string> | null;
  private readonly namePrefix: string;
  private readonly maxBatch: number;
  private readonly readAhead: number;
  private readonly handle: (batch: readonly FeedEvent[]) => Promise<void>;
  /** Position of the last event queued for the handler: nothing at or before it is queued again. */
  private queuedUpTo: Position;
  private anchor: Anchor | null;
  private closing = false;
  private readonly abort = new AbortController();
  private messages: ConsumerMessages | null = null;
  private readonly arrived = new Signal();
  private readonly drained = new Signal();
  private loop: Promise<void> | null = null;

  constructor(
    private readonly feed: JetStreamEventFeedOptions,
    private readonly jsm: JetStreamManager,
    private readonly streamName: string,
    private readonly prefix: string,
    private readonly logger: LoggerService,
    private readonly options: EventFeedSubscribeOptions,
  ) {
    this.types = options.types && options.types.length > 0 ? new Set(options.types) : null;
    this.namePrefix = consumerNamePrefix(options.consumer);
    const { maxBatch, handle } = batchHandlerOf(options);
    this.maxBatch = maxBatch;
    this.readAhead = Math.max(maxBatch, MIN_READ_AHEAD);
    this.handle = handle;
    this.queuedUpTo = options.after;
    const sequence = options.afterSequence ?? 0;
    this.anchor = sequence > 0 ? { sequence, position: options.after } : null;
  }

  /** Checks the stream exists (a wrong name fails here), then consumes in the background. */
  async open(): Promise<void> {
    await this.jsm.streams.info(this.streamName);
    this.loop = this.run();
  }

  /** Lets the batch being handled finish, then stops; what was read ahead is dropped. */
  async close(): Promise<void> {
    if (this.closing) return this.loop ?? undefined;
    this.closing = true;
    this.abort.abort();
    this.messages?.stop();
    this.arrived.notify();
    this.drained.notify();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closing) {
      let end: SessionEnd = 'ended';
      try {
        end = await this.session(() => (failures = 0));
      } catch (error) {
        if (this.closing) break;
        this.report(error);
      }
      if (this.closing || this.feed.nc.isClosed()) break;
      // A gap is routine (a reconnect lost messages in flight): start the next consumer at once.
      if (end !== 'gap') await sleep(backoffDelay(failures++, 250, 10_000), this.abort.signal);
    }
  }

  /**
   * One consumer's life: from the checked resume point until it ends, is lost, or skips a message.
   * Everything it buffered is handled before it returns, so the next one starts after `anchor`.
   */
  private async session(progressed: () => void): Promise<SessionEnd> {
    const start = await this.startSequence();
    const name = `${this.namePrefix}_${nuid.next()}`;
    const info = await this.jsm.consumers.add(this.streamName, {
      name,
      ack_policy: AckPolicy.None,
      ...(start > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start } : { deliver_policy: DeliverPolicy.All }),
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(INACTIVE_THRESHOLD_MS),
      ...this.filter(),
    });
    const buffer: FeedEvent[] = [];
    let reading: Promise<{ gap: boolean }> | null = null;
    try {
      if (this.closing) return 'closed';
      const consumer = this.feed.nc.jetstream().consumers.getPullConsumerFor(info);
      // abort_on_missing_resource: a consumer or stream deleted from under us ends the session.
      const messages = await consumer.consume({ max_messages: this.readAhead, expires: PULL_EXPIRES_MS, abort_on_missing_resource: true });
      this.messages = messages;
      if (this.closing) return 'closed';
      let done = false;
      reading = this.read(messages, buffer).finally(() => {
        done = true;
        this.arrived.notify();
      });
      // Awaited below; this only keeps an early failure from counting as unhandled meanwhile.
      reading.catch(() => undefined);
      while (!this.closing) {
        if (buffer.length === 0) {
          if (done) break;
          await this.arrived.wait();
          continue;
        }
        // Messages that already arrived (parsed in the same tick) join this batch.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const batch = buffer.splice(0, this.maxBatch);
        this.drained.notify();
        if (!(await this.deliver(batch))) break;
        progressed();
      }
      if (this.closing) return 'closed';
      const { gap } = await reading;
      return gap ? 'gap' : 'ended';
    } finally {
      this.messages?.stop();
      this.messages = null;
      this.drained.notify();
      await reading?.catch(() => undefined);
      // Best effort, and not for long when the broker is away: the server drops it when idle.
      await Promise.race([this.jsm.consumers.delete(this.streamName, name).catch(() => undefined), sleep(DELETE_WAIT_MS)]);
    }
  }

  /** Moves messages into `buffer`, checking the delivery sequence; resolves `gap` on a skipped one. */
  private async read(messages: ConsumerMessages, buffer: FeedEvent[]): Promise<{ gap: boolean }> {
    let delivered = 0;
    for await (const message of messages) {
      if (this.closing) break;
      if (message.info.deliverySequence !== delivered + 1) {
        this.logger.log(`Consumer '${this.namePrefix}' missed messages; resuming after stream sequence ${this.anchor?.sequence ?? 0}`);
        return { gap: true };
      }
      delivered = message.info.deliverySequence;
      this.accept(message, buffer);
      this.arrived.notify();
      while (buffer.length >= this.readAhead && !this.closing) await this.drained.wait();
    }
    return { gap: false };
  }

  private accept(message: JsMsg, buffer: FeedEvent[]): void {
    const sequence = message.info.streamSequence;
    let event: RecordedEvent;
    try {
      event = decodeEventMessage(message.data);
    } catch (error) {
      // Not written by the relay: it can never be handled, and must not block the feed.
      this.logger.warn(`Consumer '${this.namePrefix}' skips stream message ${sequence}: ${(error as Error).message}`);
      return;
    }
    this.anchor = { sequence, position: event.position };
    if (this.types !== null && !this.types.has(event.type)) return;
    if (comparePositions(event.position, this.queuedUpTo) <= 0) return;
    this.queuedUpTo = event.position;
    buffer.push({ event, sequence });
  }

  /** Hands `batch` to the subscriber until it succeeds; false when closed first. */
  private async deliver(batch: readonly FeedEvent[]): Promise<boolean> {
    for (let attempt = 0; !this.closing; attempt++) {
      try {
        await this.handle(batch);
        return true;
      } catch (error) {
        this.report(error);
        await sleep(backoffDelay(attempt, this.feed.retryDelayMs ?? 1000, this.feed.maxRetryDelayMs ?? 30_000), this.abort.signal);
      }
    }
    return false;
  }

  /**
   * Right after the anchor when the stream still holds the anchor's event at its sequence; else
   * (no anchor, stream purged or recreated) from the start — the position check skips the rest.
   */
  private async startSequence(): Promise<number> {
    const { state } = await this.jsm.streams.info(this.streamName);
    const anchor = this.anchor;
    if (!anchor) return 1;
    if (anchor.sequence >= state.first_seq && anchor.sequence <= state.last_seq && state.messages > 0) {
      try {
        const stored = await this.jsm.streams.getMessage(this.streamName, { seq: anchor.sequence });
        if (stored.header.get(HEADER_POSITION) === positionToString(anchor.position)) return anchor.sequence + 1;
      } catch (error) {
        if (!isJetStreamNotFound(error)) throw error;
      }
    }
    this.logger.log(
      `Stream '${this.streamName}' no longer holds event ${positionToString(anchor.position)} at sequence ${anchor.sequence}; ` +
        `consumer '${this.namePrefix}' reads it from the start`,
    );
    this.anchor = null;
    return 1;
  }

  /**
   * `<prefix>.*.*.<type>` per type. One filter on any server; several need NATS 2.10, older ones
   * get the whole stream and the types are filtered here (the events still arrive in order).
   */
  private filter(): Pick<Partial<ConsumerConfig>, 'filter_subject' | 'filter_subjects'> {
    const subjects = this.types ? [...this.types].map((type) => `${this.prefix}.*.*.${type}`) : [`${this.prefix}.>`];
    if (subjects.length === 1) return { filter_subject: subjects[0] };
    if (supportsMultipleFilters(this.feed.nc)) return { filter_subjects: subjects };
    return { filter_subject: `${this.prefix}.>` };
  }

  private report(error: unknown): void {
    if (this.options.onError) this.options.onError(error);
    else this.logger.error(`Consumer '${this.namePrefix}': ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Wakes whoever waits: a level-free notification between the reader and the handler loop. */
class Signal {
  private waiters: Array<() => void> = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

function supportsMultipleFilters(nc: NatsConnection): boolean {
  const [major, minor] = (nc.info?.version ?? '0.0.0').split('.').map((part) => Number.parseInt(part, 10));
  return major > 2 || (major === 2 && minor >= 10);
}
