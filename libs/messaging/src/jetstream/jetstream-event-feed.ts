import { Logger, type LoggerService } from '@nestjs/common';
import { EVENTS_STREAM } from '@schedstack/contracts';
import { comparePositions, type Position, type RecordedEvent, type Subscription } from '@schedstack/event-store';
import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  type ConsumerConfig,
  type ConsumerMessages,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import type { EventFeed, EventFeedSubscribeOptions } from '../event-feed.port';
import { backoffDelay, sleep } from './backoff';
import { decodeEventMessage, DEFAULT_SUBJECT_PREFIX, isJetStreamNotFound } from './events-stream';

export interface JetStreamEventFeedOptions {
  readonly nc: NatsConnection;
  /** Default `EVENTS_STREAM`. */
  readonly streamName?: string;
  /** Default 'events'. */
  readonly subjectPrefix?: string;
  /** Redelivery delay after the first handler failure; doubles per redelivery. Default 1 s. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** How long the server waits for an ack before redelivering; extended while a handler runs. */
  readonly ackWaitMs?: number;
  readonly logger?: LoggerService;
}

/** Durable names may not contain `.`, `*`, `>`, whitespace or path separators. */
export function consumerDurableName(consumer: string): string {
  return consumer.replace(/[^A-Za-z0-9_-]/g, '_');
}

/**
 * The distributed profile's feed: one durable pull consumer per (service, projection) on the
 * events stream the relay fills. `max_ack_pending: 1` keeps global order: the server hands out the
 * next event only once the previous one is acked, also across replicas sharing the consumer, and a
 * failed event (nak with delay) is redelivered before anything after it.
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
    const subscription = new JetStreamFeedSubscription(this.options, this.streamName, this.prefix, this.logger, options);
    await subscription.open();
    return subscription;
  }
}

class JetStreamFeedSubscription implements Subscription {
  private readonly durable: string;
  private readonly types: ReadonlySet<string> | null;
  private readonly ackWaitMs: number;
  private after: Position;
  private closing = false;
  private readonly abort = new AbortController();
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly feed: JetStreamEventFeedOptions,
    private readonly streamName: string,
    private readonly prefix: string,
    private readonly logger: LoggerService,
    private readonly options: EventFeedSubscribeOptions,
  ) {
    this.durable = consumerDurableName(options.consumer);
    this.types = options.types && options.types.length > 0 ? new Set(options.types) : null;
    this.ackWaitMs = feed.ackWaitMs ?? 30_000;
    this.after = options.after;
  }

  /** Creates or updates the consumer (so a bad stream name fails here), then consumes in the background. */
  async open(): Promise<void> {
    await this.ensureConsumer();
    this.loop = this.run();
  }

  /**
   * Lets the event being handled finish and be acked, then stops. The pull subscription is
   * removed before that ack is sent, so the server cannot hand this client the next event.
   */
  async close(): Promise<void> {
    if (this.closing) return this.loop ?? undefined;
    this.closing = true;
    this.abort.abort();
    await this.messages?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    let ensured = true;
    while (!this.closing) {
      try {
        if (!ensured) await this.ensureConsumer();
        ensured = false;
        const consumer = await this.feed.nc.jetstream().consumers.get(this.streamName, this.durable);
        // abort_on_missing_resource: a deleted consumer or stream ends the loop, which recreates it.
        this.messages = await consumer.consume({ max_messages: 8, abort_on_missing_resource: true });
        if (this.closing) await this.messages.close();
        for await (const message of this.messages) {
          attempt = 0;
          if (this.closing) {
            // Delivered but not handled: give it straight back for the next subscriber.
            message.nak();
            continue;
          }
          await this.handle(message);
        }
      } catch (error) {
        if (this.closing) break;
        this.report(error);
      }
      if (!this.closing) await sleep(backoffDelay(attempt++, 500, 10_000), this.abort.signal);
    }
  }

  private async handle(message: JsMsg): Promise<void> {
    let event: RecordedEvent;
    try {
      event = decodeEventMessage(message.data);
    } catch (error) {
      // Not written by the relay: it can never be handled, and must not block the consumer.
      this.report(error);
      message.term();
      return;
    }
    const skip =
      (this.types !== null && !this.types.has(event.type)) || comparePositions(event.position, this.after) <= 0;
    if (!skip) {
      const heartbeat = setInterval(() => message.working(), Math.max(1000, Math.floor(this.ackWaitMs / 3)));
      try {
        await this.options.onEvent(event);
      } catch (error) {
        this.report(error);
        const delay = backoffDelay(
          Math.max(0, message.info.redeliveryCount - 1),
          this.feed.retryDelayMs ?? 1000,
          this.feed.maxRetryDelayMs ?? 30_000,
        );
        message.nak(delay);
        return;
      } finally {
        clearInterval(heartbeat);
      }
      // A redelivery after a lost ack is then skipped instead of handled twice.
      this.after = event.position;
    }
    try {
      await message.ackAck();
    } catch (error) {
      // The server redelivers an event whose ack it did not get; `after` skips it then.
      this.report(error);
    }
  }

  private async ensureConsumer(): Promise<void> {
    const jsm = await this.feed.nc.jetstreamManager();
    const desired: Partial<ConsumerConfig> = {
      durable_name: this.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: 1,
      max_deliver: -1,
      ack_wait: nanos(this.ackWaitMs),
      ...this.filter(),
    };
    let existing: ConsumerConfig | null = null;
    try {
      existing = (await jsm.consumers.info(this.streamName, this.durable)).config;
    } catch (error) {
      if (!isJetStreamNotFound(error) || /stream not found/i.test((error as Error).message)) throw error;
    }
    if (!existing) {
      await jsm.consumers.add(this.streamName, desired);
    } else if (!sameFilter(existing, desired)) {
      // The types changed: a filter updated in place would carry on from the old position and miss
      // earlier events of the new types. Start over instead; `after` skips what was handled.
      this.logger.log(`Recreating consumer '${this.durable}' for its new event types`);
      await jsm.consumers.delete(this.streamName, this.durable);
      await jsm.consumers.add(this.streamName, desired);
    } else if (existing.ack_wait !== desired.ack_wait || existing.max_ack_pending !== desired.max_ack_pending) {
      await jsm.consumers.update(this.streamName, this.durable, {
        ack_wait: desired.ack_wait,
        max_ack_pending: desired.max_ack_pending,
      });
    }
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
    else this.logger.error(`Consumer '${this.durable}': ${error instanceof Error ? error.message : String(error)}`);
  }
}

function sameFilter(existing: ConsumerConfig, desired: Partial<ConsumerConfig>): boolean {
  const have = existing.filter_subjects?.length ? existing.filter_subjects : [existing.filter_subject ?? ''];
  const want = desired.filter_subjects?.length ? desired.filter_subjects : [desired.filter_subject ?? ''];
  return have.length === want.length && want.every((subject) => have.includes(subject));
}

function supportsMultipleFilters(nc: NatsConnection): boolean {
  const [major, minor] = (nc.info?.version ?? '0.0.0').split('.').map((part) => Number.parseInt(part, 10));
  return major > 2 || (major === 2 && minor >= 10);
}
