import { START, type RecordedEvent, type Subscription } from '@schedstack/event-store';
import { describeWithNats } from '@schedstack/testing';
import { encodeEventMessage, subjectForEvent } from './events-stream';
import { consumerDurableName, JetStreamEventFeed } from './jetstream-event-feed';
import { JetStreamTestbed, recordedEvent, RecordingLogger, waitFor, type TestEventsStream } from '../testing/jetstream-fixtures';

describe('consumerDurableName', () => {
  it('replaces characters JetStream does not allow in durable names', () => {
    expect(consumerDurableName('schedules.projection:list *>/x')).toBe('schedules_projection_list____x');
  });
});

describeWithNats('JetStreamEventFeed', () => {
  const bed = new JetStreamTestbed();
  const subscriptions: Subscription[] = [];

  beforeAll(() => bed.connect());
  afterEach(async () => {
    for (const s of subscriptions.splice(0)) await s.close();
  });
  afterAll(() => bed.close());

  async function publish(stream: TestEventsStream, events: readonly RecordedEvent[]): Promise<void> {
    const js = bed.nc.jetstream();
    for (const event of events) {
      const { body, headers } = encodeEventMessage(event);
      await js.publish(subjectForEvent(stream.prefix, event)!, body, { msgID: event.id, headers });
    }
  }

  function feedFor(stream: TestEventsStream, retryDelayMs = 100): JetStreamEventFeed {
    return new JetStreamEventFeed({
      nc: bed.nc,
      streamName: stream.streamName,
      subjectPrefix: stream.prefix,
      retryDelayMs,
      logger: new RecordingLogger(),
    });
  }

  async function collect(
    feed: JetStreamEventFeed,
    options: { consumer: string; types?: string[]; after?: RecordedEvent['position'] },
    onEvent: (event: RecordedEvent) => Promise<void> = async () => undefined,
  ): Promise<RecordedEvent[]> {
    const received: RecordedEvent[] = [];
    const subscription = await feed.subscribe({
      consumer: options.consumer,
      types: options.types,
      after: options.after ?? START,
      onEvent: async (event) => {
        await onEvent(event);
        received.push(event);
      },
      onError: () => undefined,
    });
    subscriptions.push(subscription);
    return received;
  }

  it('delivers every event in stream order, decoded back into the recorded event', async () => {
    const stream = await bed.createStream();
    const events = [
      recordedEvent(1),
      recordedEvent(2, 'delivery.scheduled', 'proj1.sandbox.delivery-d1'),
      recordedEvent(3, 'schedule.canceled'),
      recordedEvent(4, 'delivery.attempted', 'proj2.test.delivery-d2'),
    ];
    await publish(stream, events);
    const received = await collect(feedFor(stream), { consumer: 'schedules.all-events' });
    await waitFor(() => received.length === events.length, 10_000, 'all events');
    expect(received).toEqual(events);
  });

  it('delivers only the requested types, still in order, including events published later', async () => {
    const stream = await bed.createStream();
    const events = [
      recordedEvent(1, 'schedule.created'),
      recordedEvent(2, 'delivery.scheduled'),
      recordedEvent(3, 'schedule.canceled'),
      recordedEvent(4, 'schedule.created'),
    ];
    await publish(stream, events.slice(0, 2));
    const single = await collect(feedFor(stream), { consumer: 'one-type', types: ['schedule.created'] });
    const several = await collect(feedFor(stream), {
      consumer: 'two-types',
      types: ['schedule.created', 'schedule.canceled'],
    });
    await publish(stream, events.slice(2));
    await waitFor(() => single.length === 2 && several.length === 3, 10_000, 'filtered events');
    // Give a wrongly delivered event the chance to show up before asserting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(single.map((e) => e.id)).toEqual([events[0].id, events[3].id]);
    expect(several.map((e) => e.id)).toEqual([events[0].id, events[2].id, events[3].id]);
  });

  it('skips (and acks) events at or before the consumer checkpoint', async () => {
    const stream = await bed.createStream();
    const events = [1, 2, 3, 4].map((n) => recordedEvent(n));
    await publish(stream, events);
    const received = await collect(feedFor(stream), { consumer: 'checkpointed', after: events[1].position });
    await waitFor(() => received.length === 2, 10_000, 'events after the checkpoint');
    expect(received.map((e) => e.id)).toEqual([events[2].id, events[3].id]);
    await waitFor(
      async () => (await bed.jsm.consumers.info(stream.streamName, 'checkpointed')).num_ack_pending === 0,
      5000,
      'all acked',
    );
  });

  it('redelivers a failed event before anything after it', async () => {
    const stream = await bed.createStream();
    const events = [1, 2, 3, 4, 5].map((n) => recordedEvent(n));
    await publish(stream, events);
    const attempts: number[] = [];
    let failed = false;
    const errors: unknown[] = [];
    const received: RecordedEvent[] = [];
    subscriptions.push(
      await feedFor(stream, 150).subscribe({
        consumer: 'flaky',
        after: START,
        onEvent: async (event) => {
          const n = (event.data as { n: number }).n;
          attempts.push(n);
          if (n === 3 && !failed) {
            failed = true;
            throw new Error('transient');
          }
          received.push(event);
        },
        onError: (error) => errors.push(error),
      }),
    );
    await waitFor(() => received.length === 5, 10_000, 'all events');
    expect(attempts).toEqual([1, 2, 3, 3, 4, 5]);
    expect(received.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(errors).toEqual([new Error('transient')]);
  });

  it('resumes a durable consumer after close without re-handling acked events', async () => {
    const stream = await bed.createStream();
    const first = [1, 2, 3].map((n) => recordedEvent(n));
    const second = [4, 5].map((n) => recordedEvent(n));
    await publish(stream, first);
    const feed = feedFor(stream);
    const before = await collect(feed, { consumer: 'durable' });
    await waitFor(() => before.length === 3, 10_000, 'first batch');
    await subscriptions.pop()!.close();

    await publish(stream, second);
    // START as checkpoint: only the consumer's own state can prevent re-handling.
    const after = await collect(feed, { consumer: 'durable' });
    await waitFor(() => after.length === 2, 10_000, 'second batch');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(before.map((e) => e.id)).toEqual(first.map((e) => e.id));
    expect(after.map((e) => e.id)).toEqual(second.map((e) => e.id));
  });

  it('close() waits for the event being handled, which is acked, and the next subscriber continues at once', async () => {
    const stream = await bed.createStream();
    const events = [1, 2, 3].map((n) => recordedEvent(n));
    await publish(stream, events);
    const feed = new JetStreamEventFeed({
      nc: bed.nc,
      streamName: stream.streamName,
      subjectPrefix: stream.prefix,
      ackWaitMs: 30_000,
      logger: new RecordingLogger(),
    });
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => (release = resolve));
    let handling = false;
    const before = await collect(feed, { consumer: 'draining' }, async (event) => {
      if ((event.data as { n: number }).n === 2) {
        handling = true;
        await slow;
      }
    });
    await waitFor(() => handling, 10_000, 'event 2 in the handler');
    const closed = subscriptions.pop()!.close();
    let closeDone = false;
    void closed.then(() => (closeDone = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closeDone).toBe(false);
    release();
    await closed;
    expect(before.map((e) => e.id)).toEqual([events[0].id, events[1].id]);

    // Far less than ack_wait: no delivered-but-unacked event blocks the consumer.
    const started = Date.now();
    const after = await collect(feed, { consumer: 'draining' });
    await waitFor(() => after.length === 1, 5000, 'event 3 after reopening');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(after.map((e) => e.id)).toEqual([events[2].id]);
  });

  it('recreates a consumer whose types changed, so earlier events of the new types are not missed', async () => {
    const stream = await bed.createStream();
    const events = [
      recordedEvent(1, 'schedule.created'),
      recordedEvent(2, 'schedule.canceled'),
      recordedEvent(3, 'schedule.created'),
      recordedEvent(4, 'schedule.canceled'),
    ];
    await publish(stream, events);
    const feed = feedFor(stream);
    const created = await collect(feed, { consumer: 'evolving', types: ['schedule.created'] });
    await waitFor(() => created.length === 2, 10_000, 'created events');
    await subscriptions.pop()!.close();

    const canceled = await collect(feed, { consumer: 'evolving', types: ['schedule.canceled'] });
    await waitFor(() => canceled.length === 2, 10_000, 'canceled events');
    expect(canceled.map((e) => e.id)).toEqual([events[1].id, events[3].id]);
    const info = await bed.jsm.consumers.info(stream.streamName, 'evolving');
    expect(info.config.filter_subject).toBe(`${stream.prefix}.*.*.schedule.canceled`);
    expect(info.config.max_ack_pending).toBe(1);
    expect(info.config.ack_policy).toBe('explicit');
  });

  it('fails to subscribe when the stream does not exist', async () => {
    const { streamName, prefix } = bed.names();
    const feed = new JetStreamEventFeed({ nc: bed.nc, streamName, subjectPrefix: prefix });
    await expect(feed.subscribe({ consumer: 'x', after: START, onEvent: async () => undefined })).rejects.toThrow(
      /stream not found/,
    );
  });
});
